"""A citizen texts the office and gets the truth back: the emulator, the modem service and an RQ
worker as separate processes, a real Redis; the answer is read from the emulator's ledger."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.core.events import parse_status_changed
from gateway.core.times import VIETNAM
from gateway.store.dossiers import DossierStore
from gateway.store.modems import ModemRegistry
from hoso.redis_server import RedisServer
from tests.factories import event_body, registration


def upcoming(now: datetime) -> dict[str, str]:
    """Received now, due in ten days: neither overdue nor due soon while the test runs."""
    return {"received_at": now.isoformat(), "due_at": (now + timedelta(days=10)).isoformat()}


@dataclass
class System:
    redis: RedisServer
    store: DossierStore
    sim: Path
    env: dict[str, str]
    code: str
    due: str  # the dossier's appointment date as a citizen reads it

    def text(self, sender: str, message: str, modem: str = "m1") -> None:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "hoso.cli",
                "sim",
                "sms",
                "--dir",
                str(self.sim),
                "--modem",
                modem,
                "--from",
                sender,
                message,
            ],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr

    def replies_to(
        self, number: str, count: int = 1, timeout: float = 30
    ) -> list[dict[str, object]]:
        deadline = time.monotonic() + timeout
        while True:
            path = self.sim / "ledger.jsonl"
            records = (
                [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x]
                if path.exists()
                else []
            )
            mine = [r for r in records if r["kind"] == "message" and r["to"] == number]
            if len(mine) >= count:
                return mine
            assert time.monotonic() < deadline, f"no reply to {number}"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    home = tmp_path_factory.mktemp("citizen")
    server = RedisServer(home / "redis").start()
    sim = home / "sim"
    env = dict(os.environ) | {
        "HOSO_REDIS_URL": server.url,
        "HOSO_CONFIG": str(home / "empty.toml"),
        "HOSO_SMS_COALESCE_SECONDS": "1",
        "HOSO_SMS_QUIET_START": "00:00",  # no quiet hours: the test may run at any hour
        "HOSO_SMS_QUIET_END": "00:00",
    }
    (home / "empty.toml").write_text("", encoding="utf-8")
    client = server.client()
    now = datetime.now(UTC)
    store = DossierStore(client)
    d = store.register(
        registration(77, phones=["0901234567"], **upcoming(now)), "tuphap", now
    ).dossier
    store.apply(
        d.code,
        parse_status_changed(
            event_body("e1", 4, desk="Phòng Tư pháp", at=(now + timedelta(seconds=1)).isoformat()),
            "tuphap",
        ),
        "tuphap",
        now,
    )
    registry = ModemRegistry(client)
    for modem in ("m1", "m2"):
        registry.change(modem, per_minute=1000, per_hour=10_000, per_day=100_000)
    log = (home / "processes.log").open("ab")
    commands = [
        [
            "sim",
            "start",
            "--modems",
            "2",
            "--dir",
            str(sim),
            "--fresh",
            "--status-report-delay",
            "0.5",
        ],
        ["modem", "--sim-dir", str(sim)],
        ["worker"],
        ["cron"],
    ]
    processes = [
        subprocess.Popen([sys.executable, "-m", "hoso.cli", *c], env=env, stdout=log, stderr=log)
        for c in commands
    ]
    try:
        deadline = time.monotonic() + 30
        while not all(registry.health(m).get("state") == "up" for m in ("m1", "m2")):
            assert time.monotonic() < deadline, "modems did not come up"
            time.sleep(0.1)
        system = System(
            server, store, sim, env, d.code, d.due_at.astimezone(VIETNAM).strftime("%d/%m/%Y")
        )
        # Registered, then taken up at once: the citizen is still told the lookup code.
        [received] = system.replies_to("+84901234567", timeout=60)
        assert str(received["text"]).startswith(f"Bo phan mot cua da tiep nhan ho so {d.code}.")
        yield system
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()
        server.stop()


def test_hs_and_the_code_is_answered_with_the_status(system: System) -> None:
    system.text("0901234567", f"hs {system.code.lower()}")
    [_received, reply] = system.replies_to("+84901234567", count=2)
    assert reply["modem"] == "m1"  # answered from the number the citizen wrote to
    assert reply["text"] == (
        f"Ho so {system.code}: Dang xu ly. Dang o: Phong Tu phap. Hen tra: {system.due}."
    )


def test_a_vietnamese_ucs2_query_is_understood(system: System) -> None:
    system.text("0912000001", f"Tra cứu hồ sơ {system.code} giúp tôi với ạ", modem="m2")
    [reply] = system.replies_to("+84912000001")
    assert reply["modem"] == "m2"
    assert reply["text"] == (  # a stranger: exactly the reply to an unknown code
        "Khong tra cuu duoc ho so. Vui long kiem tra ma ho so va gui kem ma bi mat in tren "
        "giay bien nhan: HS <ma ho so> <ma bi mat>."
    )


def test_a_multipart_query_is_reassembled_and_answered(system: System) -> None:
    long = (
        "Kính gửi bộ phận một cửa, tôi đã nộp hồ sơ từ tuần trước và muốn hỏi tình trạng. "
        f"Mã hồ sơ của tôi là {system.code}. Xin cảm ơn rất nhiều ạ!"
    )
    assert len(long) > 70  # more than one UCS-2 part
    system.text("0901234567", long)
    replies = system.replies_to("+84901234567", count=3)
    assert "Phong Tu phap" in str(replies[-1]["text"])


def test_a_status_change_reaches_the_registered_phone_as_one_notification(system: System) -> None:
    now = datetime.now(UTC)
    d = system.store.register(
        registration(78, phones=["0933000001"], **upcoming(now)), "tuphap", now
    ).dossier
    for i, status in enumerate((4, 9)):
        event = parse_status_changed(
            event_body(
                f"n{i}",
                status,
                desk="Bộ phận trả kết quả",
                at=(now + timedelta(seconds=1 + i)).isoformat(),
            ),
            "tuphap",
        )
        system.store.apply(d.code, event, "tuphap", now)
    [notice] = system.replies_to("+84933000001", timeout=60)
    text = str(notice["text"])
    assert d.code in text
    assert "ket qua" in text  # result ready: the latest state, in one SMS
    time.sleep(7)  # a cron tick later: still one
    assert len(system.replies_to("+84933000001")) == 1
