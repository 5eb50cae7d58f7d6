"""Dashboard pages and admin JSON API for outbound SMS and dossiers, under /admin/.

- Messages: search the outbound SMS by phone (typed any way, normalised) or dossier code, and
  by state; re-queue a failed one as a new SMS (admins only). Phone numbers are masked in every
  answer (DESIGN 5). A search by phone or dossier reads the outbox's index of that number or
  dossier (every SMS, newest first); a search by state alone reads the newest `MESSAGE_WINDOW`
  SMS by id (`SmsRecords.newest_ids`).
- Dossiers: search by sloppy full or short code (`DossierStore.find`) or phone; one dossier's
  status, appointments (the registration's, then each new one a department set), history and
  handoff record (only a code `find` resolves is ever read: a typed path never becomes part of a
  Redis key name); every open dossier past its appointment, whatever SMS went out about it, from
  the index of open dossiers by appointment (`DossierStore.open_by_due`, which the charts read
  too), each reloaded and kept only while it is overdue and not finished.
- Pages show times with the `when` filter (Vietnam's time, dd/mm/yyyy HH:MM) and statuses with
  their Vietnamese labels; the JSON API keeps ISO 8601 times (with the +07:00 offset).
Who reads and who resends is `gateway.core.roles` (asked through `admin_auth`); a user of one
office sees only its offices' dossiers and the SMS about them (`dossier_rows`, `message_rows`):
another office's dossier or SMS, asked by its code or id, answers 404 like an unknown one.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gateway.core.roles import Permission
from gateway.core.sms_text import PURPOSES
from gateway.http import admin_auth as auth
from gateway.http.context import services
from gateway.http.dossier_rows import (
    OVERDUE_LIMIT,
    dossier_detail,
    overdue_rows,
    search_dossiers,
)
from gateway.http.message_rows import message_of, search_messages
from gateway.http.problems import Problem

log = logging.getLogger(__name__)

bp = Blueprint("admin_records", __name__, url_prefix="/admin")

MAX_TYPED = 64  # a typed code longer than this names no dossier
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


def _not_found(what: str) -> ResponseReturnValue:
    if auth.is_api():
        raise Problem(404, "not-found", "Not Found", what)
    page = render_template("admin/error.html", message=what, title="Không tìm thấy")
    return Response(page, status=404, mimetype="text/html")


# -- messages --------------------------------------------------------------------------------


def _filters() -> tuple[str, str, str]:
    state = request.args.get("state", "").strip()
    if state and state not in SMS_STATE_LABELS:
        state = ""
    return request.args.get("phone", ""), request.args.get("dossier", ""), state


def resend(message_id: str) -> str:
    """Queues a copy of a failed SMS; the same failed SMS resent twice gives the same copy."""
    svc = services()
    now_ms = int(svc.clock() * 1000)
    if message_of(message_id) is None:  # unknown, or about another office's dossier
        raise Problem(404, "not-found", "Not Found", f"No SMS {message_id}.")
    try:
        new_id = svc.outbox.resend(message_id, now_ms)
    except LookupError as exc:
        raise Problem(404, "not-found", "Not Found", str(exc)) from None
    except ValueError as exc:
        raise Problem(409, "not-failed", "Conflict", str(exc)) from None
    log.info("admin.resend user=%s sms=%s new=%s", auth.user().username, message_id, new_id)
    return new_id


@bp.get("/messages")
@auth.login_required(Permission.READ_MESSAGES)
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
@auth.login_required(Permission.RESEND)
def messages_resend(message_id: str) -> ResponseReturnValue:
    try:
        new_id = resend(message_id)
    except Problem as problem:
        message = RESEND_REFUSED.get(problem.status, "Không gửi lại được tin nhắn này.")
        page = render_template("admin/error.html", message=message, title="Không gửi lại")
        return Response(page, status=problem.status, mimetype="text/html")
    return redirect(url_for("admin_records.messages", resent=new_id))


@bp.get("/api/messages")
@auth.login_required(Permission.READ_MESSAGES)
def api_messages() -> ResponseReturnValue:
    phone, dossier, state = _filters()
    found = search_messages(phone, dossier, state)
    if found["error"]:
        raise Problem(400, "invalid-phone", "Bad Request", "The phone number is not valid.")
    return jsonify(found)


@bp.post("/api/messages/<message_id>/resend")
@auth.login_required(Permission.RESEND)
def api_messages_resend(message_id: str) -> ResponseReturnValue:
    new_id = resend(message_id)
    return jsonify({"id": new_id, "resend_of": message_id}), 201


# -- dossiers --------------------------------------------------------------------------------


@bp.get("/dossiers")
@auth.login_required(Permission.READ_DOSSIERS)
def dossiers_page() -> ResponseReturnValue:
    q = request.args.get("q", "")
    return render_template("admin/dossiers.html", q=q, rows=search_dossiers(q), searched=bool(q))


def _detail_of_typed(typed: str) -> dict[str, Any] | None:
    """The dossier a typed code names (through the lookup index only), or None."""
    code = services().dossiers.find(typed[:MAX_TYPED])
    return None if code is None else dossier_detail(code)


@bp.get("/dossiers/<path:code>")
@auth.login_required(Permission.READ_DOSSIERS)
def dossier_page(code: str) -> ResponseReturnValue:
    found = _detail_of_typed(code)
    if found is None:
        return _not_found("Không có hồ sơ nào với mã này.")
    return render_template("admin/dossier.html", d=found)


@bp.get("/overdue")
@auth.login_required(Permission.READ_DOSSIERS)
def overdue_page() -> ResponseReturnValue:
    rows, truncated = overdue_rows()
    return render_template(
        "admin/overdue.html", rows=rows, truncated=truncated, limit=OVERDUE_LIMIT, live=True
    )


@bp.get("/api/dossiers")
@auth.login_required(Permission.READ_DOSSIERS)
def api_dossiers() -> ResponseReturnValue:
    return jsonify({"dossiers": search_dossiers(request.args.get("q", ""))})


@bp.get("/api/dossiers/<path:code>")
@auth.login_required(Permission.READ_DOSSIERS)
def api_dossier(code: str) -> ResponseReturnValue:
    found = _detail_of_typed(code)
    if found is None:
        return _not_found("No dossier with this code.")
    return jsonify(found)


@bp.get("/api/overdue")
@auth.login_required(Permission.READ_DOSSIERS)
def api_overdue() -> ResponseReturnValue:
    rows, truncated = overdue_rows()
    return jsonify({"overdue": rows, "limit": OVERDUE_LIMIT, "truncated": truncated})
