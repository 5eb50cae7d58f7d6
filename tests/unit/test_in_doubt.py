"""Matching a status report to the part a crash left in doubt (modem/in_doubt.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.core.messages import Priority, SmsState
from gateway.store.outbound import Outbound, UnknownFate
from modem.device_types import StatusReport
from modem.in_doubt import InDoubt

SINCE = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
SINCE_MS = int(SINCE.timestamp() * 1000)


def fate(sms_id: str, to: str, expected: int | None, part: int = 0) -> UnknownFate:
    sms = Outbound(
        id=sms_id,
        to=to,
        text="x",
        priority=Priority.REPLY,
        state=SmsState.SUBMITTING,
        modem="m1",
        attempts=0,
        parts=2,
        next_part=part,
        refs=(None, None),
        concat_ref=None,
        resent=False,
        via="",
        fields={},
    )
    return UnknownFate(sms, part, expected, SINCE_MS)


def report(ref: int, to: str, submitted: datetime | None = SINCE) -> StatusReport:
    return StatusReport(ref, to, 0, True, True, None, 1, "SR", submitted)


def test_a_report_for_the_guessed_reference_and_recipient_settles_the_part() -> None:
    doubts = InDoubt()
    doubts.add(fate("1", "+84901000001", 17), deadline=100.0)
    assert doubts.match(report(99, "+84902000002")) is None  # someone else's
    found = doubts.match(report(17, "0901000001"))  # the SMSC wrote it nationally
    assert found is not None
    assert found.fate.sms.id == "1"
    assert not doubts


def test_without_the_reference_the_recipient_and_time_decide() -> None:
    """The kill came before +CMGS was read: the MR is unknown."""
    doubts = InDoubt()
    doubts.add(fate("1", "+84901000001", None), deadline=100.0)
    assert doubts.match(report(5, "+84901000001", SINCE - timedelta(hours=2))) is None  # older
    assert doubts.match(report(5, "+84901000001", SINCE + timedelta(seconds=3))) is not None


def test_a_late_answer_of_the_modem_names_the_reference() -> None:
    doubts = InDoubt()
    doubts.add(fate("1", "+84901000001", 17), deadline=100.0)
    doubts.add(fate("2", "+84901000001", 18, part=1), deadline=100.0)
    found = doubts.match(report(40, "+84901000001"), late_refs=[40])
    assert found is not None
    assert found.fate.sms.id == "1"
    assert len(doubts) == 1


def test_a_part_whose_wait_is_over_is_handed_back_once_and_a_reconnect_keeps_its_deadline() -> None:
    doubts = InDoubt()
    doubts.add(fate("1", "+84901000001", 17), deadline=10.0)
    doubts.add(fate("1", "+84901000001", 17), deadline=99.0)  # a reconnect: the same part
    assert doubts.expired(9.0) == []
    [due] = doubts.expired(10.0)
    assert due.fate.sms.id == "1"
    assert doubts.expired(100.0) == []
