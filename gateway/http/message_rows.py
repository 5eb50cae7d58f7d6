"""Outbound SMS as the dashboard finds them (`/admin/messages`, `/admin/api/messages`): a search
by phone (typed any way, normalised) or dossier code reads that number's or dossier's index in
the outbox (every SMS, newest first); a search by state alone reads the newest `MESSAGE_WINDOW`
SMS by id (`SmsRecords.newest_ids`). Phone numbers are masked in every row (DESIGN 5).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway.core.errors import InvalidPhone
from gateway.core.phones import mask_phone, normalise_phone
from gateway.core.times import format_time
from gateway.http.context import services

MESSAGE_WINDOW = 5_000  # how many of the newest SMS a search by state alone reads
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


def search_messages(phone: str, dossier: str, state: str) -> dict[str, Any]:
    """The newest SMS matching every filter given: through the index of the phone or dossier
    when one is given, else within the newest `MESSAGE_WINDOW` ids."""
    svc = services()
    wanted_phone = phone_or_none(phone) if phone.strip() else None
    if phone.strip() and wanted_phone is None:
        return {"error": "Số điện thoại không hợp lệ.", "messages": [], "truncated": False}
    wanted_dossier = ""
    if dossier.strip():
        wanted_dossier = svc.dossiers.find(dossier) or dossier.strip()
    window: int | None = None
    if wanted_phone or wanted_dossier:
        ids = svc.outbox.ids_for(phone=wanted_phone or "", dossier=wanted_dossier, limit=INDEX_READ)
    else:
        window = MESSAGE_WINDOW
        ids = svc.sms_records.newest_ids(MESSAGE_WINDOW)
    rows: list[dict[str, Any]] = []
    truncated = False
    for start in range(0, len(ids), MESSAGE_BATCH):
        for values in svc.sms_records.fields(ids[start : start + MESSAGE_BATCH], SMS_FIELDS):
            raw = {k: v for k, v in zip(SMS_FIELDS, values, strict=True) if v is not None}
            if not raw.get("id"):
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
