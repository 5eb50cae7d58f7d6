"""A carrier link in-process against a real SMSC (node-smpp's server, tests/smsc/) and a real
Redis: binds, submits, receipts, citizens' SMS, throttling, a restart of the SMSC, and parts a
dead process left of unknown fate."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
import redis
import smpplib.client
from rq import Queue

from config.settings import SmppSettings
from gateway.core.messages import Priority, SmsState
from gateway.store.inbox import Inbox
from gateway.store.links import LinkRegistry
from gateway.store.outbox import Outbox
from gateway.store.queues import INBOUND_QUEUE, inbound_job_id
from hoso.redis_server import RedisServer
from modem.smpp.coding import encode
from modem.smpp.link import Link
from tests.smsc.harness import Smsc, reassemble, submits

T = TypeVar("T")
LONG_VIETNAMESE = (
    "Hồ sơ 000.00.20.H57-240423-0001 của ông/bà đã được tiếp nhận và đang được xử lý. "
    "Phòng Tư pháp hẹn trả kết quả ngày 26/04/2024 lúc 17:00. Xin cảm ơn! 😀"
)


def eventually(check: Callable[[], T], timeout: float = 20.0, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def smsc(tmp_path: Path) -> Iterator[Smsc]:
    with Smsc(tmp_path / "smsc", {"hoso": "s3cret"}) as server:
        yield server


def settings_for(smsc: Smsc, **changes: object) -> SmppSettings:
    base = SmppSettings(
        id="brand",
        host="127.0.0.1",
        port=smsc.port,
        system_id="hoso",
        password="s3cret",
        system_type="HOSO",
        source="UBND BADINH",
        tps=1000,
        enquire_link=5,
        response_timeout=5,
        in_doubt_wait=3,
        reconnect_max=2,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@contextlib.contextmanager
def running(settings: SmppSettings, server: RedisServer) -> Iterator[Link]:
    link = Link(
        settings,
        settings.password,
        server.client(),
        redis.Redis(unix_socket_path=str(server.socket)),
    )
    thread = threading.Thread(target=link.run, daemon=True)
    thread.start()
    try:
        yield link
    finally:
        link.stop()
        thread.join(30)
        assert not thread.is_alive()


def send(outbox: Outbox, to: str, text: str, via: str = "brand") -> str:
    return outbox.enqueue(to, text, Priority.NOTIFICATION, now_ms(), via=via, kind="notice")


def state(outbox: Outbox, sms_id: str) -> SmsState | None:
    sms = outbox.get(sms_id)
    return None if sms is None else sms.state


def is_up(client: redis.Redis) -> bool:
    return LinkRegistry(client).health("brand").get("state") == "up"


# -- binding ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_link_binds_as_transceiver_with_its_account_and_reports_itself_up(
    smsc: Smsc, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    with running(settings_for(smsc), redis_server):
        eventually(lambda: is_up(redis_client), what="link up")
    (bind,) = smsc.ledger("bind")
    assert (bind["mode"], bind["system_id"], bind["system_type"], bind["status"]) == (
        "transceiver",
        "hoso",
        "HOSO",
        0,
    )
    assert bind["interface_version"] == 0x34
    health = LinkRegistry(redis_client).health("brand")
    assert health["state"] == "stopped"  # published on the way out
    assert "s3cret" not in str(health)


@pytest.mark.slow
def test_a_wrong_password_leaves_the_link_down_with_the_smscs_reason(
    smsc: Smsc, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    with running(settings_for(smsc, password="wrong"), redis_server):
        smsc.wait(lambda entries: any(e["event"] == "bind" for e in entries), what="a bind")
        registry = LinkRegistry(redis_client)
        eventually(lambda: registry.health("brand").get("last_error"), what="the refusal")
        health = registry.health("brand")
    assert health["state"] == "down"
    assert "ESME_RINVPASWD" in health["last_error"]
    assert smsc.ledger("bind")[0]["status"] == 0x0E


# -- outbound ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_short_notice_goes_from_the_brandname_and_its_receipt_delivers_it(
    smsc: Smsc, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    outbox = Outbox(redis_client)
    sms_id = send(outbox, "+84901234567", "Ho so 000.00.20.H57-240423-0001 da duoc tiep nhan.")
    with running(settings_for(smsc), redis_server):
        eventually(lambda: state(outbox, sms_id) is SmsState.DELIVERED, what="delivered")
    (submit,) = submits(smsc.ledger())
    assert (submit["source_addr"], submit["source_addr_ton"], submit["source_addr_npi"]) == (
        "UBND BADINH",
        5,
        0,
    )
    assert (submit["destination_addr"], submit["dest_addr_ton"], submit["dest_addr_npi"]) == (
        "84901234567",
        1,
        1,
    )
    assert (submit["data_coding"], submit["esm_class"], submit["registered_delivery"]) == (0, 0, 1)
    assert submit["text"] == "Ho so 000.00.20.H57-240423-0001 da duoc tiep nhan."
    attempts = [a["event"] for a in outbox.attempts(sms_id)]
    assert attempts == ["queued", "claimed", "submitting", "submitted"]


@pytest.mark.slow
@pytest.mark.parametrize("long", ["udh", "sar", "payload"])
def test_a_long_ucs2_notice_arrives_whole_in_every_long_message_mode(
    smsc: Smsc, redis_server: RedisServer, redis_client: redis.Redis, long: str
) -> None:
    outbox = Outbox(redis_client)
    sms_id = send(outbox, "+84912345678", LONG_VIETNAMESE)
    with running(settings_for(smsc, long=long), redis_server):
        eventually(lambda: state(outbox, sms_id) is SmsState.DELIVERED, what="delivered")
    parts = submits(smsc.ledger())
    assert {p["data_coding"] for p in parts} == {8}
    assert reassemble(parts) == LONG_VIETNAMESE
    if long == "udh":
        assert len(parts) == 3
        assert {p["esm_class"] for p in parts} == {0x40}
    elif long == "sar":
        assert sorted(p["sar"]["seq"] for p in parts) == [1, 2, 3]
        assert {p["sar"]["total"] for p in parts} == {3}
    else:
        (part,) = parts
        assert part["payload"] is True


@pytest.mark.slow
def test_a_short_code_sends_as_ton_3_and_national_numbers_when_configured(
    smsc: Smsc, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    outbox = Outbox(redis_client)
    sms_id = send(outbox, "+84901234567", "HD: soan HS <ma ho so> gui 8085")
    with running(settings_for(smsc, source="8085", number_format="national"), redis_server):
        eventually(lambda: state(outbox, sms_id) is SmsState.DELIVERED, what="delivered")
    (submit,) = submits(smsc.ledger())
    assert (submit["source_addr"], submit["source_addr_ton"]) == ("8085", 3)
    assert (submit["destination_addr"], submit["dest_addr_ton"]) == ("0901234567", 2)


@pytest.mark.slow
def test_packed_gsm7_reaches_an_smsc_that_unpacks_it(
    tmp_path: Path, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    outbox = Outbox(redis_client)
    text = "Ho so {0001} [xong] ~ 100€ " * 8  # extension characters (two septets), two parts
    sms_id = send(outbox, "+84901234567", text)
    with Smsc(tmp_path / "packed", {"hoso": "s3cret"}, packed=True) as smsc:
        with running(settings_for(smsc, gsm7_packed=True), redis_server):
            eventually(lambda: state(outbox, sms_id) is SmsState.DELIVERED, what="delivered")
        parts = submits(smsc.ledger())
    assert len(parts) == 2
    assert reassemble(parts) == text


@pytest.mark.slow
def test_a_failed_receipt_fails_the_sms(
    smsc: Smsc, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    outbox = Outbox(redis_client)
    smsc.fate("84909999999", "UNDELIV")
    sms_id = send(outbox, "+84909999999", "Ho so da xu ly xong.")
    with running(settings_for(smsc), redis_server):
        eventually(lambda: state(outbox, sms_id) is SmsState.FAILED, what="failed")
    sms = outbox.get(sms_id)
    assert sms is not None
    assert sms.fields["error"] == "delivery failed"


@pytest.mark.slow
def test_receipts_by_tlv_only_or_by_text_only_are_both_understood(
    tmp_path: Path, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    outbox = Outbox(redis_client)
    for style in ("tlv", "text"):
        sms_id = send(outbox, "+84901234567", f"receipt by {style}")
        smsc = Smsc(tmp_path / style, {"hoso": "s3cret"}, receipts=style, ids="decimal")
        with smsc, running(settings_for(smsc), redis_server):
            eventually(lambda: state(outbox, sms_id) is SmsState.DELIVERED, what=style)  # noqa: B023


@pytest.mark.slow
def test_throttling_backs_off_and_sends_the_same_parts_again(
    smsc: Smsc, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    outbox = Outbox(redis_client)
    smsc.throttle(3, "ESME_RTHROTTLED")
    ids = [send(outbox, f"+8490100{i:04d}", f"thong bao {i}") for i in range(20)]
    with running(settings_for(smsc), redis_server):
        eventually(
            lambda: all(state(outbox, i) is SmsState.DELIVERED for i in ids), what="all delivered"
        )
    entries = smsc.ledger("submit_sm")
    refused = [e for e in entries if e["status"] == 0x58]
    assert len(refused) == 3
    accepted = submits(entries)
    assert sorted(e["destination_addr"] for e in accepted) == sorted(
        f"8490100{i:04d}" for i in range(20)
    )
    for sms_id in ids:  # a throttled part is not an attempt that failed
        sms = outbox.get(sms_id)
        assert sms is not None
        assert sms.attempts == 0
    assert LinkRegistry(redis_client).counters("brand")["throttled"] == 3


@pytest.mark.slow
def test_a_full_message_queue_is_throttling_too(
    smsc: Smsc, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    outbox = Outbox(redis_client)
    smsc.throttle(1, "ESME_RMSGQFUL")
    sms_id = send(outbox, "+84901234567", "hang doi day")
    with running(settings_for(smsc), redis_server):
        eventually(lambda: state(outbox, sms_id) is SmsState.DELIVERED, what="delivered")
    assert [e["status"] for e in smsc.ledger("submit_sm")] == [0x14, 0]


@pytest.mark.slow
def test_the_link_survives_a_restart_of_the_smsc_and_loses_nothing(
    smsc: Smsc, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    outbox = Outbox(redis_client)
    first = [send(outbox, f"+8491200{i:04d}", f"truoc {i}") for i in range(30)]
    with running(settings_for(smsc), redis_server):
        eventually(
            lambda: all(state(outbox, i) is SmsState.DELIVERED for i in first), what="first batch"
        )
        smsc.kill()
        eventually(lambda: not is_up(redis_client), what="link down")
        later = [send(outbox, f"+8491300{i:04d}", f"sau {i}") for i in range(30)]
        smsc.start()
        eventually(
            lambda: all(state(outbox, i) is SmsState.DELIVERED for i in later), what="second batch"
        )
    binds = [e for e in smsc.ledger("bind") if e["status"] == 0]
    assert len(binds) >= 2
    reached = {e["destination_addr"] for e in submits(smsc.ledger())}
    assert {f"8491300{i:04d}" for i in range(30)} <= reached
    assert LinkRegistry(redis_client).counters("brand")["reconnects"] >= 1


# -- inbound ----------------------------------------------------------------------------------


def inbound_texts(client: redis.Redis) -> list[tuple[str, str, str]]:
    inbox = Inbox(client)
    found = []
    for message_id in range(1, 20):
        message = inbox.get(str(message_id))
        if message is not None:
            found.append((message.modem, message.sender, message.text))
    return found


@pytest.mark.slow
def test_a_citizens_sms_to_the_short_code_is_persisted_and_handed_to_the_workers(
    smsc: Smsc, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    with running(settings_for(smsc, source="8085"), redis_server):
        eventually(lambda: is_up(redis_client), what="link up")
        smsc.mo("84901234567", "8085", "HS 000.00.20.H57-240423-0001 K7M2QX4A")
        eventually(lambda: inbound_texts(redis_client), what="an inbound SMS")
        smsc.wait(
            lambda es: any(e["event"] == "deliver_sm_resp" and e["kind"] == "mo" for e in es),
            what="the deliver_sm answered",
        )
    assert inbound_texts(redis_client) == [
        ("brand", "+84901234567", "HS 000.00.20.H57-240423-0001 K7M2QX4A")
    ]
    rq = Queue(INBOUND_QUEUE, connection=redis.Redis(unix_socket_path=str(redis_server.socket)))
    assert rq.fetch_job(inbound_job_id("1")) is not None
    (answered,) = [e for e in smsc.ledger("deliver_sm_resp") if e["kind"] == "mo"]
    assert answered["status"] == 0


@pytest.mark.slow
@pytest.mark.parametrize(("split", "reverse"), [("udh", True), ("sar", False), ("payload", False)])
def test_a_long_citizens_sms_is_reassembled_whatever_way_it_was_split(
    smsc: Smsc,
    redis_server: RedisServer,
    redis_client: redis.Redis,
    split: str,
    reverse: bool,
) -> None:
    text = "Tra cứu hồ sơ 000.00.20.H57-240423-0001 giúp tôi, tôi đã nộp từ tuần trước. " * 2
    with running(settings_for(smsc, bind="transmitter+receiver"), redis_server):
        eventually(lambda: is_up(redis_client), what="link up")
        smsc.mo("84901234567", "8085", text, coding="ucs2", split=split, reverse=reverse)
        eventually(lambda: inbound_texts(redis_client), what="the reassembled SMS")
    ((link, sender, got),) = inbound_texts(redis_client)
    assert (link, sender, got) == ("brand", "+84901234567", text)
    modes = {e["mode"] for e in smsc.ledger("bind")}
    assert modes == {"transmitter", "receiver"}


def answered(label: str) -> Callable[[list[dict[str, object]]], bool]:
    def check(entries: list[dict[str, object]]) -> bool:
        return any(e.get("label") == label and e["event"] == "deliver_sm_resp" for e in entries)

    return check


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.mark.slow
def test_a_deliver_sm_sent_again_is_taken_once_and_the_same_text_minutes_later_again(
    smsc: Smsc, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    clock = Clock()
    link = Link(
        settings_for(smsc),
        "s3cret",
        redis_server.client(),
        redis.Redis(unix_socket_path=str(redis_server.socket)),
        clock=clock,
    )
    thread = threading.Thread(target=link.run, daemon=True)
    thread.start()
    try:
        eventually(lambda: is_up(redis_client), what="link up")
        for label in ("sent", "sent again"):  # as an SMSC does when an answer was lost
            smsc.mo("84901234567", "8085", "TRA", label=label)
            smsc.wait(answered(label), what=f"{label} answered")
        assert len(inbound_texts(redis_client)) == 1
        clock.now += timedelta(minutes=3)  # the citizen asks again
        smsc.mo("84901234567", "8085", "TRA", label="asked again")
        eventually(lambda: len(inbound_texts(redis_client)) == 2, what="the second message")
    finally:
        link.stop()
        thread.join(30)


# -- parts a dead process left of unknown fate -----------------------------------------------


def leave_in_flight(outbox: Outbox, smsc: Smsc, to: str, text: str, *, written: bool) -> str:
    """What a `hoso smpp` killed between writing a submit_sm and reading its answer leaves: the
    part `submitting` in Redis, and (if `written`) the submit_sm at the SMSC, whose answer nobody
    read."""
    sms_id = send(outbox, to, text)
    (sms,) = outbox.claim_route("brand", now_ms(), 1)
    (part,) = encode(text)
    sms = outbox.plan(sms, 1, None)
    outbox.submitting(sms, 0, None, now_ms())
    if written:
        client = smpplib.client.Client("127.0.0.1", smsc.port, allow_unknown_opt_params=True)
        client.connect()
        client.bind_transceiver(system_id="hoso", password="s3cret")
        client.send_message(
            source_addr_ton=5,
            source_addr="UBND BADINH",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr=to.removeprefix("+"),
            short_message=part.short_message,
            data_coding=part.data_coding,
            registered_delivery=1,
        )
        smsc.wait(lambda es: len(submits(es)) == 1, what="the submit at the SMSC")
        client.disconnect()  # killed: the answer and the receipt are never read
    return sms_id


@pytest.mark.slow
def test_a_part_the_smsc_took_before_the_crash_is_resolved_by_its_receipt_without_a_resend(
    smsc: Smsc, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    outbox = Outbox(redis_client)
    sms_id = leave_in_flight(outbox, smsc, "+84901112222", "Ho so da xu ly xong", written=True)
    with running(settings_for(smsc, in_doubt_wait=30), redis_server):
        eventually(lambda: state(outbox, sms_id) is SmsState.DELIVERED, what="delivered")
    assert len(submits(smsc.ledger())) == 1  # no second copy
    hows = [a.get("how") for a in outbox.attempts(sms_id) if a["event"] == "submitted"]
    assert hows == ["receipt"]
    assert LinkRegistry(redis_client).counters("brand")["resolved"] == 1


@pytest.mark.slow
def test_a_part_that_never_reached_the_smsc_is_sent_again_once_after_the_wait(
    smsc: Smsc, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    outbox = Outbox(redis_client)
    sms_id = leave_in_flight(outbox, smsc, "+84903334444", "Ho so bi tra lai", written=False)
    with running(settings_for(smsc, in_doubt_wait=1), redis_server):
        eventually(lambda: state(outbox, sms_id) is SmsState.DELIVERED, what="delivered")
    assert [e["destination_addr"] for e in submits(smsc.ledger())] == ["84903334444"]
    submitting = [a for a in outbox.attempts(sms_id) if a["event"] == "submitting"]
    assert [a["resend"] for a in submitting] == [False, True]
    assert LinkRegistry(redis_client).counters("brand")["resent"] == 1


@pytest.mark.slow
def test_two_unknown_parts_to_one_phone_that_one_receipt_could_fit_are_both_sent_again(
    smsc: Smsc, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    outbox = Outbox(redis_client)
    one = leave_in_flight(outbox, smsc, "+84905556666", "Ho so da xu ly xong", written=True)
    two = leave_in_flight(outbox, smsc, "+84905556666", "Ho so da xu ly xong", written=False)
    with running(settings_for(smsc, in_doubt_wait=1), redis_server):
        eventually(
            lambda: (
                state(outbox, one) is SmsState.DELIVERED
                and state(outbox, two) is SmsState.DELIVERED
            ),
            what="both delivered",
        )
    # The one receipt fits both parts: it resolves neither, both go again. One duplicate for
    # the part that had reached the SMSC, nothing lost.
    assert len(submits(smsc.ledger())) == 3
