"""Events that happen to a dossier, and how they move its state.

Events arrive at least once and out of order. An event is identified by its id (a repeat is
answered as before, by the store); an event older than the state it would change is kept in the
history but does not roll the state back.

An event may also give the dossier a new appointment (`due_at`: gia hạn, hẹn lại); only the
department sets one. Appointments are ordered by the time of the event that set them, apart from
statuses: a change older than the appointment in force is kept in the history without taking
effect, whatever the status did meanwhile, so a rescheduling replayed after a later status change
is not lost. An event the transition rules refuse is refused whole, its appointment too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from gateway.core.dossier import Dossier
from gateway.core.errors import InvalidDossier, InvalidTransition
from gateway.core.status import Status, can_move
from gateway.core.times import parse_time, to_micros

MAX_EVENT_ID = 128
MAX_NOTE = 2000
MAX_DESK = 200


@dataclass(frozen=True, slots=True)
class StatusChanged:
    """A department (or a station) says the dossier is now in `status`, at `at`; a counter scan
    says the paper reached `desk` (its status unchanged unless the station implies one)."""

    event_id: str
    status: Status | None  # None: the status stays as it is (a handoff only)
    at: datetime
    source: str
    note: str | None = None
    desk: str | None = None
    staff: str | None = None  # who received the paper (scans)
    due_at: datetime | None = None  # a new appointment the department sets (never a station)


@dataclass(frozen=True, slots=True)
class Applied:
    """The outcome of an event: the dossier after it, whether it moved the state, and whether
    its new appointment took effect."""

    dossier: Dossier
    current: bool  # False: older than the state, kept in history only
    rescheduled: bool = False  # True: the event's due_at is now the appointment


def parse_status_changed(body: dict[str, Any], source: str) -> StatusChanged:
    event_id = str(body["event_id"]).strip()
    if not event_id or len(event_id) > MAX_EVENT_ID:
        raise InvalidDossier(f"event_id: 1 to {MAX_EVENT_ID} characters")
    note = body.get("note")
    desk = body.get("desk")
    at = parse_time("at", body["at"])
    due_at = body.get("due_at")
    return StatusChanged(
        event_id=event_id,
        status=Status(body["status"]),
        at=at,
        source=source,
        note=_bounded("note", note, MAX_NOTE),
        desk=_bounded("desk", desk, MAX_DESK),
        due_at=None if due_at is None else _new_appointment(at, due_at),
    )


def _new_appointment(at: datetime, text: object) -> datetime:
    """A new appointment is set from the event's time on: one before it is a mistake."""
    due_at = parse_time("due_at", text)
    if due_at < at:
        raise InvalidDossier("due_at: before the event's at (a new appointment lies ahead of it)")
    return due_at


MAX_STAFF = 100


def parse_scan(
    body: dict[str, Any], station: str, desk: str, status: Status | None
) -> StatusChanged:
    """A counter scan as an event: the paper reached the station's desk (idempotent by
    station and sequence number)."""
    seq = body["seq"]
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise InvalidDossier("seq: a whole number from 0")
    return StatusChanged(
        event_id=f"scan:{station}:{seq}",
        status=status,
        at=parse_time("scanned_at", body["scanned_at"]),
        source=f"station:{station}",
        desk=_bounded("desk", desk, MAX_DESK),
        staff=_bounded("staff", body.get("staff"), MAX_STAFF),
    )


def _bounded(field: str, value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    cleaned = " ".join(value.split())
    if len(cleaned) > limit:
        raise InvalidDossier(f"{field}: at most {limit} characters")
    return cleaned or None


def apply(d: Dossier, ev: StatusChanged) -> Applied:
    """The dossier after `ev`; the store's atomic script must agree with this (tested)."""
    after, rescheduled = d, False
    if ev.due_at is not None and (d.due_set_at is None or ev.at >= d.due_set_at):
        after, rescheduled = replace(d, due_at=ev.due_at, due_set_at=ev.at), True
    if ev.at < d.updated_at:
        return Applied(after, current=False, rescheduled=rescheduled)
    status = d.status if ev.status is None else ev.status
    if not can_move(d.status, status):
        raise InvalidTransition(d.code, d.status, status)
    moved = replace(
        after,
        status=status,
        holder=ev.desk if ev.desk is not None else d.holder,
        updated_at=ev.at,
        version=d.version + 1,
    )
    return Applied(moved, current=True, rescheduled=rescheduled)


def fingerprint(ev: StatusChanged) -> str:
    """Equal for two deliveries of the same event; differs if an event id is reused."""
    canonical = {
        "status": None if ev.status is None else int(ev.status),
        "at": to_micros(ev.at),
        "note": ev.note,
        "desk": ev.desk,
        "staff": ev.staff,
    }
    if ev.due_at is not None:  # absent otherwise: events recorded before keep their fingerprint
        canonical["due_at"] = to_micros(ev.due_at)
    blob = json.dumps(canonical, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()
