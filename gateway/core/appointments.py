"""A dossier's appointments (ngày hẹn trả): the registration's, then each one a department set
with an event (gia hạn, hẹn lại), read back from the dossier's history.

The history is the record: the registration's entry carries its `due_at`; an event that set a
new appointment carries `due_at`, whether it took effect (`rescheduled`: false when an
appointment set by a later event was already in force) and, when it did, the appointment it
replaced (`previous_due_at`). Nothing else is stored, so the list cannot drift from the history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.core.times import parse_time

REGISTERED = "registered"  # the event id of the registration's history entry


@dataclass(frozen=True, slots=True)
class Appointment:
    due_at: datetime
    set_at: datetime  # the time of the event that set it; received_at for the registration's
    event_id: str  # "registered" for the registration's
    source: str | None  # the department (or "demo", "bench"...) that set it
    reason: str | None  # the note of the event that set it
    recorded_at: str | None  # when the gateway recorded it (ISO, as in the history)
    current: bool  # the appointment in force
    replaced: datetime | None = None  # the appointment in force before it, when it took effect

    @property
    def postponed(self) -> bool:
        """Set by an event and later than the appointment it replaced (a citizen is owed an
        apology and the new date)."""
        return self.replaced is not None and self.due_at > self.replaced


def appointments(history: Sequence[Mapping[str, Any]], due_at: datetime) -> list[Appointment]:
    """Every appointment the dossier had, ordered by the time it was set (oldest first; equal
    times in the order they were recorded). `due_at` is the dossier's appointment in force: the
    registration's when its entry predates appointments in the history."""
    if not history:
        return []
    first, events = history[0], history[1:]
    changes = [e for e in events if e.get("due_at")]
    took_effect = [e for e in changes if e.get("rescheduled")]
    registered_due = _time("due_at", first.get("due_at"))
    if registered_due is None:  # recorded before appointments were kept in the history
        first_replaced = took_effect[0].get("previous_due_at") if took_effect else None
        registered_due = _time("previous_due_at", first_replaced) or due_at
    in_force = took_effect[-1] if took_effect else None
    found = [
        Appointment(
            due_at=registered_due,
            set_at=parse_time("at", first["at"]),
            event_id=str(first.get("event_id", REGISTERED)),
            source=first.get("source"),
            reason=None,
            recorded_at=first.get("recorded_at"),
            current=in_force is None,
        )
    ]
    for entry in changes:
        found.append(
            Appointment(
                due_at=parse_time("due_at", entry["due_at"]),
                set_at=parse_time("at", entry["at"]),
                event_id=str(entry["event_id"]),
                source=entry.get("source"),
                reason=entry.get("note"),
                recorded_at=entry.get("recorded_at"),
                current=entry is in_force,
                replaced=_time("previous_due_at", entry.get("previous_due_at")),
            )
        )
    return sorted(found, key=lambda a: a.set_at)  # stable: equal times keep their order


def in_force(found: Sequence[Appointment]) -> Appointment | None:
    return next((a for a in found if a.current), None)


def _time(field: str, value: object) -> datetime | None:
    return None if value is None else parse_time(field, value)
