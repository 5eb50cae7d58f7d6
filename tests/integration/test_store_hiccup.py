"""A store hiccup is not a modem failure: the real modem service, with the store client of
production (1 s connect, 2 s read timeouts), under a redis-server that stops answering for a
while (SIGSTOP, then SIGCONT) in the middle of its work."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from config.settings import ModemSettings, RedisSettings, Settings
from gateway.core.messages import Priority, SmsState
from gateway.store.connect import connect, connect_rq
from gateway.store.modems import ModemRegistry
from gateway.store.outbox import Outbox
from hoso.redis_server import RedisServer
from modem.device import Device
from modem.emulator.bank import Bank
from modem.service import ModemService

pytestmark = pytest.mark.timeout(120)

T = TypeVar("T")


def eventually(check: Callable[[], T | None], timeout: float = 40.0, what: str = "it") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def quick_device(settings: ModemSettings) -> Device:
    return Device(settings.port, command_timeout=2.0, send_timeout=5.0)


class Paused:
    """SIGSTOP / SIGCONT of a redis-server; always resumed at the end."""

    def __init__(self, server: RedisServer) -> None:
        assert server.process is not None
        self.pid = server.process.pid
        self.stopped = False

    def stop(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)
        self.stopped = True

    def resume(self) -> None:
        if self.stopped:
            os.kill(self.pid, signal.SIGCONT)
            self.stopped = False


@pytest.fixture
def stack(
    tmp_path: Path, fresh_redis: Callable[[], RedisServer]
) -> Iterator[tuple[Bank, RedisServer, Paused]]:
    server = fresh_redis().start()
    paused = Paused(server)
    settings = Settings(redis=RedisSettings(url=server.url))
    with Bank(tmp_path / "sim", ["m1", "m2"], latency=1.0, status_report_delay=0.3) as bank:
        admin = server.client()
        for modem in bank.ids:
            ModemRegistry(admin).change(
                modem, per_minute=10_000, per_hour=100_000, per_day=1_000_000
            )
        service = ModemService(
            settings,
            connect(settings.redis),
            connect_rq(settings.redis),
            sim_dir=bank.dir,
            make_device=quick_device,
        )
        thread = threading.Thread(target=service.run, daemon=True)
        thread.start()
        try:
            yield bank, server, paused
        finally:
            paused.resume()
            service.stop()
            thread.join(60)


@pytest.mark.slow
def test_a_redis_stall_mid_send_marks_no_modem_down_and_sends_nothing_twice(
    stack: tuple[Bank, RedisServer, Paused], caplog: pytest.LogCaptureFixture
) -> None:
    bank, server, paused = stack
    caplog.set_level(logging.INFO)
    client = server.client()
    registry = ModemRegistry(client)
    eventually(lambda: all(registry.health(m).get("state") == "up" for m in bank.ids), what="up")
    before = {m: registry.health(m)["reconnects"] for m in bank.ids}
    outbox = Outbox(client)
    now = int(time.time() * 1000)
    ids = [
        outbox.enqueue(f"+8490500000{n}", f"Thong bao {n}", Priority.NOTIFICATION, now)
        for n in range(6)
    ]

    def submitting() -> bool:
        return any((s := outbox.get(i)) is not None and s.state is SmsState.SUBMITTING for i in ids)

    eventually(submitting, what="a part being handed to a modem")
    paused.stop()  # the modem answers +CMGS while the store does not answer

    def met_the_stall() -> bool:  # whatever the service makes of it, it has run into it
        return any(
            r.name.startswith("modem.") and "imeout" in r.getMessage() for r in caplog.records
        )

    eventually(met_the_stall, what="the service meeting the stall")
    paused.resume()

    def all_sent() -> bool:
        return all(
            (s := outbox.get(i)) is not None and s.state in (SmsState.SUBMITTED, SmsState.DELIVERED)
            for i in ids
        )

    eventually(all_sent, what="every SMS sent after the stall")
    assert sorted(s.to for s in bank.sent()) == sorted(f"+8490500000{n}" for n in range(6))
    for modem in bank.ids:
        health = eventually(lambda m=modem: registry.health(m) or None, what="health")  # type: ignore[misc]
        assert health["state"] == "up"
        assert health["reconnects"] == before[modem]  # the device was kept
        assert "Timeout" not in health["last_error"]
        assert "internal" not in health["last_error"]
    owner_records = [r for r in caplog.records if r.name.startswith("modem.")]
    assert not [r for r in owner_records if r.exc_info]  # no traceback
    assert not [r for r in owner_records if r.getMessage().startswith("modem.down")]
    assert not [r for r in owner_records if r.getMessage().startswith("modem.loop_error")]
