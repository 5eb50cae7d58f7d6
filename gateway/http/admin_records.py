"""Dashboard pages and admin JSON API for outbound SMS and dossiers, under /admin/.

- Messages: search the outbound SMS by phone (typed any way, normalised) or dossier code, and
  by state; re-queue a failed one as a new SMS (admins only). Phone numbers are masked in every
  answer (DESIGN 5). A search by phone or dossier reads the outbox's index of that number or
  dossier (every SMS, newest first); a search by state alone reads the newest `MESSAGE_WINDOW`
  SMS by id (ids are INCR counters, so walking down from `hoso:counter:sms` is newest first).
- Dossiers: search by sloppy full or short code (`DossierStore.find`) or phone; one dossier's
  status, appointments (the registration's, then each new one a department set), history and
  handoff record (only a code `find` resolves is ever read: a typed path
  never becomes part of a Redis key name); every open dossier past its appointment, whatever SMS
  went out about it, from the notification engine's index `keys.open_by_due()` (`open_codes`,
  the one reader of that index for the pages and the charts), each reloaded and kept only while
  it is overdue and not finished.
- Pages show times with the `when` filter (Vietnam's time, dd/mm/yyyy HH:MM) and statuses with
  their Vietnamese labels; the JSON API keeps ISO 8601 times (with the +07:00 offset).
Everyone logged in reads; only the role "admin" resends (see `admin_auth`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gateway.core.appointments import appointments
from gateway.core.errors import InvalidPhone
from gateway.core.handoffs import handoffs
from gateway.core.phones import mask_phone, normalise_phone
from gateway.core.sms_text import PURPOSES
from gateway.core.status import Status
from gateway.core.times import format_time, to_micros
from gateway.http import admin_auth as auth
from gateway.http.answers import appointment_ref
from gateway.http.context import services
from gateway.http.problems import Problem
from gateway.store import keys
from gateway.store.errors import UnknownDossier
from gateway.store.outbox import Outbox
from gateway.store.stations import Stations
from gateway.store.users import Role

log = logging.getLogger(__name__)

bp = Blueprint("admin_records", __name__, url_prefix="/admin")

MESSAGE_WINDOW = 5_000  # how many of the newest SMS a search by state alone reads
INDEX_READ = 10_000  # how many SMS of one phone or dossier a search reads, newest first
MESSAGE_BATCH = 500
MAX_ROWS = 200  # rows shown / returned per search
OVERDUE_LIMIT = 1_000
MAX_TYPED = 64  # a typed code longer than this names no dossier
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
SMS_STATE_LABELS = {
    "queued": "Chờ gửi",
    "claimed": "Đã nhận gửi",
    "submitting": "Đang gửi",
    "submitted": "Đã gửi",
    "delivered": "Đã đến máy",
    "failed": "Thất bại",
}
KIND_LABELS = {"reply": "Trả lời", "notice": "Thông báo"}
RESEND_REFUSED = {
    404: "Không có tin nhắn này.",
    409: "Chỉ gửi lại được tin nhắn thất bại (tin này không thất bại, hoặc đã được gửi lại).",
}


auth.install_pages(
    bp, sms_state_labels=SMS_STATE_LABELS, kind_labels=KIND_LABELS, purposes=PURPOSES
)


def _now() -> datetime:
    return datetime.fromtimestamp(services().clock(), UTC)


def _ms_time(value: str | None) -> str | None:
    if not value or not value.isdigit():
        return None
    return format_time(datetime.fromtimestamp(int(value) // 1000, UTC))


def _not_found(what: str) -> ResponseReturnValue:
    if auth.is_api():
        raise Problem(404, "not-found", "Not Found", what)
    page = render_template("admin/error.html", message=what, title="Không tìm thấy")
    return Response(page, status=404, mimetype="text/html")


# -- messages --------------------------------------------------------------------------------


def _phone_or_none(typed: str) -> str | None:
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
    client = svc.redis
    wanted_phone = _phone_or_none(phone) if phone.strip() else None
    if phone.strip() and wanted_phone is None:
        return {"error": "Số điện thoại không hợp lệ.", "messages": [], "truncated": False}
    wanted_dossier = ""
    if dossier.strip():
        wanted_dossier = svc.dossiers.find(dossier) or dossier.strip()
    window: int | None = None
    if wanted_phone or wanted_dossier:
        ids = Outbox(client).ids_for(
            phone=wanted_phone or "", dossier=wanted_dossier, limit=INDEX_READ
        )
    else:
        top = int(cast(str | None, client.get(keys.sms_counter())) or 0)
        window = MESSAGE_WINDOW
        ids = [str(i) for i in range(top, max(top - MESSAGE_WINDOW, 0), -1)]
    rows: list[dict[str, Any]] = []
    truncated = False
    for start in range(0, len(ids), MESSAGE_BATCH):
        pipe = client.pipeline(transaction=False)
        for message_id in ids[start : start + MESSAGE_BATCH]:
            pipe.hmget(keys.sms(message_id), SMS_FIELDS)
        for values in pipe.execute():
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


def _filters() -> tuple[str, str, str]:
    state = request.args.get("state", "").strip()
    if state and state not in SMS_STATE_LABELS:
        state = ""
    return request.args.get("phone", ""), request.args.get("dossier", ""), state


def resend(message_id: str) -> str:
    """Queues a copy of a failed SMS; the same failed SMS resent twice gives the same copy."""
    svc = services()
    now_ms = int(svc.clock() * 1000)
    try:
        new_id = Outbox(svc.redis).resend(message_id, now_ms)
    except LookupError as exc:
        raise Problem(404, "not-found", "Not Found", str(exc)) from None
    except ValueError as exc:
        raise Problem(409, "not-failed", "Conflict", str(exc)) from None
    log.info("admin.resend user=%s sms=%s new=%s", auth.user().username, message_id, new_id)
    return new_id


@bp.get("/messages")
@auth.login_required()
def messages() -> ResponseReturnValue:
    phone, dossier, state = _filters()
    found = search_messages(phone, dossier, state)
    return render_template(
        "admin/messages.html",
        found=found,
        phone=phone,
        dossier=dossier,
        state=state,
        resent=request.args.get("resent"),
    )


@bp.post("/messages/<message_id>/resend")
@auth.login_required(Role.ADMIN)
def messages_resend(message_id: str) -> ResponseReturnValue:
    try:
        new_id = resend(message_id)
    except Problem as problem:
        message = RESEND_REFUSED.get(problem.status, "Không gửi lại được tin nhắn này.")
        page = render_template("admin/error.html", message=message, title="Không gửi lại")
        return Response(page, status=problem.status, mimetype="text/html")
    return redirect(url_for("admin_records.messages", resent=new_id))


@bp.get("/api/messages")
@auth.login_required()
def api_messages() -> ResponseReturnValue:
    phone, dossier, state = _filters()
    found = search_messages(phone, dossier, state)
    if found["error"]:
        raise Problem(400, "invalid-phone", "Bad Request", "The phone number is not valid.")
    return jsonify(found)


@bp.post("/api/messages/<message_id>/resend")
@auth.login_required(Role.ADMIN)
def api_messages_resend(message_id: str) -> ResponseReturnValue:
    new_id = resend(message_id)
    return jsonify({"id": new_id, "resend_of": message_id}), 201


# -- dossiers --------------------------------------------------------------------------------


def dossier_summary(code: str, now: datetime) -> dict[str, Any] | None:
    try:
        d = services().dossiers.get(code)
    except UnknownDossier:
        return None
    return {
        "code": d.code,
        "short_code": d.short_code,
        "department": d.department,
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
    phone = _phone_or_none(typed)
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
    assert summary is not None
    allowed = Stations(svc.redis).allowed_hours_by_desk()
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


def open_codes(until: datetime | None, limit: int) -> tuple[list[str], bool]:
    """Open dossiers by appointment time, the earliest first (only those due by `until`, when
    given), at most `limit`; True when there were more."""
    top: float | str = "+inf" if until is None else to_micros(until) // 1000
    found = [
        str(c)
        for c in services().redis.zrangebyscore(
            keys.open_by_due(), "-inf", top, start=0, num=limit + 1
        )
    ]
    return found[:limit], len(found) > limit


def overdue_rows() -> tuple[list[dict[str, Any]], bool]:
    """Every open dossier past its appointment, the latest first (most late first); True when
    there were more than `OVERDUE_LIMIT`."""
    now = _now()
    codes, truncated = open_codes(now, OVERDUE_LIMIT)
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


@bp.get("/dossiers")
@auth.login_required()
def dossiers_page() -> ResponseReturnValue:
    q = request.args.get("q", "")
    return render_template("admin/dossiers.html", q=q, rows=search_dossiers(q), searched=bool(q))


def _detail_of_typed(typed: str) -> dict[str, Any] | None:
    """The dossier a typed code names (through the lookup index only), or None."""
    code = services().dossiers.find(typed[:MAX_TYPED])
    return None if code is None else dossier_detail(code)


@bp.get("/dossiers/<path:code>")
@auth.login_required()
def dossier_page(code: str) -> ResponseReturnValue:
    found = _detail_of_typed(code)
    if found is None:
        return _not_found("Không có hồ sơ nào với mã này.")
    return render_template("admin/dossier.html", d=found)


@bp.get("/overdue")
@auth.login_required()
def overdue_page() -> ResponseReturnValue:
    rows, truncated = overdue_rows()
    return render_template(
        "admin/overdue.html", rows=rows, truncated=truncated, limit=OVERDUE_LIMIT, live=True
    )


@bp.get("/api/dossiers")
@auth.login_required()
def api_dossiers() -> ResponseReturnValue:
    return jsonify({"dossiers": search_dossiers(request.args.get("q", ""))})


@bp.get("/api/dossiers/<path:code>")
@auth.login_required()
def api_dossier(code: str) -> ResponseReturnValue:
    found = _detail_of_typed(code)
    if found is None:
        return _not_found("No dossier with this code.")
    return jsonify(found)


@bp.get("/api/overdue")
@auth.login_required()
def api_overdue() -> ResponseReturnValue:
    rows, truncated = overdue_rows()
    return jsonify({"overdue": rows, "limit": OVERDUE_LIMIT, "truncated": truncated})
