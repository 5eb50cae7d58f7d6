"""Offices' modems at work: each office's notices leave from its own modems, an office without
modems uses the province's shared pool, and the shared pool stands in for an office's modems
only when they are all down and the office allows it - against a real modem service driving
emulated modems over ptys (python-gsmmodem-new), with a real Redis."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import redis

from config.settings import ModemSettings, Settings
from gateway.core.messages import Priority, SmsState
from gateway.modem_offices import ModemOffices
from gateway.routing import RoutedOutbox, Router
from gateway.store import keys
from gateway.store.modems import ModemRegistry
from gateway.store.offices import Offices
from gateway.store.outbox import Outbox
from hoso.redis_server import RedisServer
from modem.emulator.bank import Bank
from modem.emulator.state import DeviceConfig, Identity
from modem.service import ModemService
from tests.integration.test_modem_service import HIGH_CAPS, quick_device
from tests.integration.test_smpp_link import eventually

MODEM_OFFICES = {"a1": "ben-nghe", "b1": "da-kao", "s1": ""}


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def bank(tmp_path: Path) -> Iterator[Bank]:
    with Bank(tmp_path / "sim", list(MODEM_OFFICES), fresh_ledger=True) as b:
        yield b


@pytest.fixture
def settings(bank: Bank) -> Settings:
    modems = tuple(
        ModemSettings(
            id=m,
            port=str(bank.dir / m),
            office=office,
            per_minute=HIGH_CAPS["per_minute"],
            per_hour=HIGH_CAPS["per_hour"],
            per_day=HIGH_CAPS["per_day"],
        )
        for m, office in MODEM_OFFICES.items()
    )
    return Settings(modems=modems)


@pytest.fixture
def offices(redis_client: redis.Redis, settings: Settings) -> Offices:
    offices = Offices.of(redis_client, settings.sms)
    offices.set("ben-nghe", {"name": "UBND phường Bến Nghé"})  # shared fallback: allowed
    offices.set("da-kao", {"name": "UBND phường Đa Kao", "shared_fallback": False})
    offices.set("tan-dinh", {"name": "UBND phường Tân Định"})  # no modems of its own
    return offices


@pytest.fixture
def service(
    settings: Settings, offices: Offices, redis_server: RedisServer, redis_client: redis.Redis
) -> Iterator[ModemService]:
    svc = ModemService(
        settings,
        redis_server.client(),
        redis.Redis(unix_socket_path=str(redis_server.socket)),
        make_device=quick_device,
        failover_after=1.0,
    )
    thread = threading.Thread(target=svc.run, daemon=True)
    thread.start()
    registry = ModemRegistry(redis_client)
    for modem in MODEM_OFFICES:
        eventually(partial(registered, registry, modem), what=f"{modem} up")
    yield svc
    svc.stop()
    thread.join(30)


@pytest.fixture
def outbox(redis_client: redis.Redis, settings: Settings) -> RoutedOutbox:
    return RoutedOutbox(
        redis_client, Router(redis_client, settings, failover_after=0.0, cache_seconds=0.0)
    )


def registered(registry: ModemRegistry, modem: str) -> bool:
    return registry.health(modem).get("registered") == "1"


def notice(outbox: RoutedOutbox, to: str, office: str) -> str:
    return outbox.enqueue(
        to, f"thong bao {office}", Priority.NOTIFICATION, now_ms(), kind="notice", office=office
    )


def senders(bank: Bank, to: str) -> list[str]:
    """The modems that put an SMS to `to` on the air."""
    return [m for m in MODEM_OFFICES if any(s.to == to for s in bank.sent(m))]


def disable(redis_client: redis.Redis, modem: str) -> None:
    ModemRegistry(redis_client).change(modem, enabled=False)
    eventually(
        lambda: ModemRegistry(redis_client).health(modem).get("state") == "disabled",
        what=f"{modem} disabled",
    )


def test_each_office_s_notices_leave_from_its_own_modems_and_the_others_from_the_shared(
    bank: Bank, service: ModemService, outbox: RoutedOutbox, redis_client: redis.Redis
) -> None:
    sent = {
        "+84901000001": notice(outbox, "+84901000001", "ben-nghe"),
        "+84901000002": notice(outbox, "+84901000002", "da-kao"),
        "+84901000003": notice(outbox, "+84901000003", "tan-dinh"),
        "+84901000004": notice(outbox, "+84901000004", "main"),
    }
    for to in sent:
        eventually(partial(senders, bank, to), what=f"the notice to {to} on the air")
    assert senders(bank, "+84901000001") == ["a1"]
    assert senders(bank, "+84901000002") == ["b1"]
    assert senders(bank, "+84901000003") == ["s1"]
    assert senders(bank, "+84901000004") == ["s1"]
    queues = {to: str(redis_client.hget(keys.sms(i), "queue")) for to, i in sent.items()}
    assert queues["+84901000001"] == keys.outbox_pinned("@ben-nghe")
    assert queues["+84901000003"] == keys.outbox_shared()


@pytest.mark.slow
def test_the_shared_pool_stands_in_only_for_an_office_that_allows_it(
    bank: Bank, service: ModemService, outbox: RoutedOutbox, redis_client: redis.Redis
) -> None:
    disable(redis_client, "a1")
    disable(redis_client, "b1")
    notice(outbox, "+84902000001", "ben-nghe")  # Ben Nghe allows the shared pool
    refused = notice(outbox, "+84902000002", "da-kao")
    # A reply pinned to Da Kao's modem while it is down goes to Da Kao's pool, not the shared one.
    reply = outbox.enqueue(
        "+84902000003",
        "tra loi",
        Priority.REPLY,
        now_ms(),
        via="b1",
        kind="reply_help",
        office="da-kao",
    )
    eventually(lambda: senders(bank, "+84902000001"), what="Ben Nghe's notice on the air")
    assert senders(bank, "+84902000001") == ["s1"]
    eventually(
        lambda: redis_client.hget(keys.sms(reply), "queue") == keys.outbox_pinned("@da-kao"),
        what="the reply released to Da Kao's pool",
    )
    # The shared modem has sent a later SMS and failover has run: Da Kao's still wait, unsent.
    notice(outbox, "+84902000004", "tan-dinh")
    eventually(lambda: senders(bank, "+84902000004"), what="a later shared-pool notice sent")
    assert outbox.router.fail_over(Outbox(redis_client)) == 0
    for waiting in (refused, reply):
        sms = Outbox(redis_client).get(waiting)
        assert sms is not None
        assert sms.state is SmsState.QUEUED
        assert sms.fields["queue"] == keys.outbox_pinned("@da-kao")
    assert senders(bank, "+84902000002") == []
    assert senders(bank, "+84902000003") == []
    # Da Kao's modem is back: they leave from it.
    ModemRegistry(redis_client).change("b1", enabled=True)
    eventually(lambda: senders(bank, "+84902000002"), what="Da Kao's notice sent by its modem")
    eventually(lambda: senders(bank, "+84902000003"), what="Da Kao's reply sent by its modem")
    assert senders(bank, "+84902000002") == ["b1"]
    assert senders(bank, "+84902000003") == ["b1"]


@pytest.mark.slow
def test_notices_waiting_for_an_office_s_modems_move_to_the_shared_pool_once_it_is_up(
    bank: Bank, service: ModemService, outbox: RoutedOutbox, redis_client: redis.Redis
) -> None:
    disable(redis_client, "a1")
    disable(redis_client, "s1")  # every modem Ben Nghe may use is down: its notice waits
    waiting = notice(outbox, "+84903000001", "ben-nghe")
    assert redis_client.hget(keys.sms(waiting), "queue") == keys.outbox_pinned("@ben-nghe")
    assert outbox.router.fail_over(Outbox(redis_client)) == 0  # nowhere up to go
    ModemRegistry(redis_client).change("s1", enabled=True)
    eventually(
        lambda: ModemRegistry(redis_client).health("s1").get("state") == "up", what="s1 back"
    )
    assert outbox.router.fail_over(Outbox(redis_client)) == 1
    assert redis_client.hget(keys.sms(waiting), "queue") == keys.outbox_shared()
    eventually(lambda: senders(bank, "+84903000001"), what="sent by the shared pool")
    assert senders(bank, "+84903000001") == ["s1"]


def test_a_shared_modem_whose_sim_knows_its_number_takes_sms_for_the_office_listing_it(
    tmp_path: Path, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    number = "+84922000002"
    config = DeviceConfig(identity=Identity(own_number=number))
    Offices.of(redis_client, Settings().sms).set(
        "da-kao", {"name": "UBND phường Đa Kao", "numbers": ["0922000002"]}
    )
    with Bank(tmp_path / "sim1", ["s9"], config=config, fresh_ledger=True) as one:
        settings = Settings(modems=(ModemSettings(id="s9", port=str(one.dir / "s9")),))
        svc = ModemService(
            settings,
            redis_server.client(),
            redis.Redis(unix_socket_path=str(redis_server.socket)),
            make_device=quick_device,
        )
        thread = threading.Thread(target=svc.run, daemon=True)
        thread.start()
        try:
            registry = ModemRegistry(redis_client)
            eventually(lambda: registry.health("s9").get("number") == number, what="s9's number")
            offices = ModemOffices(redis_client, settings.modems, settings.sms)
            assert offices.office_of("s9") == "da-kao"
        finally:
            svc.stop()
            thread.join(30)


def test_sms_pinned_to_a_modem_another_host_drives_are_released_to_their_own_pool(
    redis_client: redis.Redis,
) -> None:
    outbox = Outbox(redis_client)
    office = outbox.enqueue(
        "+84904000001", "x", Priority.REPLY, 1, via="b1", office="da-kao", pool="@da-kao"
    )
    older = outbox.enqueue("+84904000002", "y", Priority.REPLY, 2, via="b1")  # before offices
    # The releasing service's file names no b1 (another district's host drives it).
    assert outbox.release_pinned("b1") == 2
    assert redis_client.hget(keys.sms(office), "queue") == keys.outbox_pinned("@da-kao")
    assert redis_client.hget(keys.sms(older), "queue") == keys.outbox_shared()
    assert outbox.depth("@da-kao") == 1
    assert outbox.depth() == 1


def test_a_worker_whose_file_names_no_modem_routes_by_the_offices_the_modem_services_noted(
    bank: Bank, service: ModemService, redis_client: redis.Redis
) -> None:
    central = Router(redis_client, Settings(), failover_after=0.0, cache_seconds=0.0)
    outbox = RoutedOutbox(redis_client, central)  # a province's worker host: no [[modems]]
    assert central.candidates("notice", "", "ben-nghe") == ["@ben-nghe", ""]
    assert central.candidates("notice", "", "da-kao") == ["@da-kao"]
    notice(outbox, "+84905000001", "da-kao")
    eventually(partial(senders, bank, "+84905000001"), what="Da Kao's notice on the air")
    assert senders(bank, "+84905000001") == ["b1"]
