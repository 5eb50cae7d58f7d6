"""The national status vocabulary and the transition rules of the pure core."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.dossier import Dossier
from gateway.core.errors import InvalidTransition
from gateway.core.events import StatusChanged, apply
from gateway.core.status import ALLOWED, FINAL, LABELS, LABELS_ASCII, SETTLED, Status, can_move

T0 = datetime(2024, 4, 23, 1, 30, tzinfo=UTC)


def dossier(status: Status = Status.RECEIVED, at: datetime = T0) -> Dossier:
    return Dossier(
        code="000.00.20.H57-240423-0001",
        short_code="ABCDEF0",
        secret="ABCDEFGH",
        department="tuphap",
        procedure_code="1.001",
        procedure_name="Cấp bản sao trích lục hộ tịch",
        phones=("+84901234567",),
        received_at=at,
        due_at=at + timedelta(days=3),
        status=status,
        holder=None,
        applicant_name=None,
        version=1,
        updated_at=at,
    )


def test_the_vocabulary_is_the_national_one() -> None:
    assert [int(s) for s in Status] == list(range(1, 11))
    assert Status(5).label == "Yêu cầu bổ sung giấy tờ"
    assert Status(10).label == "Đã trả kết quả"
    assert set(LABELS) == set(LABELS_ASCII) == set(Status)
    assert all(label.isascii() for label in LABELS_ASCII.values())


def test_final_statuses_lead_nowhere() -> None:
    assert FINAL == {Status.REFUSED, Status.RETURNED}
    assert FINAL <= SETTLED


def test_every_status_can_eventually_be_settled() -> None:
    for start in Status:
        seen, frontier = {start}, [start]
        while frontier:
            for nxt in ALLOWED[frontier.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
        assert seen & SETTLED, start


statuses = st.sampled_from(list(Status))


@given(statuses, statuses)
def test_apply_follows_the_table(current: Status, new: Status) -> None:
    d = dossier(current)
    ev = StatusChanged("e1", new, T0 + timedelta(hours=1), "tuphap", desk="Một cửa")
    if can_move(current, new):
        moved = apply(d, ev)
        assert moved.current
        assert moved.dossier.status == new
        assert moved.dossier.version == d.version + 1
        assert moved.dossier.holder == "Một cửa"
    else:
        with pytest.raises(InvalidTransition):
            apply(d, ev)


@given(statuses, statuses, st.integers(min_value=1, max_value=10**9))
def test_an_older_event_never_rolls_the_state_back(current: Status, new: Status, age: int) -> None:
    d = dossier(current)
    ev = StatusChanged("late", new, T0 - timedelta(microseconds=age), "tuphap")
    outcome = apply(d, ev)
    assert not outcome.current
    assert outcome.dossier == d


@given(st.lists(st.tuples(statuses, st.integers(-3600, 3600)), max_size=30))
def test_any_sequence_keeps_the_state_reachable_and_times_monotonic(
    steps: list[tuple[Status, int]],
) -> None:
    d = dossier()
    for i, (status, offset) in enumerate(steps):
        ev = StatusChanged(f"e{i}", status, d.updated_at + timedelta(seconds=offset), "tuphap")
        before = d
        try:
            d = apply(d, ev).dossier
        except InvalidTransition:
            assert not can_move(before.status, status)
            continue
        assert d.updated_at >= before.updated_at
        assert d.version in (before.version, before.version + 1)
        assert d.status == before.status or can_move(before.status, d.status)


def test_overdue_is_derived_from_the_appointment_date_not_a_status() -> None:
    d = dossier(Status.PROCESSING)
    assert not d.is_overdue(d.due_at)
    assert d.is_overdue(d.due_at + timedelta(seconds=1))
    assert not replace(d, status=Status.DONE).is_overdue(d.due_at + timedelta(days=1))
    assert replace(d, status=Status.SUPPLEMENT_REQUESTED).is_overdue(d.due_at + timedelta(days=1))
