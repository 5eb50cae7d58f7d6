"""A dossier's appointments read back from its history: ordered by when they were set, the one
in force marked, the registration's found even in histories written before appointments could
change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.core.appointments import appointments, in_force
from gateway.core.times import parse_time

DUE = "2024-04-26T17:00:00+07:00"
REGISTERED: dict[str, Any] = {
    "event_id": "registered",
    "status": 2,
    "at": "2024-04-23T08:30:00+07:00",
    "due_at": DUE,
    "source": "tuphap",
    "recorded_at": "2024-04-23T08:30:05+07:00",
}


def t(text: str) -> datetime:
    return parse_time("t", text)


def change(event_id: str, at: str, due: str, took: bool, previous: str | None = None) -> Any:
    entry: dict[str, Any] = {
        "event_id": event_id,
        "status": 4,
        "at": at,
        "due_at": due,
        "rescheduled": took,
        "note": f"lý do {event_id}",
        "source": "tuphap",
    }
    if took:
        entry["previous_due_at"] = previous
    return entry


def test_a_dossier_never_rescheduled_has_the_registrations_appointment_in_force() -> None:
    [only] = appointments([REGISTERED, {"event_id": "a", "status": 4, "at": "x"}], t(DUE))
    assert (only.due_at, only.event_id, only.current, only.postponed) == (
        t("2024-04-26T17:00:00+07:00"),
        "registered",
        True,
        False,
    )


def test_changes_are_ordered_by_when_they_were_set_and_the_one_in_force_is_marked() -> None:
    history = [
        REGISTERED,
        change(
            "b",
            "2024-04-25T10:00:00+07:00",
            "2024-05-03T17:00:00+07:00",
            True,
            DUE,
        ),
        change("a", "2024-04-24T10:00:00+07:00", "2024-04-30T17:00:00+07:00", False),
    ]
    found = appointments(history, t("2024-05-03T17:00:00+07:00"))
    assert [a.event_id for a in found] == ["registered", "a", "b"]
    current = in_force(found)
    assert current is not None
    assert (current.event_id, current.reason, current.postponed) == ("b", "lý do b", True)
    assert current.replaced == t("2024-04-26T17:00:00+07:00")


def test_an_appointment_brought_forward_is_not_a_postponement() -> None:
    history = [
        REGISTERED,
        change(
            "c",
            "2024-04-24T10:00:00+07:00",
            "2024-04-25T17:00:00+07:00",
            True,
            DUE,
        ),
    ]
    current = in_force(appointments(history, t("2024-04-25T17:00:00+07:00")))
    assert current is not None
    assert not current.postponed


def test_a_registration_recorded_before_appointments_were_kept_is_found_from_the_first_change() -> (
    None
):
    legacy = {k: v for k, v in REGISTERED.items() if k != "due_at"}
    assert appointments([legacy], t("2024-04-26T17:00:00+07:00"))[0].due_at == t(
        "2024-04-26T17:00:00+07:00"
    )
    history = [
        legacy,
        change(
            "d",
            "2024-04-25T10:00:00+07:00",
            "2024-05-03T17:00:00+07:00",
            True,
            "2024-04-26T17:00:00+07:00",
        ),
    ]
    first, second = appointments(history, t("2024-05-03T17:00:00+07:00"))
    assert (first.due_at, first.current, second.current) == (
        t("2024-04-26T17:00:00+07:00"),
        False,
        True,
    )
