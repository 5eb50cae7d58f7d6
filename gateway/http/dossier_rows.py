"""Dossiers as the dashboard shows them: a summary per dossier (phones masked), one dossier's
appointments, history and handoff record, and every open dossier past its appointment, whatever
SMS went out about it (`DossierStore.open_by_due`, each reloaded and kept only while it is overdue
and not finished). Times are ISO 8601 with Vietnam's offset; pages format them with the `when`
filter. Only dossiers of the offices the user sees (`admin_auth.visible_offices`): another
office's dossier is left out of every list and, asked by its code, is unknown.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.core.appointments import appointments
from gateway.core.handoffs import handoffs
from gateway.core.phones import mask_phone
from gateway.core.roles import sees
from gateway.core.status import Status
from gateway.core.times import format_time
from gateway.http import admin_auth as auth
from gateway.http.answers import appointment_ref
from gateway.http.context import services
from gateway.http.message_rows import MAX_ROWS, phone_or_none
from gateway.store.errors import UnknownDossier

OVERDUE_LIMIT = 1_000
SCAN_BATCH = 2_000  # open dossiers read at a time when only some offices' are wanted
SCAN_LIMIT = 100_000  # and at most this many (the answer says it stopped early)


def _now() -> datetime:
    return datetime.fromtimestamp(services().clock(), UTC)


def dossier_summary(code: str, now: datetime) -> dict[str, Any] | None:
    """The dossier's row, or None when it is unknown or of an office the user does not see."""
    try:
        d = services().dossiers.get(code)
    except UnknownDossier:
        return None
    if not sees(auth.visible_offices(), d.office):
        return None
    return {
        "code": d.code,
        "short_code": d.short_code,
        "department": d.department,
        "office": d.office,
        "procedure_code": d.procedure_code,
        "procedure_name": d.procedure_name,
        "status": int(d.status),
        "status_label": d.status.label,
        "holder": d.holder,
        "received_at": format_time(d.received_at),
        "due_at": format_time(d.due_at),
        "overdue": d.is_overdue(now),
        "phones": [mask_phone(p) for p in d.phones],
    }


def search_dossiers(typed: str) -> list[dict[str, Any]]:
    typed = typed.strip()
    if not typed:
        return []
    svc = services()
    codes: set[str] = set()
    found = svc.dossiers.find(typed)
    if found is not None:
        codes.add(found)
    phone = phone_or_none(typed)
    if phone is not None:
        codes |= svc.dossiers.codes_of_phone(phone)
    now = _now()
    rows = [r for c in sorted(codes)[:MAX_ROWS] if (r := dossier_summary(c, now)) is not None]
    return rows


def _hours(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds() / 3600, 2)


def dossier_detail(code: str) -> dict[str, Any] | None:
    svc = services()
    try:
        d, history = svc.dossiers.get_with_history(code)
    except UnknownDossier:
        return None
    summary = dossier_summary(code, _now())
    if summary is None:  # of an office the user does not see (or gone meanwhile)
        return None
    allowed = svc.stations.allowed_hours_by_desk()
    summary["history"] = [
        {
            "event_id": e.get("event_id"),
            "status": e.get("status"),
            "status_label": _status_label(e.get("status")),
            "at": e.get("at"),
            "desk": e.get("desk"),
            "staff": e.get("staff"),
            "note": e.get("note"),
            "source": e.get("source"),
            "recorded_at": e.get("recorded_at"),
            "current": e.get("current", True),
        }
        for e in history
    ]
    summary["handoffs"] = [
        {
            "from_desk": h.from_desk,
            "to_desk": h.to_desk,
            "handed_over_by": h.handed_over_by,
            "received_by": h.received_by,
            "at": format_time(h.at),
            "hours_at_previous": _hours(h.time_at_previous),
            "allowed_hours_at_previous": _hours(h.allowed_at_previous),
            "late": h.late,
        }
        for h in handoffs(history, allowed)
    ]
    summary["appointments"] = [appointment_ref(a) for a in appointments(history, d.due_at)]
    summary["version"] = d.version
    summary["applicant_name"] = d.applicant_name
    return summary


def _status_label(value: Any) -> str | None:
    try:
        return Status(int(value)).label
    except (TypeError, ValueError):
        return None


def open_by_due(until: datetime | None, limit: int) -> tuple[list[str], bool]:
    """The open dossiers by appointment the user sees (`DossierStore.open_by_due`): for a user
    of some offices, the province's index read in batches, each batch's offices in one round
    trip, until `limit` of theirs are found (at most `SCAN_LIMIT` read); True when there were
    more (or the scan stopped)."""
    store = services().dossiers
    visible = auth.visible_offices()
    if visible is None:
        return store.open_by_due(until, limit)
    found: list[str] = []
    start = 0
    while start < SCAN_LIMIT:
        codes, more = store.open_by_due(until, SCAN_BATCH, start)
        offices = store.offices_of(codes)
        found += [c for c in codes if offices.get(c) in visible]
        if len(found) > limit:
            return found[:limit], True
        if not more:
            return found, False
        start += len(codes)
    return found, True


def overdue_rows() -> tuple[list[dict[str, Any]], bool]:
    """Every open dossier past its appointment, the latest first (most late first); True when
    there were more than `OVERDUE_LIMIT`."""
    now = _now()
    codes, truncated = open_by_due(now, OVERDUE_LIMIT)
    rows = []
    for code in codes:
        summary = dossier_summary(code, now)
        if summary is None or not summary["overdue"]:
            continue  # finished, or given a later appointment, since the index was written
        late = now - datetime.fromisoformat(summary["due_at"])
        summary["late_hours"] = round(late.total_seconds() / 3600, 1)
        summary["late_text"] = _late_text(late)
        rows.append(summary)
    rows.sort(key=lambda r: -float(r["late_hours"]))
    return rows, truncated


def _late_text(late: timedelta) -> str:
    days, seconds = late.days, late.seconds
    hours = seconds // 3600
    if days:
        return f"{days} ngày {hours} giờ"
    return f"{hours} giờ {(seconds % 3600) // 60} phút"
