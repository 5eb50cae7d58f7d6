"""The administrators' dashboard (Vietnamese pages) and the admin JSON API, under /admin/.

Pages and API do the same things through the same functions: the modem pool (live state,
disable / re-enable / caps / un-quarantine, applied live by the modem service through
`ModemRegistry`) and the SMS templates (list, edit, preview). Who may read and change what is
`gateway.core.roles` (asked through `admin_auth.require`); a modem of an office the user does not
see (`admin_auth.visible_offices`) is left out and answers 404 like an unknown one.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gateway.core.modem_changes import (
    CAP_FIELDS,
    MAX_CAP,
    InvalidModemChange,
    parse_text_changes,
)
from gateway.core.roles import Permission
from gateway.core.sms_text import (
    DEFAULT_TEMPLATES,
    PLACEHOLDERS,
    PURPOSES,
    TemplateError,
)
from gateway.http import admin_auth as auth
from gateway.http.context import services
from gateway.http.pool_rows import modem_row, modem_rows
from gateway.http.problems import Problem
from gateway.http.proxies import client_address
from gateway.http.template_rows import (
    may_change,
    office_or_404,
    preview,
    require_change,
    template_json,
    template_or_404,
    template_problem,
    templates,
)
from gateway.store.modems import ModemNotInPool
from gateway.store.users import LoginOutcome

log = logging.getLogger(__name__)

bp = Blueprint(
    "admin",
    __name__,
    url_prefix="/admin",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
bp.record_once(auth.configure)

LOGIN_FAILED = "Sai tên đăng nhập hoặc mật khẩu."

STATE_LABELS = {
    "up": "Hoạt động",
    "down": "Mất kết nối",
    "quarantined": "Cách ly",
    "disabled": "Đã tắt",
    "pending": "Đang bật lại",
}
# What a button did, as the confirmation shown after it (flash): the modem's id fills {modem}.
DONE = {
    "disable": "Đã tắt modem {modem}: không gửi tin nào qua modem này cho đến khi bật lại.",
    "enable": "Đã bật lại modem {modem}: dịch vụ modem dùng lại modem này sau vài giây.",
    "unquarantine": "Đã bỏ cách ly modem {modem}: modem được gửi tin trở lại.",
    "caps": "Đã lưu giới hạn gửi của modem {modem}.",
    "reset": "Modem {modem} đã trở về cấu hình gốc (bỏ mọi thay đổi trên trang này).",
}
FIELD_PROBLEMS = {
    "enabled": "Trạng thái bật/tắt không hợp lệ.",
    "per_minute": f"Giới hạn mỗi phút phải là số nguyên từ 0 đến {MAX_CAP}.",
    "per_hour": f"Giới hạn mỗi giờ phải là số nguyên từ 0 đến {MAX_CAP}.",
    "per_day": f"Giới hạn mỗi ngày phải là số nguyên từ 0 đến {MAX_CAP}.",
}


auth.install_pages(bp, state_labels=STATE_LABELS, purposes=PURPOSES)


# -- the modem pool --------------------------------------------------------------------------


def _invalid(detail: str) -> Problem:
    return Problem(422, "invalid-field", "Invalid field", detail)


def _change_modem(modem: str, fields: object) -> None:
    """The operators' one modem operation (`ModemRegistry.apply_change`), as an HTTP answer."""
    modem_row(modem)  # a modem of an office the user does not see is unknown
    try:
        changes = services().modems.apply_change(modem, fields, services().settings.modems)
    except ModemNotInPool as exc:
        raise Problem(
            404, "unknown-modem", "No such modem", f"No modem {modem} in the pool."
        ) from exc
    except InvalidModemChange as exc:
        raise _invalid(exc.detail) from exc
    log.info(
        "admin.modem_changed user=%s modem=%s changes=%s", auth.user().username, modem, changes
    )


def _unquarantine(modem: str) -> None:
    modem_row(modem)
    services().modems.release_quarantine(modem)
    log.info("admin.modem_unquarantined user=%s modem=%s", auth.user().username, modem)


def _reset_modem(modem: str) -> None:
    modem_row(modem)
    services().modems.reset(modem)
    log.info("admin.modem_reset user=%s modem=%s", auth.user().username, modem)


# -- templates ---------------------------------------------------------------------------------


# -- pages -------------------------------------------------------------------------------------


@bp.get("/")
@auth.login_required()
def home() -> ResponseReturnValue:
    return redirect(auth.landing(auth.user()))


def _wait_text(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} giây"
    return f"{int(seconds // 60) + (1 if seconds % 60 else 0)} phút"


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    admin = services().settings.admin
    hint = (
        f"Sau {admin.lockout_attempts} lần nhập sai, mỗi lần thử tiếp theo từ máy này phải chờ "
        f"lâu dần (tối đa {admin.lockout_minutes} phút). Tài khoản không bị khoá."
    )
    next_target = request.values.get("next", "")
    if not auth.safe_next(next_target).startswith(next_target or "\0"):
        next_target = ""  # never echoed back unless it is a place we would go to

    def page(error: str | None, status: int, headers: dict[str, str] | None = None) -> Response:
        shown = render_template("admin/login.html", error=error, hint=hint, next=next_target)
        return Response(shown, status=status, headers=headers, mimetype="text/html")

    if request.method == "GET":
        return page(None, 200)
    if not auth.csrf_ok():
        return page("Phiên đăng nhập đã hết hạn. Hãy thử lại.", 403)
    username = request.form.get("username", "").strip().lower()
    password = request.form.get("password", "")
    address = client_address()
    throttle = auth.throttle()
    verdict = throttle.admit(username, address, services().clock())
    if not verdict.admitted:
        reason = "address" if verdict.by_address else "pair"
        log.warning("admin.login_refused user=%s reason=%s", username, reason)
        wait = _wait_text(verdict.wait_seconds)
        where = "từ máy này" if verdict.by_address else "với tên này từ máy này"
        return page(
            f"Quá nhiều lần đăng nhập sai {where}. Hãy thử lại sau {wait}.",
            429,
            {"Retry-After": str(max(1, int(verdict.wait_seconds + 0.999)))},
        )
    result = auth.users().login(username, password)
    if result.outcome is not LoginOutcome.OK or result.user is None:
        log.info("admin.login_failed user=%s", username)
        return page(LOGIN_FAILED, 401)
    throttle.succeeded(username, address)
    auth.start_session(result.user)
    log.info("admin.login user=%s role=%s", result.user.username, result.user.role)
    return redirect(auth.safe_next(next_target, result.user))


@bp.post("/logout")
@auth.login_required()
def logout() -> ResponseReturnValue:
    log.info("admin.logout user=%s", auth.user().username)
    auth.end_session()
    return redirect(url_for("admin.login"))


@bp.get("/modems")
@auth.login_required(Permission.READ_SETUP)
def modems() -> ResponseReturnValue:
    return render_template(
        "admin/modems.html",
        modems=modem_rows(),
        shared_queue=services().outbox.depth(),
        live=True,
    )


@bp.post("/modems/<modem>/<action>")
@auth.login_required(Permission.CHANGE_MODEMS)
def modem_action(modem: str, action: str) -> ResponseReturnValue:
    """The pool page's buttons: each answers with the page again and a confirmation saying
    what changed (or, for a bad value, what was wrong and that nothing changed)."""
    if action not in DONE:
        raise Problem(404, "not-found", "Not found", "No such action on a modem.")
    try:
        if action in ("disable", "enable"):
            _change_modem(modem, {"enabled": action == "enable"})
        elif action == "unquarantine":
            _unquarantine(modem)
        elif action == "reset":
            _reset_modem(modem)
        else:
            texts = {f: request.form[f] for f in CAP_FIELDS if request.form.get(f, "").strip()}
            _change_modem(modem, parse_text_changes(texts))
    except (InvalidModemChange, Problem) as exc:
        bad = exc.__cause__ if isinstance(exc, Problem) else exc
        if not isinstance(bad, InvalidModemChange):
            raise
        problem = FIELD_PROBLEMS.get(bad.field or "", "Giá trị không hợp lệ.")
        flash(f"{problem} Chưa thay đổi gì.", "error")
        return redirect(url_for("admin.modems"))
    flash(DONE[action].format(modem=modem), "ok")
    return redirect(url_for("admin.modems"))


@bp.get("/templates")
@auth.login_required(Permission.READ_SETUP)
def templates_page() -> ResponseReturnValue:
    office = office_or_404(request.args.get("office", ""))
    rows = [template_json(t, edited) for t, edited in templates().all(office).values()]
    return render_template(
        "admin/templates.html", templates=rows, office=office, can_edit=may_change(office)
    )


@bp.route("/templates/<name>", methods=["GET", "POST"])
@auth.login_required(Permission.READ_SETUP)
def template_page(name: str) -> ResponseReturnValue:
    office = office_or_404(request.values.get("office", ""))  # "": the province's
    current = template_or_404(name, office)
    edited = name in {n for n, (_, e) in templates().all(office).items() if e}
    body = current.body
    urgent = current.urgent
    error = None
    shown = None
    status = 200
    message = None
    if request.method == "POST":
        action = request.form.get("action", "preview")
        body = request.form.get("body", body)
        urgent = request.form.get("urgent") == "1"
        if action in ("save", "reset"):
            require_change(office)
        try:
            back: dict[str, Any] = {"office": office} if office else {}
            if action == "reset":
                templates().reset(name, office)
                log.info(
                    "admin.template_reset user=%s template=%s office=%s",
                    auth.user().username,
                    name,
                    office,
                )
                return redirect(url_for("admin.template_page", name=name, done="reset", **back))
            shown = preview(name, body, office=office)
            if action == "save":
                templates().save(name, body, urgent, office)
                log.info(
                    "admin.template_saved user=%s template=%s office=%s",
                    auth.user().username,
                    name,
                    office,
                )
                return redirect(url_for("admin.template_page", name=name, done="saved", **back))
        except TemplateError as exc:
            error, status = exc.problem, 422
    else:
        shown = preview(name, body, office=office)
        message = {"saved": "Đã lưu.", "reset": "Đã khôi phục mẫu mặc định."}.get(
            request.args.get("done", "")
        )
    page = render_template(
        "admin/template_edit.html",
        name=name,
        office=office,
        can_edit=may_change(office),
        body=body,
        urgent=urgent,
        edited=edited,
        default_body=DEFAULT_TEMPLATES[name].body,
        placeholders=sorted(PLACEHOLDERS),
        preview=shown,
        error=error,
        message=message,
    )
    return page, status


# -- the JSON API ------------------------------------------------------------------------------


@bp.get("/api/session")
@auth.login_required()
def api_session() -> ResponseReturnValue:
    """Who is logged in, and the CSRF token to send in X-CSRF-Token with every change."""
    who = auth.user()
    return jsonify(
        user=who.username, role=who.role.value, office=who.office, csrf_token=auth.csrf_token()
    )


@bp.get("/api/modems")
@auth.login_required(Permission.READ_SETUP)
def api_modems() -> ResponseReturnValue:
    return jsonify(modems=modem_rows(), shared_queue=services().outbox.depth())


@bp.post("/api/modems/<modem>")
@auth.login_required(Permission.CHANGE_MODEMS)
def api_modem_change(modem: str) -> ResponseReturnValue:
    _change_modem(modem, request.get_json(silent=True))
    return jsonify(modem_row(modem))


@bp.post("/api/modems/<modem>/unquarantine")
@auth.login_required(Permission.CHANGE_MODEMS)
def api_modem_unquarantine(modem: str) -> ResponseReturnValue:
    _unquarantine(modem)
    return jsonify(modem_row(modem))


@bp.get("/api/templates")
@auth.login_required(Permission.READ_SETUP)
def apitemplates() -> ResponseReturnValue:
    office = office_or_404(request.args.get("office", ""))
    rows = [template_json(t, edited) for t, edited in templates().all(office).values()]
    return jsonify(templates=rows, office=office)


@bp.put("/api/templates/<name>")
@auth.login_required(Permission.READ_SETUP)
def api_template_save(name: str) -> ResponseReturnValue:
    office = office_or_404(request.args.get("office", ""))
    require_change(office)
    current = template_or_404(name, office)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("body"), str):
        raise _invalid('Expected {"body": "...", "urgent": true|false (optional)}.')
    urgent = body.get("urgent", current.urgent)
    if not isinstance(urgent, bool):
        raise _invalid("urgent must be true or false.")
    try:
        shown = preview(name, body["body"], office=office)
        saved = templates().save(name, body["body"], urgent, office)
    except TemplateError as exc:
        raise template_problem(exc) from exc
    log.info(
        "admin.template_saved user=%s template=%s office=%s", auth.user().username, name, office
    )
    return jsonify(template_json(saved, True) | {"preview": shown})


@bp.delete("/api/templates/<name>")
@auth.login_required(Permission.READ_SETUP)
def api_template_reset(name: str) -> ResponseReturnValue:
    office = office_or_404(request.args.get("office", ""))
    require_change(office)
    template_or_404(name)
    templates().reset(name, office)
    log.info(
        "admin.template_reset user=%s template=%s office=%s", auth.user().username, name, office
    )
    # what the office (or the province) uses now: the province's edit, or the default
    now = templates().get(name, office)
    return jsonify(template_json(now, False))


@bp.post("/api/templates/<name>/preview")
@auth.login_required(Permission.READ_SETUP)
def api_template_preview(name: str) -> ResponseReturnValue:
    """Changes nothing (viewers may use it); POST because it carries a body to try."""
    office = office_or_404(request.args.get("office", ""))
    current = template_or_404(name, office)
    body = request.get_json(silent=True) or {}
    if not isinstance(body, dict):
        raise _invalid('Expected {"body": "...", "values": {...}} (both optional).')
    text = body.get("body", current.body)
    values = body.get("values") or {}
    if not isinstance(text, str) or not isinstance(values, dict):
        raise _invalid("body must be text and values an object of texts.")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in values.items()):
        raise _invalid("values must map placeholder names to texts.")
    try:
        return jsonify(name=name, body=text, **preview(name, text, values, office))
    except TemplateError as exc:
        raise template_problem(exc) from exc


@bp.get("/<path:unknown>")
def not_found(unknown: str) -> ResponseReturnValue:
    """Any other address under /admin/: a Vietnamese page (problem+json under /admin/api/)."""
    if auth.is_api():
        raise Problem(404, "not-found", "Not found", "No such admin API resource.")
    return auth.error_page(404)
