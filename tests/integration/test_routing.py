"""Routing rules at work: a notification goes by the carrier link, a reply by the modem the
citizen texted, and SMS fall back to the next route when theirs goes down - against a real modem
service (emulated modem on a pty) and a real carrier link (the test SMSC), with a real Redis."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from config.settings import RouteSettings, Settings
from gateway.core.messages import Priority, SmsState
from gateway.core.modem_states import route_down
from gateway.core.routes import RouteError
from gateway.routing import RoutedOutbox, Router
from gateway.store import keys
from gateway.store.links import LinkRegistry
from gateway.store.modems import ModemRegistry
from gateway.store.outbox import Outbox
from gateway.store.routes import RouteRules
from hoso.redis_server import RedisServer
from modem.emulator.bank import Bank
from modem.service import ModemService
from tests.integration.test_modem_service import HIGH_CAPS, quick_device
from tests.integration.test_smpp_link import eventually, running, settings_for
from tests.smsc.harness import Smsc, submits

NOTIFY_BY_LINK = RouteSettings("notification", ("link:brand", "modems"))
REPLY_BY_ORIGIN = RouteSettings("reply", ("origin", "modems", "link:brand"))


def routed(client: redis.Redis, smsc: Smsc, *rules: RouteSettings) -> RoutedOutbox:
    settings = Settings(smpp=(settings_for(smsc),), routes=rules)
    return RoutedOutbox(client, Router(client, settings, failover_after=0.0, cache_seconds=0.0))


def queue_of(client: redis.Redis, sms_id: str) -> str:
    return str(client.hget(keys.sms(sms_id), "queue"))


def now_ms() -> int:
    return int(time.time() * 1000)


def test_a_route_is_down_when_nothing_is_published_or_down_long_enough() -> None:
    assert route_down({}, 100.0, 30.0)
    assert not route_down({"state": "up"}, 100.0, 30.0)
    assert not route_down({"state": "down", "down_since": "90"}, 100.0, 30.0)
    assert route_down({"state": "down", "down_since": "60"}, 100.0, 30.0)
    assert route_down({"state": "quarantined"}, 100.0, 30.0)
    assert route_down({"state": "stopped"}, 100.0, 30.0)


def test_rules_changed_live_are_checked_and_shown_over_the_configurations(
    redis_client: redis.Redis,
) -> None:
    rules = RouteRules(redis_client, (NOTIFY_BY_LINK,))
    shown = {(r.office, r.kind.value): (str(r.routes[0]), r.source) for r in rules.shown()}
    assert shown[("*", "notification")] == ("link:brand", "config")
    assert shown[("*", "reply")] == ("origin", "default")
    rules.change("*", "notification", "modems, link:brand", ["brand"])
    live = {(r.office, r.kind.value): (r.source, [str(x) for x in r.routes]) for r in rules.shown()}
    assert live[("*", "notification")] == ("live", ["modems", "link:brand"])
    with pytest.raises(RouteError):
        rules.change("*", "notification", "link:nowhere", ["brand"])
    assert rules.reset("*", "notification")
    assert not rules.reset("*", "notification")


@pytest.fixture
def smsc(tmp_path: Path) -> Iterator[Smsc]:
    with Smsc(tmp_path / "smsc", {"hoso": "s3cret"}) as server:
        yield server


@pytest.fixture
def bank(tmp_path: Path) -> Iterator[Bank]:
    with Bank(tmp_path / "sim", ["m1"], status_report_delay=0.2, fresh_ledger=True) as b:
        yield b


@pytest.fixture
def modems(bank: Bank, redis_server: RedisServer, redis_client: redis.Redis) -> Iterator[None]:
    ModemRegistry(redis_client).change("m1", **HIGH_CAPS)
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
    eventually(
        lambda: ModemRegistry(redis_client).health("m1").get("registered") == "1", what="m1 up"
    )
    yield
    svc.stop()
    thread.join(30)


@pytest.mark.slow
def test_a_notice_goes_by_the_link_a_reply_by_the_modem_and_notices_fall_back_to_the_modems(
    smsc: Smsc,
    bank: Bank,
    modems: None,
    redis_server: RedisServer,
    redis_client: redis.Redis,
) -> None:
    outbox = routed(redis_client, smsc, NOTIFY_BY_LINK, REPLY_BY_ORIGIN)
    with running(settings_for(smsc), redis_server):
        eventually(lambda: LinkRegistry(redis_client).health("brand").get("state") == "up")
        notice = outbox.enqueue(
            "+84901234567", "Ho so da xu ly xong", Priority.NOTIFICATION, now_ms(), kind="notice"
        )
        reply = outbox.enqueue(
            "+84907654321",
            "HD: soan HS <ma>",
            Priority.REPLY,
            now_ms(),
            via="m1",
            kind="reply_help",
        )
        eventually(lambda: submits(smsc.ledger()), what="the notice at the SMSC")
        eventually(lambda: bank.sent("m1"), what="the reply on the air")
    assert [e["destination_addr"] for e in submits(smsc.ledger())] == ["84901234567"]
    assert [s.to for s in bank.sent("m1")] == ["+84907654321"]
    assert queue_of(redis_client, notice) == keys.outbox_pinned("brand")
    assert queue_of(redis_client, reply) == keys.outbox_pinned("m1")
    # The link has stopped: the next notice takes the modems.
    eventually(lambda: LinkRegistry(redis_client).health("brand").get("state") == "stopped")
    later = outbox.enqueue(
        "+84912345678", "Ho so can bo sung", Priority.NOTIFICATION, now_ms(), kind="notice"
    )
    assert queue_of(redis_client, later) == keys.outbox_shared()
    eventually(lambda: len(bank.sent("m1")) == 2, what="the notice by the modem")
    assert bank.sent("m1")[1].to == "+84912345678"


@pytest.mark.slow
def test_notices_waiting_for_a_link_that_goes_down_move_to_the_modems(
    smsc: Smsc,
    bank: Bank,
    modems: None,
    redis_server: RedisServer,
    redis_client: redis.Redis,
) -> None:
    outbox = routed(redis_client, smsc, NOTIFY_BY_LINK)
    slow = dataclasses.replace(settings_for(smsc), tps=1, window=1)  # one a second
    numbers = [f"+8490000000{i}" for i in range(5)]
    with running(slow, redis_server):
        eventually(lambda: LinkRegistry(redis_client).health("brand").get("state") == "up")
        ids = [
            outbox.enqueue(n, f"thong bao {n}", Priority.NOTIFICATION, now_ms(), kind="notice")
            for n in numbers
        ]
        assert {queue_of(redis_client, i) for i in ids} == {keys.outbox_pinned("brand")}
    waiting = Outbox(redis_client).depth("brand")  # the link stopped before sending them all
    assert waiting > 0
    assert outbox.router.fail_over(Outbox(redis_client)) == waiting
    assert Outbox(redis_client).depth("brand") == 0
    by_link = {"+" + e["destination_addr"] for e in submits(smsc.ledger())}
    eventually(lambda: len(bank.sent("m1")) == waiting, what="the rest sent by the modem")
    by_modem = {s.to for s in bank.sent("m1")}
    assert by_link | by_modem == set(numbers)
    assert not by_link & by_modem
    moved = [i for i in ids if "rerouted" in [a["event"] for a in Outbox(redis_client).attempts(i)]]
    assert len(moved) == waiting


@pytest.mark.slow
def test_the_reverse_rule_sends_by_the_modems_and_falls_back_to_the_link(
    smsc: Smsc, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    reverse = RouteSettings("notification", ("modems", "link:brand"))
    outbox = routed(redis_client, smsc, reverse)
    ModemRegistry(redis_client).publish_health("m1", {"state": "up"})
    waiting = outbox.enqueue(
        "+84901234567", "Ho so da xu ly xong", Priority.NOTIFICATION, now_ms(), kind="notice"
    )
    assert queue_of(redis_client, waiting) == keys.outbox_shared()
    # The modem is down (as its owner reports a modem that stopped answering).
    ModemRegistry(redis_client).publish_health(
        "m1", {"state": "down", "down_since": time.time() - 60}
    )
    with running(settings_for(smsc), redis_server):
        eventually(lambda: LinkRegistry(redis_client).health("brand").get("state") == "up")
        assert outbox.router.fail_over(Outbox(redis_client)) == 1
        eventually(
            lambda: Outbox(redis_client).get(waiting).state is SmsState.DELIVERED,  # type: ignore[union-attr]
            what="delivered by the link",
        )
    assert [e["destination_addr"] for e in submits(smsc.ledger())] == ["84901234567"]
