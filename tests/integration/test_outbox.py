"""The outbound SMS queue against a real Redis: priorities, pinning, retries, crash recovery."""

from __future__ import annotations

import threading

import pytest
import redis

from gateway.core.messages import MAX_ATTEMPTS, Priority, RetryWhere, SmsState
from gateway.store import keys
from gateway.store.outbox import Outbox

T = 1_800_000_000_000  # ms


@pytest.fixture
def outbox(redis_client: redis.Redis) -> Outbox:
    return Outbox(redis_client)


def test_replies_go_before_notifications_and_each_kind_in_order(outbox: Outbox) -> None:
    n1 = outbox.enqueue("+84901000001", "notice 1", Priority.NOTIFICATION, T)
    r1 = outbox.enqueue("+84901000002", "reply 1", Priority.REPLY, T + 1)
    n2 = outbox.enqueue("+84901000003", "notice 2", Priority.NOTIFICATION, T + 2)
    r2 = outbox.enqueue("+84901000004", "reply 2", Priority.REPLY, T + 3)
    order = [outbox.claim("m1", "", T + 10) for _ in range(5)]
    assert [o.id if o else None for o in order] == [r1, r2, n1, n2, None]
    assert order[0] is not None
    assert order[0].state is SmsState.CLAIMED
    assert order[0].modem == "m1"


def test_a_reply_leaves_through_the_modem_the_citizen_wrote_to(outbox: Outbox) -> None:
    reply = outbox.enqueue("+84901000001", "reply", Priority.REPLY, T, via="m2")
    assert outbox.claim("m1", "", T + 1) is None
    got = outbox.claim("m2", "", T + 1)
    assert got is not None
    assert got.id == reply


def test_a_down_modem_hands_its_pinned_sms_to_the_others(outbox: Outbox) -> None:
    ids = [
        outbox.enqueue(f"+8490100000{i}", "r", Priority.REPLY, T + i, via="m2") for i in range(3)
    ]
    assert outbox.release_pinned("m2") == 3
    claimed = [outbox.claim("m1", "", T + 10) for _ in range(3)]
    assert [c.id for c in claimed if c] == ids


def test_a_modem_prefers_numbers_of_its_own_carrier(outbox: Outbox) -> None:
    other = outbox.enqueue("+84911000001", "a", Priority.NOTIFICATION, T, carrier="vinaphone")
    mine = outbox.enqueue("+84961000001", "b", Priority.NOTIFICATION, T + 1, carrier="viettel")
    reply = outbox.enqueue("+84911000002", "c", Priority.REPLY, T + 2, carrier="vinaphone")
    first = outbox.claim("vt1", "viettel", T + 5)
    second = outbox.claim("vt1", "viettel", T + 5)
    third = outbox.claim("vt1", "viettel", T + 5)
    assert [x.id for x in (first, second, third) if x] == [reply, mine, other]


def test_the_same_dedupe_key_queues_one_sms(outbox: Outbox) -> None:
    a = outbox.enqueue(
        "+84901000001", "x", Priority.NOTIFICATION, T, dedupe_key="dossier-1:status-5"
    )
    b = outbox.enqueue(
        "+84901000001", "x", Priority.NOTIFICATION, T, dedupe_key="dossier-1:status-5"
    )
    assert a == b
    assert outbox.depth() == 1


def test_parts_are_recorded_and_delivery_reports_complete_the_sms(outbox: Outbox) -> None:
    sid = outbox.enqueue("+84901000001", "long", Priority.REPLY, T)
    sms = outbox.claim("m1", "", T)
    assert sms is not None
    sms = outbox.plan(sms, parts=2, concat_ref=77)
    outbox.submitting(sms, 0, None, T)
    assert outbox.get(sid).state is SmsState.SUBMITTING  # type: ignore[union-attr]
    assert not outbox.submitted(sms, 0, 11, T)
    outbox.submitting(sms, 1, 12, T)
    assert outbox.submitted(sms, 1, 12, T)
    after = outbox.get(sid)
    assert after is not None
    assert (after.state, after.refs, after.concat_ref) == (SmsState.SUBMITTED, (11, 12), 77)
    assert outbox.delivery_report("m1", 11, "+84901000001", True, True, T) == (
        sid,
        SmsState.SUBMITTED,
    )
    assert outbox.delivery_report("m1", 12, "+84901000001", True, True, T) == (
        sid,
        SmsState.DELIVERED,
    )
    assert (
        outbox.delivery_report("m1", 12, "+84909999999", True, True, T) is None
    )  # other recipient
    assert outbox.delivery_report("m2", 12, "+84901000001", True, True, T) is None  # other modem


def test_a_failed_delivery_report_fails_the_sms(outbox: Outbox) -> None:
    sid = outbox.enqueue("+84901000001", "x", Priority.REPLY, T)
    sms = outbox.plan(outbox.claim("m1", "", T), 1, None)  # type: ignore[arg-type]
    outbox.submitting(sms, 0, None, T)
    outbox.submitted(sms, 0, 5, T)
    assert outbox.delivery_report("m1", 5, "+84901000001", False, False, T) == (
        sid,
        SmsState.SUBMITTED,
    )
    assert outbox.delivery_report("m1", 5, "+84901000001", False, True, T, 65) == (
        sid,
        SmsState.FAILED,
    )
    assert outbox.get(sid).fields["error"] == "không đến được máy người nhận (TP-ST 65)"  # type: ignore[union-attr]


def test_a_report_naming_the_recipient_nationally_still_finds_its_part(outbox: Outbox) -> None:
    """SMSCs write the recipient as they like: 0901000001, 84901000001 or +84901000001."""
    for n, written in enumerate(("0901000001", "84901000001", "+84901000001")):
        sid = outbox.enqueue("+84901000001", f"x{n}", Priority.REPLY, T)
        sms = outbox.plan(outbox.claim("m1", "", T), 1, None)  # type: ignore[arg-type]
        outbox.submitting(sms, 0, None, T)
        outbox.submitted(sms, 0, 40 + n, T)
        assert outbox.delivery_report("m1", 40 + n, written, True, True, T) == (
            sid,
            SmsState.DELIVERED,
        )


def test_retry_here_waits_for_its_backoff(outbox: Outbox) -> None:
    sid = outbox.enqueue("+84901000001", "x", Priority.REPLY, T, via="m1")
    sms = outbox.claim("m1", "", T)
    assert sms is not None
    assert outbox.failed_attempt(sms, RetryWhere.HERE, "+CMS ERROR: 331", T) is SmsState.QUEUED
    assert outbox.claim("m1", "", T + 1000) is None
    again = outbox.claim("m1", "", T + 5000)
    assert again is not None
    assert (again.id, again.attempts, again.fields["error"]) == (sid, 1, "+CMS ERROR: 331")


def test_retry_elsewhere_is_taken_by_another_modem_at_once(outbox: Outbox) -> None:
    sid = outbox.enqueue("+84901000001", "x", Priority.REPLY, T)
    sms = outbox.claim("m1", "", T)
    assert sms is not None
    outbox.failed_attempt(sms, RetryWhere.ELSEWHERE, "+CMS ERROR: 330", T)
    assert outbox.claim("m1", "", T + 1) is None
    other = outbox.claim("m2", "", T + 1)
    assert other is not None
    assert other.id == sid


def test_never_retry_and_too_many_attempts_fail_the_sms(outbox: Outbox) -> None:
    a = outbox.enqueue("+84901000001", "x", Priority.REPLY, T)
    sms = outbox.claim("m1", "", T)
    assert sms is not None
    assert outbox.failed_attempt(sms, RetryWhere.NEVER, "+CMS ERROR: 1", T) is SmsState.FAILED
    assert outbox.get(a).state is SmsState.FAILED  # type: ignore[union-attr]
    b = outbox.enqueue("+84901000002", "y", Priority.REPLY, T, via="m1")
    now = T
    for attempt in range(1, MAX_ATTEMPTS + 1):
        now += 3_600_000
        sms = outbox.claim("m1", "", now)
        assert sms is not None, attempt
        state = outbox.failed_attempt(sms, RetryWhere.HERE, "+CMS ERROR: 500", now)
    assert state is SmsState.FAILED
    assert outbox.get(b).attempts == MAX_ATTEMPTS  # type: ignore[union-attr]


def test_after_a_crash_claimed_sms_are_requeued_and_submitting_parts_reported(
    outbox: Outbox,
) -> None:
    a = outbox.enqueue("+84901000001", "claimed only", Priority.REPLY, T)
    b = outbox.enqueue("+84901000002", "mid-submit", Priority.REPLY, T + 1)
    outbox.claim("m1", "", T)
    sms_b = outbox.plan(outbox.claim("m1", "", T), 2, 9)  # type: ignore[arg-type]
    outbox.submitting(sms_b, 0, None, T)
    outbox.submitted(sms_b, 0, 40, T)
    outbox.submitting(sms_b, 1, 41, T)
    # the owner dies here
    unknown = outbox.recover("m1", T + 10)
    assert [(u.sms.id, u.part, u.expected_ref) for u in unknown] == [(b, 1, 41)]
    again = outbox.claim("m2", "", T + 20)
    assert again is not None
    assert again.id == a


def test_concurrent_claims_take_each_sms_exactly_once(redis_client: redis.Redis) -> None:
    outbox = Outbox(redis_client)
    ids = {outbox.enqueue(f"+849010{i:05d}", "x", Priority.NOTIFICATION, T + i) for i in range(300)}
    taken: list[str] = []
    lock = threading.Lock()

    def worker(modem: str) -> None:
        mine = Outbox(redis_client)
        while (sms := mine.claim(modem, "", T + 10_000)) is not None:
            with lock:
                taken.append(sms.id)

    threads = [threading.Thread(target=worker, args=(f"m{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == sorted(ids)


def test_a_part_reported_failed_stops_the_rest_of_its_sms(redis_client: redis.Redis) -> None:
    """One failed part fails the SMS, and a failed SMS is final: the part after it is not saved
    as submitting (so it does not go out) and the SMS leaves the modem's in-flight set."""
    outbox = Outbox(redis_client)
    sid = outbox.enqueue("+84901000001", "long", Priority.REPLY, T)
    sms = outbox.plan(outbox.claim("m1", "", T), 2, 5)  # type: ignore[arg-type]
    assert outbox.submitting(sms, 0, None, T)
    assert not outbox.submitted(sms, 0, 21, T)
    assert outbox.delivery_report("m1", 21, "+84901000001", False, True, T) == (
        sid,
        SmsState.FAILED,
    )
    assert not outbox.submitting(sms, 1, 22, T)
    assert outbox.get(sid).state is SmsState.FAILED  # type: ignore[union-attr]
    assert not redis_client.sismember(keys.outbox_inflight("m1"), sid)
    assert outbox.failed_attempt(sms, RetryWhere.HERE, "+CMS ERROR: 500", T) is SmsState.FAILED
    assert outbox.recover("m1", T) == []


def test_a_retry_whose_earlier_part_is_reported_failed_is_not_tried_again(
    outbox: Outbox,
) -> None:
    sid = outbox.enqueue("+84901000001", "long", Priority.REPLY, T, via="m1")
    sms = outbox.plan(outbox.claim("m1", "", T), 2, 5)  # type: ignore[arg-type]
    outbox.submitting(sms, 0, None, T)
    outbox.submitted(sms, 0, 30, T)
    outbox.submitting(sms, 1, 31, T)
    assert outbox.failed_attempt(sms, RetryWhere.HERE, "+CMS ERROR: 331", T) is SmsState.QUEUED
    outbox.delivery_report("m1", 30, "+84901000001", False, True, T + 1)
    assert outbox.claim("m1", "", T + 3_600_000) is None
    assert outbox.get(sid).state is SmsState.FAILED  # type: ignore[union-attr]


def test_an_sms_a_report_failed_while_queued_leaves_its_queue(outbox: Outbox) -> None:
    sid = outbox.enqueue("+84901000001", "x", Priority.REPLY, T)
    sms = outbox.plan(outbox.claim("m1", "", T), 2, 5)  # type: ignore[arg-type]
    outbox.submitting(sms, 0, None, T)
    outbox.submitted(sms, 0, 50, T)
    outbox.submitting(sms, 1, 51, T)
    assert outbox.failed_attempt(sms, RetryWhere.ELSEWHERE, "+CMS ERROR: 330", T) is (
        SmsState.QUEUED
    )
    assert outbox.claim("m1", "", T) is None  # due at once, back in the shared queue, not for m1
    assert outbox.depth() == 1
    outbox.delivery_report("m1", 50, "+84901000001", False, True, T)
    assert outbox.get(sid).state is SmsState.FAILED  # type: ignore[union-attr]
    assert outbox.depth() == 0
    assert outbox.claim("m2", "", T) is None
