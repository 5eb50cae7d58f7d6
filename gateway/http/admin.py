"""The administrators' dashboard (Vietnamese pages) and the admin JSON API, under /admin/.

Pages and API do the same things through the same functions: the modem pool (live state,
disable / re-enable / caps / un-quarantine, applied live by the modem service through
`ModemRegistry`) and the SMS templates (list, edit, preview). Everyone logged in sees
everything; only the role "admin" changes anything (see `admin_auth`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, cast

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gateway.core.modem_limits import modem_notes
from gateway.core.sms_text import (
    DEFAULT_TEMPLATES,
    PLACEHOLDERS,
    Template,
    TemplateError,
    fill,
    render,
    sample_values,
)
from gateway.http import admin_auth as auth
from gateway.http.context import services
from gateway.http.problems import Problem
from gateway.store import keys
from gateway.store.modems import ModemRegistry
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
}

MODEM_INT_FIELDS = ("per_minute", "per_hour", "per_day")
MAX_CAP = 100_000


auth.install_pages(bp, state_labels=STATE_LABELS)


# -- the modem pool --------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.fromtimestamp(services().clock(), UTC)


def modem_rows() -> list[dict[str, Any]]:
    """Every modem: its settings now (file + live changes), its health, counters and queue."""
    svc = services()
    registry = ModemRegistry(svc.redis)
    outbox = Outbox(svc.redis)
    now = _now()
    pool = {m.id: m for m in registry.effective(svc.settings.modems)}
    rows = []
    for modem in sorted(set(pool) | set(registry.known())):
        health = registry.health(modem)
        settings = pool.get(modem)
        quarantine = registry.quarantined(modem)
        enabled = settings.enabled if settings is not None else True
        if not enabled:
            state = "disabled"
        elif quarantine:
            state = "quarantined"
        elif health.get("state") == "up":
            state = "up"
        else:
            state = "down"
        registered = health.get("registered")
        rows.append(
            {
                "id": modem,
                "state": state,
                "reported_state": health.get("state") or None,  # None: no report for 30 s
                "enabled": enabled,
                "configured": settings is not None,
                "port": settings.port if settings else health.get("port") or None,
                "carrier": (settings.carrier if settings else None) or None,
                "signal_dbm": _int(health.get("signal_dbm")),
                "operator": health.get("operator") or None,
                "registered": None if not registered else registered == "1",
                "roaming": health.get("roaming") == "1",
                "sim": health.get("sim") or None,
                "sent_today": registry.sent_today(modem, now),
                "per_minute": settings.per_minute if settings else None,
                "per_hour": settings.per_hour if settings else None,
                "per_day": settings.per_day if settings else None,
                "queue": outbox.depth(modem),
                "quarantine": quarantine,
                "last_error": health.get("last_error") or None,
                "updated_at": health.get("updated_at") or None,
                "notes": modem_notes(health, registry.balance(modem)),
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
    raise Problem(404, "unknown-modem", "No such modem", f"No modem {modem!r} in the pool.")


def modem_changes(body: Any) -> dict[str, Any]:
    """The fields of a modem change, checked: enabled, per_minute, per_hour, per_day, carrier."""
    if not isinstance(body, dict) or not body:
        raise _invalid(
            "Expected a JSON object with enabled, per_minute, per_hour, per_day or carrier."
        )
    allowed = {"enabled", "carrier", *MODEM_INT_FIELDS}
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise _invalid(
            f"Unknown field(s): {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}."
        )
    changes: dict[str, Any] = {}
    if "enabled" in body:
        if not isinstance(body["enabled"], bool):
            raise _invalid("enabled must be true or false.")
        changes["enabled"] = body["enabled"]
    for name in MODEM_INT_FIELDS:
        if name in body:
            value = body[name]
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_CAP:
                raise _invalid(f"{name} must be a whole number from 0 to {MAX_CAP}.")
            changes[name] = value
    if "carrier" in body:
        carrier = body["carrier"]
        if carrier is not None and (not isinstance(carrier, str) or len(carrier) > 32):
            raise _invalid("carrier must be a name of up to 32 characters, or null.")
        changes["carrier"] = carrier or None
    return changes


def _invalid(detail: str) -> Problem:
    return Problem(422, "invalid-field", "Invalid field", detail)


def _change_modem(modem: str, changes: dict[str, Any]) -> None:
    _modem_row(modem)  # 404 for a modem nobody configured or drove
    ModemRegistry(services().redis).change(modem, **changes)
    log.info(
        "admin.modem_changed user=%s modem=%s changes=%s", auth.user().username, modem, changes
    )


def _unquarantine(modem: str) -> None:
    _modem_row(modem)
    ModemRegistry(services().redis).release_quarantine(modem)
    log.info("admin.modem_unquarantined user=%s modem=%s", auth.user().username, modem)


# -- templates ---------------------------------------------------------------------------------


def _templates() -> Templates:
    return Templates(services().redis)


def _template_or_404(name: str) -> Template:
    if name not in DEFAULT_TEMPLATES:
        raise Problem(404, "unknown-template", "No such template", f"No SMS template {name!r}.")
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


# -- logging in from one address ----------------------------------------------------------------


def _address_window(period: int) -> tuple[str, int]:
    """The failure counter of this request's address for the current period, and the seconds
    left in that period."""
    now = int(services().clock())
    period = max(period, 1)
    address = request.remote_addr or "unknown"
    return keys.ip_rate("admin-login", address, now // period), period - now % period


def _address_must_wait(attempts: int, period: int) -> int | None:
    """Seconds this address must wait after `attempts` failed logins in the period, else None."""
    name, left = _address_window(period)
    failures = int(cast(str | None, services().redis.get(name)) or 0)
    return left if failures >= max(attempts, 1) else None


def _count_address_failure(period: int) -> None:
    name, _ = _address_window(period)
    pipe = services().redis.pipeline(transaction=False)
    pipe.incr(name)
    pipe.expire(name, max(period, 1) + 60)
    pipe.execute()


# -- pages -------------------------------------------------------------------------------------


@bp.get("/")
@auth.login_required()
def home() -> ResponseReturnValue:
    return redirect(url_for("admin.modems"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    admin = services().settings.admin
    hint = (
        f"Sau {admin.lockout_attempts} lần nhập sai liên tiếp, tài khoản bị khoá "
        f"{admin.lockout_minutes} phút."
    )
    next_target = request.values.get("next", "")
    if request.method == "GET":
        return render_template("admin/login.html", error=None, hint=hint, next=next_target)
    if not auth.csrf_ok():
        page = render_template(
            "admin/login.html",
            error="Phiên đăng nhập đã hết hạn. Hãy thử lại.",
            hint=hint,
            next=next_target,
        )
        return page, 403
    username = request.form.get("username", "").strip().lower()
    password = request.form.get("password", "")
    wait = _address_must_wait(admin.address_attempts, admin.lockout_minutes * 60)
    if wait is not None:
        log.warning("admin.login_refused user=%s reason=address", username)
        page = render_template(
            "admin/login.html",
            error=f"Quá nhiều lần đăng nhập sai từ máy này. Hãy thử lại sau {wait // 60 + 1} phút.",
            hint=hint,
            next=next_target,
        )
        return page, 429, {"Retry-After": str(wait)}
    result = auth.users().login(username, password, services().clock())
    if result.outcome is not Outcome.OK or result.user is None:
        _count_address_failure(admin.lockout_minutes * 60)
        if result.outcome is Outcome.LOCKED:
            log.warning("admin.login_refused user=%s reason=locked", username)
        else:
            log.info("admin.login_failed user=%s", username)
        page = render_template("admin/login.html", error=LOGIN_FAILED, hint=hint, next=next_target)
        return page, 401
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
    if action == "disable":
        _change_modem(modem, {"enabled": False})
    elif action == "enable":
        _change_modem(modem, {"enabled": True})
    elif action == "unquarantine":
        _unquarantine(modem)
    elif action == "caps":
        try:
            fields = {f: int(request.form[f]) for f in MODEM_INT_FIELDS if request.form.get(f)}
        except ValueError as exc:
            raise _invalid("Caps must be whole numbers.") from exc
        _change_modem(modem, modem_changes(fields))
    else:
        raise Problem(404, "not-found", "Not found", f"No action {action!r}.")
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
    _change_modem(modem, modem_changes(request.get_json(silent=True)))
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
