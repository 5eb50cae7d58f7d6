"""Outbound SMS as the dashboard finds them (`/admin/messages`, `/admin/api/messages`): a search
by phone (typed any way, normalised) or dossier code reads that number's or dossier's index in
the outbox (every SMS, newest first); a search by state alone reads the newest `MESSAGE_WINDOW`
SMS by id (`SmsRecords.newest_ids`; `OFFICE_MESSAGE_WINDOW` for a user of some offices).
Phone numbers are masked in every row (DESIGN 5).

A user of one office (`admin_auth.visible_offices`) sees only the SMS about its offices'
dossiers (an SMS names its dossier); an SMS about no dossier (a reply to a citizen's text that
named none) is the province's, seen by province roles only. So a search by another office's
citizen's phone finds nothing, as for a number never texted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway.core.errors import InvalidPhone
from gateway.core.phones import mask_phone, normalise_phone
from gateway.core.roles import SHARED_POOL, sees
from gateway.core.times import format_time
from gateway.http import admin_auth as auth
from gateway.http.context import services

MESSAGE_WINDOW = 5_000  # how many of the newest SMS a search by state alone reads
# ... for a user of some offices, whose SMS are a few among the province's (the search stops
# as soon as a page of rows is found, so this many are read only when there are few)
OFFICE_MESSAGE_WINDOW = 100_000
INDEX_READ = 10_000  # how many SMS of one phone or dossier a search reads, newest first
MESSAGE_BATCH = 500
MAX_ROWS = 200  # rows shown / returned per search (of messages and of dossiers)
SMS_FIELDS = (
    "id",
    "to",
    "text",
    "priority",
    "state",
    "modem",
    "attempts",
    "kind",
    "dossier",
    "error",
    "created_ms",
    "updated_ms",
    "resend_of",
    "resent_as",
)


def _ms_time(value: str | None) -> str | None:
    if not value or not value.isdigit():
        return None
    return format_time(datetime.fromtimestamp(int(value) // 1000, UTC))


def phone_or_none(typed: str) -> str | None:
    try:
        return normalise_phone(typed)
    except InvalidPhone:
        return None


def message_row(raw: dict[str, str]) -> dict[str, Any]:
    """One SMS as the dashboard shows it: the number masked, never in full."""
    return {
        "id": raw.get("id", ""),
        "to": mask_phone(raw.get("to", "")),
        "text": raw.get("text", ""),
        "priority": int(raw.get("priority") or 0),
        "state": raw.get("state", ""),
        "modem": raw.get("modem") or None,
        "attempts": int(raw.get("attempts") or 0),
        "kind": raw.get("kind") or None,
        "dossier": raw.get("dossier") or None,
        "error": raw.get("error") or None,
        "created_at": _ms_time(raw.get("created_ms")),
        "updated_at": _ms_time(raw.get("updated_ms")),
        "resend_of": raw.get("resend_of") or None,
        "resent_as": raw.get("resent_as") or None,
    }


def visible_message(raw: dict[str, str], offices: dict[str, str]) -> bool:
    """Whether the user sees the SMS `raw`: its dossier's office (`offices`: code -> office)
    is one the user sees; an SMS about no dossier (or an unknown one) is the province's."""
    return sees(auth.visible_offices(), offices.get(raw.get("dossier") or "", SHARED_POOL))


def _office(code: str) -> str:
    return services().dossiers.offices_of([code]).get(code, SHARED_POOL)


def message_of(message_id: str) -> dict[str, str] | None:
    """The stored SMS `message_id`, if the user sees it (else None, as for an unknown id)."""
    values = services().sms_records.fields([message_id], SMS_FIELDS)
    raw = {k: v for k, v in zip(SMS_FIELDS, values[0], strict=True) if v is not None}
    if not raw.get("id"):
        return None
    offices = services().dossiers.offices_of([raw.get("dossier") or ""])
    return raw if visible_message(raw, offices) else None


def search_messages(phone: str, dossier: str, state: str) -> dict[str, Any]:
    """The newest SMS matching every filter given: through the index of the phone or dossier
    when one is given, else within the newest `MESSAGE_WINDOW` ids; only those the user sees
    (`visible_message`)."""
    svc = services()
    scoped = auth.visible_offices() is not None
    wanted_phone = phone_or_none(phone) if phone.strip() else None
    if phone.strip() and wanted_phone is None:
        return {"error": "Số điện thoại không hợp lệ.", "messages": [], "truncated": False}
    wanted_dossier = ""
    if dossier.strip():
        found = svc.dossiers.find(dossier)
        if found is not None and scoped:  # another office's dossier is not named back
            found = found if sees(auth.visible_offices(), _office(found)) else None
        wanted_dossier = found or dossier.strip()
    window: int | None = None
    if wanted_phone or wanted_dossier:
        ids = svc.outbox.ids_for(phone=wanted_phone or "", dossier=wanted_dossier, limit=INDEX_READ)
    else:
        window = OFFICE_MESSAGE_WINDOW if scoped else MESSAGE_WINDOW
        ids = svc.sms_records.newest_ids(window)
    rows: list[dict[str, Any]] = []
    truncated = False
    for start in range(0, len(ids), MESSAGE_BATCH):
        batch = [
            {k: v for k, v in zip(SMS_FIELDS, values, strict=True) if v is not None}
            for values in svc.sms_records.fields(ids[start : start + MESSAGE_BATCH], SMS_FIELDS)
        ]
        offices = (
            svc.dossiers.offices_of(r["dossier"] for r in batch if r.get("dossier"))
            if scoped
            else {}
        )
        for raw in batch:
            if not raw.get("id"):
                continue
            if scoped and not visible_message(raw, offices):
                continue
            if wanted_phone is not None and raw.get("to") != wanted_phone:
                continue
            if wanted_dossier and raw.get("dossier") != wanted_dossier:
                continue
            if state and raw.get("state") != state:
                continue
            if len(rows) >= MAX_ROWS:
                truncated = True
                break
            rows.append(message_row(raw))
        if truncated:
            break
    return {
        "error": None,
        "messages": rows,
        "truncated": truncated,
        "window": window,
        "dossier": wanted_dossier or None,
        "phone": mask_phone(wanted_phone) if wanted_phone else None,
    }
