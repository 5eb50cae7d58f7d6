"""Send caps that slide, and replies that do not wait long for a busy modem: a real Redis, and
the real modem service over emulated modems for the whole story."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
import redis

from config.settings import ModemSettings, PoolSettings, Settings
from gateway.core.messages import Priority, SmsState
from gateway.core.send_caps import Caps, under_caps
from gateway.store.caps import SendCaps
from gateway.store.modems import ModemRegistry
from gateway.store.outbox import Outbox
from hoso.redis_server import RedisServer
from modem.device import Device
from modem.emulator.bank import Bank
from modem.service import ModemService

pytestmark = pytest.mark.timeout(90)

T = TypeVar("T")
SIX = Caps(per_minute=6, per_hour=200, per_day=300)
T0 = 1_800_000_000_000  # ms


def eventually(check: Callable[[], T | None], timeout: float = 30.0, what: str = "it") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_the_minute_cap_slides_over_the_last_60_seconds(redis_client: redis.Redis) -> None:
    """Six parts in the last second of 10:00 used to let six more out at 10:01:00."""
    registry = ModemRegistry(redis_client)
    caps = SendCaps(registry)
    first = datetime(2026, 11, 27, 3, 0, 59, tzinfo=UTC)  # 10:00:59 in Vietnam
    for n in range(6):
        at = first + timedelta(milliseconds=100 * n)
        registry.count_sent("m1", at)
        caps.count("m1", at)
    # 10:01:01: still 6 in 60 s
    assert not under_caps(caps.sent("m1", first + timedelta(seconds=2)), SIX)
    assert not under_caps(caps.sent("m1", first + timedelta(seconds=59, milliseconds=900)), SIX)
    # one left
    assert under_caps(caps.sent("m1", first + timedelta(seconds=60, milliseconds=50)), SIX)
    assert under_caps(caps.sent("m2", first), SIX)  # each SIM its own


def test_the_hour_slides_and_the_day_is_vietnam_s_calendar_day(redis_client: redis.Redis) -> None:
    registry = ModemRegistry(redis_client)
    caps = SendCaps(registry)
    start = datetime(2026, 11, 27, 16, 30, tzinfo=UTC)  # 23:30 in Vietnam
    for n in range(4):
        at = start + timedelta(minutes=5 * n)
        registry.count_sent("m1", at)
        caps.count("m1", at)
    hourly = Caps(per_minute=6, per_hour=4, per_day=300)
    assert not under_caps(caps.sent("m1", start + timedelta(minutes=59)), hourly)
    assert under_caps(caps.sent("m1", start + timedelta(minutes=60, seconds=1)), hourly)
    daily = Caps(per_minute=6, per_hour=200, per_day=2)
    assert not under_caps(caps.sent("m1", start + timedelta(minutes=29)), daily)  # 23:59: 4 today
    assert under_caps(caps.sent("m1", start + timedelta(minutes=31)), daily)  # 00:01 the next day


def test_a_reply_left_waiting_for_its_modem_leaves_from_another_of_the_same_carrier(
    redis_client: redis.Redis,
) -> None:
    outbox = Outbox(redis_client)
    first = outbox.enqueue("+84901000001", "tra loi 1", Priority.REPLY, T0, via="m1")
    taken = outbox.claim("m1", "viettel", T0, reply_wait_ms=5000)  # m1 is on Viettel
    assert taken is not None
    assert taken.id == first
    waiting = outbox.enqueue("+84901000002", "tra loi 2", Priority.REPLY, T0, via="m1")
    assert outbox.claim("m2", "viettel", T0 + 4000, reply_wait_ms=5000) is None  # not yet
    assert outbox.claim("m3", "vinaphone", T0 + 6000, reply_wait_ms=5000) is None  # other carrier
    assert outbox.claim("m2", "viettel", T0 + 6000, reply_wait_ms=None) is None  # no reply wait
    spilled = outbox.claim("m2", "viettel", T0 + 6000, reply_wait_ms=5000)
    assert spilled is not None
    assert spilled.id == waiting
    assert (spilled.modem, spilled.via) == ("m2", "m1")
    assert (spilled.fields["spilled_from"], spilled.fields["reply_wait_ms"]) == ("m1", "5000")
    assert taken.fields["reply_wait_ms"] == "5000"  # recorded also when its own modem sent it
    claimed = [e for e in outbox.attempts(waiting) if e["event"] == "claimed"]
    assert (claimed[0]["modem"], claimed[0]["from"]) == ("m2", "m1")


@pytest.mark.slow
def test_the_seventh_citizen_of_a_minute_is_answered_by_another_viettel_modem_after_the_wait(
    tmp_path: Path, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """m1 may send 2 parts a minute; 5 citizens text it. After the office's reply wait (1 s
    here), m2, also on Viettel, answers the ones m1 cannot; m3 (VinaPhone) never does."""
    with Bank(tmp_path / "sim", ["m1", "m2", "m3"], status_report_delay=None) as bank:
        bank.set_operator("m3", "Vinaphone", "VINAPHONE", "45202")
        registry = ModemRegistry(redis_client)
        for modem in bank.ids:
            registry.change(modem, per_minute=10_000, per_hour=100_000, per_day=1_000_000)
        registry.change("m1", per_minute=2, per_hour=2)

        def device(settings: ModemSettings) -> Device:
            return Device(settings.port, command_timeout=2.0, send_timeout=3.0)

        service = ModemService(
            Settings(pool=PoolSettings(reply_wait_seconds=1, balance_every_minutes=0)),
            redis_server.client(),
            redis.Redis(unix_socket_path=str(redis_server.socket)),
            sim_dir=bank.dir,
            make_device=device,
        )
        thread = threading.Thread(target=service.run, daemon=True)
        thread.start()
        try:
            eventually(
                lambda: all(registry.health(m).get("state") == "up" for m in bank.ids), what="up"
            )
            outbox = Outbox(redis_client)
            now = int(time.time() * 1000)
            ids = [
                outbox.enqueue(f"+8490400000{n}", f"tra loi {n}", Priority.REPLY, now, via="m1")
                for n in range(5)
            ]

            def sent() -> bool:
                return all(
                    (s := outbox.get(i)) is not None and s.state is SmsState.SUBMITTED for i in ids
                )

            eventually(sent, what="five replies sent")
            by_modem = [s.modem for s in bank.sent()]
            assert by_modem.count("m1") <= 2  # its cap
            assert by_modem.count("m2") >= 3
            assert by_modem.count("m3") == 0  # VinaPhone: never
            for sid in ids:
                sms = outbox.get(sid)
                assert sms is not None
                assert sms.fields["reply_wait_ms"] == "1000"
                assert sms.fields.get("spilled_from", "m1") == "m1"
                assert ("spilled_from" in sms.fields) == (sms.modem == "m2")
        finally:
            service.stop()
            thread.join(30)
