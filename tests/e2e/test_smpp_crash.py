"""`hoso smpp` as systemd runs it, killed with SIGKILL in the middle of 1,000 submits and started
again: every SMS reaches the SMSC and is delivered, and the SMSC's ledger shows at most one copy
too many per submit that was in flight (the window)."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.core.messages import Priority, SmsState
from gateway.store.links import LinkRegistry
from gateway.store.outbox import Outbox
from hoso.redis_server import RedisServer
from tests.conftest import REDIS_SERVER
from tests.smsc.harness import Smsc, submits

COUNT = 1000
WINDOW = 10


def config(home: Path, smsc: Smsc) -> Path:
    secret = home / "smpp-brand.password"
    secret.write_text("s3cret\n", encoding="utf-8")
    secret.chmod(0o600)
    path = home / "hoso.toml"
    path.write_text(
        f"""
[security]
master_key_file = "{home / "master.key"}"

[[smpp]]
id = "brand"
host = "127.0.0.1"
port = {smsc.port}
system_id = "hoso"
password_file = "{secret}"
source = "UBND BADINH"
tps = 2000
window = {WINDOW}
response_timeout = 5
in_doubt_wait = 5
reconnect_max = 2
""",
        encoding="utf-8",
    )
    return path


def start_link(home: Path, path: Path, server: RedisServer, name: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ) | {"HOSO_CONFIG": str(path), "HOSO_REDIS_URL": server.url}
    with (home / f"{name}.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "hoso.cli", "smpp", "--link", "brand"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def wait_for(check: collections.abc.Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.slow
def test_kill_9_during_a_thousand_submits_loses_nothing_and_duplicates_at_most_the_window(
    tmp_path: Path,
) -> None:
    server = RedisServer(tmp_path / "redis", binary=REDIS_SERVER).start()
    smsc = Smsc(tmp_path / "smsc", {"hoso": "s3cret"}).start()
    first = second = None
    try:
        client = server.client()
        outbox = Outbox(client)
        numbers = [f"+849{i:08d}" for i in range(COUNT)]
        now = int(time.time() * 1000)
        ids = [
            outbox.enqueue(
                to,
                f"Ho so {i:04d} da duoc tiep nhan",
                Priority.NOTIFICATION,
                now + i,
                via="brand",
                kind="notice",
            )
            for i, to in enumerate(numbers)
        ]
        path = config(tmp_path, smsc)
        first = start_link(tmp_path, path, server, "first")
        wait_for(lambda: len(submits(smsc.ledger())) >= COUNT // 3, 60, "a third submitted")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        at_kill = len(submits(smsc.ledger()))
        assert at_kill < COUNT  # killed in the middle, not after the end

        second = start_link(tmp_path, path, server, "second")

        def all_delivered() -> bool:
            pipe = client.pipeline(transaction=False)
            for sms_id in ids:
                pipe.hget(f"hoso:sms:{sms_id}", "state")
            return all(s == SmsState.DELIVERED.value for s in pipe.execute())

        wait_for(all_delivered, 120, "all 1,000 delivered")
        copies = collections.Counter(e["destination_addr"] for e in submits(smsc.ledger()))
        assert set(copies) == {n.removeprefix("+") for n in numbers}  # none lost
        duplicates = sum(n - 1 for n in copies.values())
        counters = LinkRegistry(client).counters("brand")
        print(
            f"killed after {at_kill} accepted submits; duplicates {duplicates}; "
            f"resolved by receipt {counters.get('resolved', 0)}, "
            f"sent again {counters.get('resent', 0)}"
        )
        assert duplicates <= WINDOW
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(60)
        smsc.stop()
        server.stop()
