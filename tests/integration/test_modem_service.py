"""The modem service in-process: owner threads driving emulated modems over ptys through the real
python-gsmmodem-new stack, with a real Redis and RQ queue."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest
import redis
from rq import Queue

from config.settings import ModemSettings, Settings
from gateway.core.messages import Priority, SmsState
from gateway.store import keys
from gateway.store.inbox import Inbox
from gateway.store.modems import ModemRegistry
from gateway.store.outbox import Outbox
from gateway.store.queues import INBOUND_QUEUE
from hoso.redis_server import RedisServer
from modem.device import Device
from modem.emulator.bank import Bank
from modem.emulator.state import DeviceConfig
from modem.emulator.state import SimState as EmulatedSim
from modem.service import ModemService

T = TypeVar("T")
HIGH_CAPS = {"per_minute": 10_000, "per_hour": 100_000, "per_day": 1_000_000}


def eventually(check: Callable[[], T], timeout: float = 15.0, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def quick_device(settings: ModemSettings) -> Device:
    return Device(
        settings.port, settings.baudrate, settings.pin, command_timeout=2.0, send_timeout=3.0
    )


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def bank(tmp_path: Path) -> Iterator[Bank]:
    with Bank(tmp_path / "sim", ["m1", "m2"], status_report_delay=0.2, fresh_ledger=True) as b:
        yield b


@pytest.fixture
def service(
    bank: Bank, redis_server: RedisServer, redis_client: redis.Redis
) -> Iterator[ModemService]:
    registry = ModemRegistry(redis_client)
    for modem in bank.ids:
        registry.change(modem, **HIGH_CAPS)
    svc = ModemService(
        Settings(),
        redis_server.client(),
        redis.Redis(unix_socket_path=str(redis_server.socket)),
        sim_dir=bank.dir,
        make_device=quick_device,
        failover_after=3.0,
    )
    thread = threading.Thread(target=svc.run, daemon=True)
    thread.start()
    yield svc
    svc.stop()
    thread.join(30)


def health(redis_client: redis.Redis, modem: str) -> dict[str, str]:
    return ModemRegistry(redis_client).health(modem)


def state_of(outbox: Outbox, sms_id: str) -> SmsState | None:
    sms = outbox.get(sms_id)
    return None if sms is None else sms.state


def delivered(outbox: Outbox, sms_id: str) -> bool:
    return state_of(outbox, sms_id) is SmsState.DELIVERED


def sent_or_delivered(outbox: Outbox, sms_id: str) -> bool:
    return state_of(outbox, sms_id) in (SmsState.SUBMITTED, SmsState.DELIVERED)


def turn_after(redis_client: redis.Redis, modem: str, since: datetime) -> datetime:
    """When `modem`'s owner first published its health after `since` (once a turn, at most
    every HEALTH_SECONDS)."""

    def published() -> datetime | None:
        at = health(redis_client, modem).get("updated_at")
        return datetime.fromisoformat(at) if at and datetime.fromisoformat(at) > since else None

    found = eventually(published, timeout=30, what=f"a turn of {modem}")
    assert found is not None
    return found


def off_network(redis_client: redis.Redis, modem: str) -> bool:
    return health(redis_client, modem).get("registered") == "0"


def is_up(redis_client: redis.Redis, modem: str) -> bool:
    return health(redis_client, modem).get("state") == "up"


def test_both_modems_come_up_and_publish_health(
    service: ModemService, redis_client: redis.Redis
) -> None:
    for modem in ("m1", "m2"):
        eventually(functools.partial(is_up, redis_client, modem), what=f"{modem} up")
        h = health(redis_client, modem)
        assert h["registered"] == "1"
        assert h["sim"] == "READY"
        assert h["signal_dbm"]


def test_an_incoming_sms_is_persisted_handed_to_the_workers_and_removed_from_the_sim(
    bank: Bank, service: ModemService, redis_client: redis.Redis, redis_server: RedisServer
) -> None:
    eventually(lambda: is_up(redis_client, "m1"), what="m1 up")
    bank.inject_sms("m1", "0901234567", "hs 000.00.20.H57-240423-0001 K7M2QX4A")
    bank.inject_sms(
        "m1", "0987654321", "Tra cứu hồ sơ của tôi đã xong chưa? " * 6
    )  # multipart UCS-2
    queue = Queue(INBOUND_QUEUE, connection=redis.Redis(unix_socket_path=str(redis_server.socket)))
    eventually(lambda: queue.count == 2, what="two jobs")
    inbox = Inbox(redis_client)
    messages = [inbox.get(job.args[0]) for job in queue.jobs]
    texts = sorted(m.text for m in messages if m)
    assert texts == sorted(
        ["hs 000.00.20.H57-240423-0001 K7M2QX4A", "Tra cứu hồ sơ của tôi đã xong chưa? " * 6]
    )
    assert {m.sender for m in messages if m} == {"+84901234567", "+84987654321"}
    # The job is queued before the message leaves the pending list (never the other way: a
    # crash between the two must not lose it), so the list empties a moment after.
    eventually(lambda: inbox.pending() == [], what="nothing left pending")
    storage = bank.device("m1").storage
    eventually(lambda: all(m.used == 0 for m in storage.memories.values()), what="an empty SIM")


def test_queued_sms_go_out_over_the_air_and_are_delivered(
    bank: Bank, service: ModemService, redis_client: redis.Redis
) -> None:
    outbox = Outbox(redis_client)
    texts = {
        "+84901000001": "Ho so 000.00.20.H57-240423-0001: Da xu ly xong. Moi den nhan ket qua.",
        "+84901000002": "Hồ sơ của ông/bà đã được tiếp nhận. Cảm ơn 🙏",
        "+84901000003": "Thong bao: " + "ho so can bo sung giay to. " * 12,
    }
    ids = {
        to: outbox.enqueue(to, text, Priority.NOTIFICATION, now_ms()) for to, text in texts.items()
    }
    eventually(lambda: len(bank.sent()) == 3, what="three messages on the air")
    sent = {s.to: s for s in bank.sent()}
    for to, text in texts.items():
        assert sent[to].text == text
    assert sent["+84901000003"].parts > 1
    for to, sid in ids.items():
        eventually(functools.partial(delivered, outbox, sid), what=f"{to} delivered")


def test_a_reply_leaves_through_the_modem_the_citizen_wrote_to(
    bank: Bank, service: ModemService, redis_client: redis.Redis
) -> None:
    outbox = Outbox(redis_client)
    for i in range(6):
        outbox.enqueue(f"+8490200000{i}", f"reply {i}", Priority.REPLY, now_ms(), via="m2")
    eventually(lambda: len(bank.sent()) == 6, what="six replies")
    assert {s.modem for s in bank.sent()} == {"m2"}


@pytest.mark.slow
def test_a_disabled_modem_is_no_longer_used_and_its_replies_move(
    bank: Bank, service: ModemService, redis_client: redis.Redis
) -> None:
    eventually(lambda: is_up(redis_client, "m1"), what="m1 up")
    registry = ModemRegistry(redis_client)
    registry.change("m1", enabled=False)
    eventually(lambda: health(redis_client, "m1").get("state") == "disabled", what="m1 disabled")
    outbox = Outbox(redis_client)
    for i in range(4):
        outbox.enqueue(f"+8490300000{i}", f"n {i}", Priority.NOTIFICATION, now_ms())
    outbox.enqueue("+84903000009", "pinned to m1", Priority.REPLY, now_ms(), via="m1")
    eventually(lambda: len(bank.sent()) == 5, what="five messages")
    assert {s.modem for s in bank.sent()} == {"m2"}
    registry.change("m1", enabled=True)
    eventually(lambda: health(redis_client, "m1").get("state") == "up", what="m1 back")


@pytest.mark.slow
def test_an_unplugged_modem_comes_back_by_itself_after_replug(
    bank: Bank, service: ModemService, redis_client: redis.Redis
) -> None:
    eventually(lambda: is_up(redis_client, "m1"), what="m1 up")
    bank.unplug("m1")
    eventually(
        lambda: health(redis_client, "m1").get("state") == "down", timeout=20, what="m1 down"
    )
    bank.replug("m1")
    eventually(
        lambda: health(redis_client, "m1").get("state") == "up", timeout=30, what="m1 up again"
    )
    outbox = Outbox(redis_client)
    sid = outbox.enqueue("+84904000001", "after replug", Priority.REPLY, now_ms(), via="m1")
    eventually(lambda: sent_or_delivered(outbox, sid), what="sent")
    assert bank.sent()[-1].modem == "m1"


@pytest.mark.slow
def test_a_burst_of_quarantine_errors_quarantines_the_sim_and_others_take_over(
    bank: Bank, service: ModemService, redis_client: redis.Redis
) -> None:
    eventually(lambda: is_up(redis_client, "m1"), what="m1 up")
    bank.fail_sends("m1", 1.0, codes=(21,))
    bank.fail_sends("m2", 0.0)
    registry = ModemRegistry(redis_client)
    outbox = Outbox(redis_client)
    ids = [
        outbox.enqueue(f"+8490500000{i}", f"q {i}", Priority.REPLY, now_ms(), via="m1")
        for i in range(4)
    ]
    eventually(lambda: registry.quarantined("m1"), what="m1 quarantined")
    for sid in ids:
        eventually(functools.partial(sent_or_delivered, outbox, sid), what=f"{sid} elsewhere")
    assert {s.modem for s in bank.sent()} == {"m2"}


@pytest.mark.slow
def test_network_loss_pauses_sending_until_registration_returns(
    bank: Bank, service: ModemService, redis_client: redis.Redis
) -> None:
    eventually(lambda: is_up(redis_client, "m1"), what="m1 up")
    bank.lose_network("m1", True)
    bank.lose_network("m2", True)
    for modem in ("m1", "m2"):  # each owner has seen it
        eventually(functools.partial(off_network, redis_client, modem), what=f"{modem} off")
    outbox = Outbox(redis_client)
    sid = outbox.enqueue(
        "+84906000001", "after the network is back", Priority.REPLY, now_ms(), via="m1"
    )
    # Off the network m1 hands it to the shared queue (after failover_after); then each owner
    # takes two turns (a turn publishes the health, then may send): neither sent it.
    eventually(lambda: outbox.depth("m1") == 0 and outbox.depth() == 1, what="m1 letting go")
    since = datetime.now(UTC)
    for modem in ("m1", "m2"):
        turn_after(redis_client, modem, turn_after(redis_client, modem, since))
    assert bank.sent() == []
    assert state_of(outbox, sid) == SmsState.QUEUED
    bank.lose_network("m1", False)
    bank.lose_network("m2", False)
    eventually(
        lambda: sent_or_delivered(outbox, sid),
        timeout=30,
        what="sent after the network returned",
    )


@pytest.mark.slow
def test_a_reply_pinned_to_a_modem_off_the_network_leaves_through_another(
    bank: Bank, service: ModemService, redis_client: redis.Redis
) -> None:
    for modem in ("m1", "m2"):
        eventually(functools.partial(is_up, redis_client, modem), what=f"{modem} up")
    bank.lose_network("m1", True)
    eventually(lambda: health(redis_client, "m1").get("unregistered_since"), what="m1 off")
    outbox = Outbox(redis_client)
    sid = outbox.enqueue("+84906000002", "m1 has no network", Priority.REPLY, now_ms(), via="m1")
    eventually(lambda: sent_or_delivered(outbox, sid), timeout=30, what="sent through m2")
    assert [(s.modem, s.text) for s in bank.sent()] == [("m2", "m1 has no network")]
    assert (
        health(redis_client, "m1")["state"] == "up"
    )  # the modem answers; only the network is gone


@pytest.mark.slow
def test_a_hung_modem_is_detected_marked_down_and_reinitialised_when_it_answers_again(
    bank: Bank, service: ModemService, redis_client: redis.Redis
) -> None:
    eventually(lambda: is_up(redis_client, "m1"), what="m1 up")
    bank.hang("m1", True)
    outbox = Outbox(redis_client)
    sid = outbox.enqueue("+84907000001", "while m1 hangs", Priority.REPLY, now_ms(), via="m1")
    # Its next command goes unanswered (2 s); a loaded machine may take much longer to get there.
    eventually(lambda: health(redis_client, "m1").get("state") == "down", timeout=60, what="down")
    # m1 stays down past the failover delay: its pinned reply leaves through m2
    eventually(functools.partial(sent_or_delivered, outbox, sid), timeout=30, what="failover")
    assert [s.modem for s in bank.sent()] == ["m2"]
    bank.hang("m1", False)
    eventually(lambda: is_up(redis_client, "m1"), timeout=30, what="m1 re-initialised")


@pytest.mark.slow
def test_two_modem_services_share_one_redis_without_sending_anything_twice(
    bank: Bank, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    registry = ModemRegistry(redis_client)
    for modem in bank.ids:
        registry.change(modem, **HIGH_CAPS)
    services = [
        ModemService(
            Settings(),
            redis_server.client(),
            redis.Redis(unix_socket_path=str(redis_server.socket)),
            sim_dir=bank.dir,
            make_device=quick_device,
            instance=name,
        )
        for name in ("host-a", "host-b")
    ]
    threads = [threading.Thread(target=s.run, daemon=True) for s in services]
    for t in threads:
        t.start()
    try:
        eventually(lambda: is_up(redis_client, "m1") and is_up(redis_client, "m2"), what="up")
        owners = {m: registry.owner(m) for m in bank.ids}
        assert set(owners.values()) <= {"host-a", "host-b"}
        outbox = Outbox(redis_client)
        ids = [
            outbox.enqueue(f"+849080{i:05d}", f"m {i}", Priority.NOTIFICATION, now_ms())
            for i in range(20)
        ]
        eventually(lambda: all(sent_or_delivered(outbox, i) for i in ids), what="all sent")
        assert len(bank.sent()) == 20
        assert len({s.to for s in bank.sent()}) == 20
        # One service stops: the other takes its modems over.
        first = services[0]
        first.stop()
        threads[0].join(30)
        eventually(
            lambda: all(registry.owner(m) == "host-b" for m in bank.ids),
            timeout=30,
            what="takeover",
        )
        eventually(lambda: is_up(redis_client, "m1") and is_up(redis_client, "m2"), what="up again")
        more = [
            outbox.enqueue(f"+849081{i:05d}", f"n {i}", Priority.NOTIFICATION, now_ms())
            for i in range(6)
        ]
        eventually(
            lambda: all(sent_or_delivered(outbox, i) for i in more), what="sent after takeover"
        )
        assert len(bank.sent()) == 26
    finally:
        for s in services:
            s.stop()
        for t in threads:
            t.join(30)


def test_a_sim_at_its_cap_leaves_the_rest_to_the_other_modems(
    bank: Bank, service: ModemService, redis_client: redis.Redis
) -> None:
    registry = ModemRegistry(redis_client)
    registry.change("m1", per_minute=2, per_hour=2)  # the hour too: a minute may roll over
    eventually(lambda: is_up(redis_client, "m1") and is_up(redis_client, "m2"), what="up")
    eventually(lambda: service.owners["m1"].settings.per_minute == 2, what="the cap applied")
    outbox = Outbox(redis_client)
    ids = [
        outbox.enqueue(f"+849100{i:05d}", f"c {i}", Priority.NOTIFICATION, now_ms())
        for i in range(10)
    ]
    eventually(lambda: all(sent_or_delivered(outbox, i) for i in ids), what="all sent")
    by_modem = [s.modem for s in bank.sent()]
    assert by_modem.count("m1") <= 2
    assert by_modem.count("m2") >= 8


@pytest.mark.slow
def test_a_notice_queued_before_an_opt_out_is_not_sent(
    bank: Bank, service: ModemService, redis_client: redis.Redis
) -> None:
    from gateway.store.replies import OptOuts

    registry = ModemRegistry(redis_client)
    registry.change("m1", enabled=False)
    registry.change("m2", enabled=False)
    eventually(lambda: health(redis_client, "m2").get("state") == "disabled", what="paused")
    outbox = Outbox(redis_client)
    notice = outbox.enqueue(
        "+84911000001", "thong bao", Priority.NOTIFICATION, now_ms(), kind="notice"
    )
    reply = outbox.enqueue("+84911000001", "tra loi", Priority.REPLY, now_ms(), kind="reply_help")
    OptOuts(redis_client).opt_out("+84911000001")
    registry.change("m1", enabled=True)
    eventually(lambda: sent_or_delivered(outbox, reply), what="the reply to HUY still goes")
    eventually(lambda: state_of(outbox, notice) is SmsState.FAILED, what="the notice dropped")
    assert [s.text for s in bank.sent()] == ["tra loi"]


@pytest.mark.slow
def test_a_wrong_sim_pin_is_tried_once_and_never_again_until_it_is_changed(
    tmp_path: Path, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    config = DeviceConfig(sim_state=EmulatedSim.SIM_PIN)
    with Bank(tmp_path / "pin", ["m1"], config=config, status_report_delay=None) as bank:
        sim = bank.device("m1").sim
        wrong = Settings(modems=(ModemSettings("m1", str(bank.port("m1")), pin="0000"),))

        def run_service() -> tuple[ModemService, threading.Thread]:
            svc = ModemService(
                wrong,
                redis_server.client(),
                redis.Redis(unix_socket_path=str(redis_server.socket)),
                make_device=quick_device,
            )
            thread = threading.Thread(target=svc.run, daemon=True)
            thread.start()
            return svc, thread

        def refused() -> bool:
            return "not tried again" in health(redis_client, "m1").get("last_error", "")

        first, thread = run_service()
        eventually(refused, what="m1 down: PIN refused")
        assert sim.pin_attempts == 2  # one try
        first.stop()
        thread.join(30)

        # The service restarts (systemd, a crash): the refused PIN is remembered in Redis.
        redis_client.delete(keys.modem_health("m1"))  # what follows is the new owner's
        again, thread = run_service()
        eventually(refused, what="the refusal remembered")
        assert sim.pin_attempts == 2
        assert redis_client.get(keys.modem_pin_refused("m1")) != "0000"  # a digest, not the PIN

        # The administrator sets the right PIN: tried once, the SIM opens, the modem is up.
        ModemRegistry(redis_client).change("m1", pin="1234")
        eventually(functools.partial(is_up, redis_client, "m1"), what="m1 up with the right PIN")
        assert sim.pin_attempts == 3  # a right PIN resets the SIM's counter
        assert redis_client.get(keys.modem_pin_refused("m1")) is None
        again.stop()
        thread.join(30)
