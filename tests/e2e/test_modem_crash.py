"""kill -9 of the modem service in the middle of sending, with every part a real process: the
emulator (`hoso sim start`), the modem service (`hoso modem --sim-dir`) and redis-server.
Afterwards no message is lost; with status reports none is sent twice (a part in doubt is settled
by its report), without them at most one is sent twice per message that was in flight (counted
on the emulator's ledger). bench/modem_kills.py measures the same over many kills."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.core.messages import Priority, SmsState
from gateway.store.modems import ModemRegistry
from gateway.store.outbox import Outbox
from hoso.redis_server import RedisServer
from tests.conftest import REDIS_SERVER

MODEMS = 2


def ledger(sim: Path) -> list[dict[str, object]]:
    path = sim / "ledger.jsonl"
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [r for r in records if r["kind"] == "message"]


@pytest.fixture(params=["0.2", "none"], ids=["with-status-reports", "without-status-reports"])
def processes(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[RedisServer, Path, dict[str, str]]]:
    """With status reports an unknown fate is settled by the report; without, by one resend."""
    server = RedisServer(tmp_path / "redis", binary=REDIS_SERVER).start()
    sim = tmp_path / "sim"
    env = dict(os.environ) | {
        "HOSO_REDIS_URL": server.url,
        "HOSO_CONFIG": str(tmp_path / "empty.toml"),
        # a part in doubt waits this long for its report: long enough for the emulator's
        # 0.2 s reports under load, short for the test without reports
        "HOSO_POOL_REPORT_WAIT_SECONDS": "5",
        "HOSO_TEST_REPORTS": "0" if request.param == "none" else "1",
    }
    (tmp_path / "empty.toml").write_text("", encoding="utf-8")
    log = (tmp_path / "sim.log").open("wb")
    emulator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hoso.cli",
            "sim",
            "start",
            "--modems",
            str(MODEMS),
            "--dir",
            str(sim),
            "--latency",
            "0.25",
            "--fresh",
            "--status-report-delay",
            request.param,
        ],
        env=env,
        stdout=log,
        stderr=log,
    )
    deadline = time.monotonic() + 20
    while not all((sim / f"m{i}").is_symlink() for i in range(1, MODEMS + 1)):
        assert time.monotonic() < deadline, "emulator did not start"
        time.sleep(0.05)
    try:
        yield server, sim, env
    finally:
        emulator.terminate()
        emulator.wait(15)
        log.close()
        server.stop()


def start_service(env: dict[str, str], sim: Path, log: Path) -> subprocess.Popen[bytes]:
    out = log.open("ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "hoso.cli", "modem", "--sim-dir", str(sim)],
            env=env,
            stdout=out,
            stderr=out,
        )
    finally:
        out.close()


KILLS = 3


def test_kill_9_of_the_modem_service_mid_send_loses_nothing_and_duplicates_at_most_in_flight(
    processes: tuple[RedisServer, Path, dict[str, str]], tmp_path: Path
) -> None:
    """Three kills, each while a part is being handed to a modem. With status reports every part
    left in doubt is settled by its report (or, never sent, sent after the wait): no SMS reaches
    a citizen twice. Without, each part in doubt is sent again once: at most one duplicate per
    SMS in flight."""
    server, sim, env = processes
    reports = env["HOSO_TEST_REPORTS"] == "1"
    client = server.client()
    registry = ModemRegistry(client)
    for i in range(1, MODEMS + 1):
        registry.change(f"m{i}", per_minute=10_000, per_hour=100_000, per_day=1_000_000)
    outbox = Outbox(client)
    now = int(time.time() * 1000)
    texts = {}
    for i in range(40):
        to = f"+849090{i:05d}"
        # every third message is long: two parts, so a kill can fall between parts
        texts[to] = f"Thong bao {i}: " + (
            "ho so da duoc tiep nhan. " * 8 if i % 3 == 0 else "da xong."
        )
    ids = {to: outbox.enqueue(to, text, Priority.NOTIFICATION, now) for to, text in texts.items()}

    def submitting() -> bool:
        return any(
            (sms := outbox.get(sid)) is not None and sms.state is SmsState.SUBMITTING
            for sid in ids.values()
        )

    def unsettled() -> list[str]:
        return [
            sid
            for sid in ids.values()
            if (sms := outbox.get(sid)) and sms.state in (SmsState.CLAIMED, SmsState.SUBMITTING)
        ]

    in_flight: set[str] = set()
    for kill in range(KILLS):
        service = start_service(env, sim, tmp_path / "modem.log")
        deadline = time.monotonic() + 60
        # Kill while a part is being handed to a modem: its fate is then unknown to the service.
        try:
            while len(ledger(sim)) < 6 * (kill + 1) or not submitting():
                assert time.monotonic() < deadline, "no part was caught while being submitted"
                time.sleep(0.005)
        except BaseException:
            service.kill()  # never leave the service running behind a failed test
            service.wait()
            raise
        in_flight |= set(unsettled())
        os.kill(service.pid, signal.SIGKILL)
        service.wait()
        in_flight |= set(unsettled())  # claimed between our look and the kill

    service = start_service(env, sim, tmp_path / "modem.log")
    try:
        deadline = time.monotonic() + 150

        def done() -> bool:
            return all(
                (sms := outbox.get(sid)) is not None
                and sms.state in (SmsState.SUBMITTED, SmsState.DELIVERED)
                for sid in ids.values()
            )

        while not done():
            assert time.monotonic() < deadline, "not every message was sent after the restart"
            time.sleep(0.1)
    finally:
        service.terminate()
        service.wait(30)

    sent = ledger(sim)
    counts = Counter(str(r["to"]) for r in sent)
    assert set(counts) == set(texts), "every message went out"
    for record in sent:
        assert record["text"] == texts[str(record["to"])]
    twice = {to: n for to, n in counts.items() if n > 1}
    settled = Counter(
        entry.get("how")
        for sid in ids.values()
        for entry in outbox.attempts(sid)
        if entry["event"] == "submitted" and entry.get("how") != "+CMGS"
    )
    print(f"in flight at the kills: {len(in_flight)}; settled: {dict(settled)}; twice: {twice}")
    if reports:
        assert twice == {}
    else:
        assert all(n == 2 for n in twice.values()), twice
        assert len(twice) <= len(in_flight), (twice, in_flight)
