"""The administrators' dashboard (Vietnamese pages) and the admin JSON API, under /admin/.

Pages and API do the same things through the same functions: the modem pool (live state,
disable / re-enable / caps / un-quarantine, applied live by the modem service through
`ModemRegistry`) and the SMS templates (list, edit, preview). Everyone logged in sees
everything; only the role "admin" changes anything (see `admin_auth`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from config.settings import ModemSettings
from gateway.core.modem_limits import modem_notes
from gateway.core.sms_text import (
    DEFAULT_TEMPLATES,
    PLACEHOLDERS,
    PURPOSES,
    Template,
    TemplateError,
    fill,
    render,
    sample_values,
)
from gateway.http import admin_auth as auth
from gateway.http.context import services
from gateway.http.problems import Problem, quoted
from gateway.http.proxies import client_address
from gateway.store.modems import (
    CAP_FIELDS,
    MAX_CAP,
    InvalidModemChange,
    ModemRegistry,
    UnknownModem,
    parse_text_changes,
)
from gateway.store.outbox import Outbox
from gateway.store.templates import Templates
from gateway.store.users import Outcome, Role

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


def _now() -> datetime:
    return datetime.fromtimestamp(services().clock(), UTC)


def _state(enabled: bool, quarantine: str | None, reported: str | None) -> str:
    if not enabled:
        return "disabled"
    if quarantine:
        return "quarantined"
    if reported == "up":
        return "up"
    if reported == "disabled":  # re-enabled; the service has not taken it back yet
        return "pending"
    return "down"


def modem_rows() -> list[dict[str, Any]]:
    """Every modem: its settings now (file + live changes), its health, counters and queue.
    A modem no file names (an emulated one, or one another host's file names) has the settings
    its service gives it: the defaults with the live changes over them, on its reported port."""
    svc = services()
    registry = ModemRegistry(svc.redis)
    outbox = Outbox(svc.redis)
    now = _now()
    ids = sorted({m.id for m in svc.settings.modems} | set(registry.known()))
    health = {modem: registry.health(modem) for modem in ids}
    in_file = {m.id for m in svc.settings.modems}
    live = registry.live_changes()
    reported = [
        ModemSettings(id=modem, port=health[modem].get("port") or "")
        for modem in ids
        if modem not in in_file
    ]
    pool = {m.id: m for m in registry.effective([*svc.settings.modems, *reported])}
    rows = []
    for modem in ids:
        h = health[modem]
        settings = pool[modem]
        quarantine = registry.quarantined(modem)
        reported_state = h.get("state") or None  # None: no report for 30 s
        registered = h.get("registered")
        rows.append(
            {
                "id": modem,
                "state": _state(settings.enabled, quarantine, reported_state),
                "reported_state": reported_state,
                "enabled": settings.enabled,
                "configured": modem in in_file or "port" in live.get(modem, {}),
                "changed_live": modem in live,
                "resettable": modem in live and "port" not in live[modem],  # not added live
                "port": settings.port or h.get("port") or None,
                "carrier": settings.carrier or None,
                "signal_dbm": _int(h.get("signal_dbm")),
                "operator": h.get("operator") or None,
                "registered": None if not registered else registered == "1",
                "roaming": h.get("roaming") == "1",
                "sim": h.get("sim") or None,
                "sent_today": registry.sent_today(modem, now),
                "per_minute": settings.per_minute,
                "per_hour": settings.per_hour,
                "per_day": settings.per_day,
                "queue": outbox.depth(modem),
                "quarantine": quarantine,
                "last_error": h.get("last_error") or None,
                "updated_at": h.get("updated_at") or None,
                "notes": modem_notes(h, registry.balance(modem)),
            }
        )
    return rows


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _modem_row(modem: str) -> dict[str, Any]:
    for row in modem_rows():
        if row["id"] == modem:
            return row
    raise Problem(404, "unknown-modem", "No such modem", f"No modem {modem} in the pool.")


def _invalid(detail: str) -> Problem:
    return Problem(422, "invalid-field", "Invalid field", detail)


def _change_modem(modem: str, fields: object) -> None:
    """The operators' one modem operation (`ModemRegistry.apply_change`), as an HTTP answer."""
    try:
        changes = ModemRegistry(services().redis).apply_change(
            modem, fields, services().settings.modems
        )
    except UnknownModem as exc:
        raise Problem(
            404, "unknown-modem", "No such modem", f"No modem {modem} in the pool."
        ) from exc
    except InvalidModemChange as exc:
        raise _invalid(exc.detail) from exc
    log.info(
        "admin.modem_changed user=%s modem=%s changes=%s", auth.user().username, modem, changes
    )


def _unquarantine(modem: str) -> None:
    _modem_row(modem)
    ModemRegistry(services().redis).release_quarantine(modem)
    log.info("admin.modem_unquarantined user=%s modem=%s", auth.user().username, modem)


def _reset_modem(modem: str) -> None:
    _modem_row(modem)
    ModemRegistry(services().redis).reset(modem)
    log.info("admin.modem_reset user=%s modem=%s", auth.user().username, modem)


# -- templates ---------------------------------------------------------------------------------


def _templates() -> Templates:
    return Templates(services().redis)


def _template_or_404(name: str) -> Template:
    if name not in DEFAULT_TEMPLATES:
        raise Problem(
            404, "unknown-template", "No such template", f"No SMS template {quoted(name)}."
        )
    return _templates().get(name)


def template_json(template: Template, edited: bool) -> dict[str, Any]:
    return {
        "name": template.name,
        "body": template.body,
        "urgent": template.urgent,
        "edited": edited,
        "placeholders": sorted(template.placeholders),
        "default_body": DEFAULT_TEMPLATES[template.name].body,
    }


def preview(name: str, body: str, values: dict[str, str] | None = None) -> dict[str, Any]:
    """The SMS a template makes with sample values: as sent under the current settings, and
    both ways (unaccented, accented). Raises TemplateError for a body that cannot be used."""
    template = Template(name, body)
    settings = services().settings.sms
    samples = sample_values(settings.office, settings.hotline)
    text = fill(template, samples | (values or {}))
    sent = render(text, settings.accented_if_free)
    plain = render(text, False)
    accented = render(text, True)
    return {
        "text": sent.text,
        "alphabet": sent.alphabet.value,
        "parts": sent.parts,
        "length": len(sent.text),
        "unaccented": {"text": plain.text, "alphabet": plain.alphabet.value, "parts": plain.parts},
        "accented_if_free": {
            "text": accented.text,
            "alphabet": accented.alphabet.value,
            "parts": accented.parts,
        },
    }


def _template_problem(exc: TemplateError) -> Problem:
    return Problem(422, "invalid-template", "Invalid template", exc.problem)


# -- pages -------------------------------------------------------------------------------------


@bp.get("/")
@auth.login_required()
def home() -> ResponseReturnValue:
    return redirect(url_for("admin.modems"))


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
    if result.outcome is not Outcome.OK or result.user is None:
        log.info("admin.login_failed user=%s", username)
        return page(LOGIN_FAILED, 401)
    throttle.succeeded(username, address)
    auth.start_session(result.user)
    log.info("admin.login user=%s role=%s", result.user.username, result.user.role)
    return redirect(auth.safe_next(next_target))


@bp.post("/logout")
@auth.login_required()
def logout() -> ResponseReturnValue:
    log.info("admin.logout user=%s", auth.user().username)
    auth.end_session()
    return redirect(url_for("admin.login"))


@bp.get("/modems")
@auth.login_required()
def modems() -> ResponseReturnValue:
    return render_template(
        "admin/modems.html",
        modems=modem_rows(),
        shared_queue=Outbox(services().redis).depth(),
        live=True,
    )


@bp.post("/modems/<modem>/<action>")
@auth.login_required(Role.ADMIN)
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
@auth.login_required()
def templates_page() -> ResponseReturnValue:
    rows = [template_json(t, edited) for t, edited in _templates().all().values()]
    return render_template("admin/templates.html", templates=rows)


@bp.route("/templates/<name>", methods=["GET", "POST"])
@auth.login_required()
def template_page(name: str) -> ResponseReturnValue:
    current = _template_or_404(name)
    edited = name in {n for n, (_, e) in _templates().all().items() if e}
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
        if action in ("save", "reset") and not auth.is_admin():
            return auth.forbidden(
                "forbidden",
                "Forbidden",
                "Viewers change nothing.",
                "Tài khoản của bạn chỉ được xem, không được thay đổi.",
            )
        try:
            if action == "reset":
                _templates().reset(name)
                log.info("admin.template_reset user=%s template=%s", auth.user().username, name)
                return redirect(url_for("admin.template_page", name=name, done="reset"))
            shown = preview(name, body)
            if action == "save":
                _templates().save(name, body, urgent)
                log.info("admin.template_saved user=%s template=%s", auth.user().username, name)
                return redirect(url_for("admin.template_page", name=name, done="saved"))
        except TemplateError as exc:
            error, status = exc.problem, 422
    else:
        shown = preview(name, body)
        message = {"saved": "Đã lưu.", "reset": "Đã khôi phục mẫu mặc định."}.get(
            request.args.get("done", "")
        )
    page = render_template(
        "admin/template_edit.html",
        name=name,
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
    return jsonify(user=who.username, role=who.role.value, csrf_token=auth.csrf_token())


@bp.get("/api/modems")
@auth.login_required()
def api_modems() -> ResponseReturnValue:
    return jsonify(modems=modem_rows(), shared_queue=Outbox(services().redis).depth())


@bp.post("/api/modems/<modem>")
@auth.login_required(Role.ADMIN)
def api_modem_change(modem: str) -> ResponseReturnValue:
    _change_modem(modem, request.get_json(silent=True))
    return jsonify(_modem_row(modem))


@bp.post("/api/modems/<modem>/unquarantine")
@auth.login_required(Role.ADMIN)
def api_modem_unquarantine(modem: str) -> ResponseReturnValue:
    _unquarantine(modem)
    return jsonify(_modem_row(modem))


@bp.get("/api/templates")
@auth.login_required()
def api_templates() -> ResponseReturnValue:
    rows = [template_json(t, edited) for t, edited in _templates().all().values()]
    return jsonify(templates=rows)


@bp.put("/api/templates/<name>")
@auth.login_required(Role.ADMIN)
def api_template_save(name: str) -> ResponseReturnValue:
    current = _template_or_404(name)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("body"), str):
        raise _invalid('Expected {"body": "...", "urgent": true|false (optional)}.')
    urgent = body.get("urgent", current.urgent)
    if not isinstance(urgent, bool):
        raise _invalid("urgent must be true or false.")
    try:
        shown = preview(name, body["body"])
        saved = _templates().save(name, body["body"], urgent)
    except TemplateError as exc:
        raise _template_problem(exc) from exc
    log.info("admin.template_saved user=%s template=%s", auth.user().username, name)
    return jsonify(template_json(saved, True) | {"preview": shown})


@bp.delete("/api/templates/<name>")
@auth.login_required(Role.ADMIN)
def api_template_reset(name: str) -> ResponseReturnValue:
    _template_or_404(name)
    _templates().reset(name)
    log.info("admin.template_reset user=%s template=%s", auth.user().username, name)
    return jsonify(template_json(DEFAULT_TEMPLATES[name], False))


@bp.post("/api/templates/<name>/preview")
@auth.login_required()
def api_template_preview(name: str) -> ResponseReturnValue:
    """Changes nothing (viewers may use it); POST because it carries a body to try."""
    current = _template_or_404(name)
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
        return jsonify(name=name, body=text, **preview(name, text, values))
    except TemplateError as exc:
        raise _template_problem(exc) from exc


@bp.get("/<path:unknown>")
def not_found(unknown: str) -> ResponseReturnValue:
    """Any other address under /admin/: a Vietnamese page (problem+json under /admin/api/)."""
    if auth.is_api():
        raise Problem(404, "not-found", "Not found", "No such admin API resource.")
    return auth.error_page(404)
