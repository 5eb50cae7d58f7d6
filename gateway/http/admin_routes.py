"""Routing rules and carrier links in the dashboard (Vietnamese pages) and the admin JSON API.

- /admin/routes: the rules in force (default, configuration, or set here), each route's state,
  and a form per message kind to change or reset a rule; province administrators only
  (`Permission.MANAGE_ROUTES`), pages and API alike: a rule decides which sender every citizen
  sees.
- The carrier links' health and throughput, as a block of the pool page (the template
  admin/_smpp_links.html, included by admin/modems.html; `smpp_links()` gives its rows) and as
  GET /admin/api/links, for those who read the setup; the links are the province's, like the
  shared modem pool: an office's people see none.

Changes go through `RouteRules.change`, the one validated operation `hoso routes set` uses too.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gateway.core.roles import Permission
from gateway.core.routes import (
    KIND_LABELS,
    MessageKind,
    Route,
    RouteError,
    RouteKind,
    queues,
)
from gateway.http import admin_auth as auth
from gateway.http.context import services
from gateway.http.pool_rows import reported_int
from gateway.http.problems import Problem
from gateway.routing import Router

log = logging.getLogger(__name__)

bp = Blueprint("admin_routes", __name__, url_prefix="/admin")

SOURCE_LABELS = {"default": "Mặc định", "config": "Tệp cấu hình", "live": "Đã sửa tại đây"}
LINK_STATE_LABELS = {
    "up": "Hoạt động",
    "down": "Mất kết nối",
    "standby": "Chờ (máy khác đang giữ)",
    "disabled": "Đã tắt",
    "stopped": "Đã dừng",
    "starting": "Đang khởi động",
}
ERRORS = {
    "kind": "Loại tin nhắn phải là trả lời hoặc thông báo.",
    "office": "Mã văn phòng chỉ gồm chữ, số, '-', '_', '.' (hoặc '*': mọi văn phòng).",
    "route": "Không hiểu tuyến “{value}”: dùng origin, modems, modem:<mã> hoặc link:<mã>.",
    "empty": "Quy tắc cần ít nhất một tuyến.",
    "twice": "Tuyến “{value}” được nêu hai lần.",
    "origin": "Thông báo không có số gốc: dùng modems, modem:<mã> hoặc link:<mã>.",
    "link": "Không có kênh nhà mạng “{value}” trong cấu hình ([[smpp]]).",
}

auth.install_pages(
    bp,
    kind_labels={k.value: v for k, v in KIND_LABELS.items()},
    source_labels=SOURCE_LABELS,
    link_state_labels=LINK_STATE_LABELS,
)


def route_label(route: Route) -> str:
    if route.kind is RouteKind.ORIGIN:
        return "Số công dân đã nhắn tới"
    if route.kind is RouteKind.MODEMS:
        return "Nhóm modem"
    if route.kind is RouteKind.MODEM:
        return f"Modem {route.target}"
    return f"Kênh nhà mạng {route.target}"


def _router() -> Router:
    return services().router


def _links() -> list[str]:
    return [link.id for link in services().settings.smpp]


def rule_rows() -> list[dict[str, Any]]:
    router = _router()
    rows = []
    for shown in router.rules.shown():
        routes = []
        for route in shown.routes:
            via = queues([route], "")
            down = router.is_down(via[0]) if via else None  # the origin depends on the SMS
            routes.append({"route": str(route), "label": route_label(route), "down": down})
        rows.append(
            {
                "office": shown.office,
                "kind": shown.kind.value,
                "text": ", ".join(str(r) for r in shown.routes),
                "routes": routes,
                "source": shown.source,
            }
        )
    return rows


def link_rows() -> list[dict[str, Any]]:
    """Every carrier link configured or ever run: health, throughput, queue and counters (none
    for a user of one office: the links are the province's)."""
    if auth.visible_offices() is not None:
        return []
    svc = services()
    registry = svc.links
    outbox = svc.outbox
    configured = {link.id: link for link in svc.settings.smpp}
    rows = []
    for link in sorted(set(configured) | set(registry.known())):
        health = registry.health(link)
        counters = registry.counters(link)
        settings = configured.get(link)
        state = health.get("state") or "down"
        rows.append(
            {
                "id": link,
                "state": state if state in LINK_STATE_LABELS else "down",
                "reported": bool(health),
                "source": settings.source if settings else health.get("source") or None,
                "host": f"{settings.host}:{settings.port}" if settings else health.get("host"),
                "bind": settings.bind if settings else health.get("bind"),
                "window": settings.window if settings else reported_int(health.get("window")),
                "tps": settings.tps if settings else reported_int(health.get("tps")),
                "in_flight": reported_int(health.get("in_flight")) or 0,
                "in_doubt": reported_int(health.get("in_doubt")) or 0,
                "rate": float(health.get("rate") or 0.0),
                "throttled": health.get("throttled") == "1",
                "queue": outbox.depth(link),
                "submitted": counters.get("submitted", 0),
                "received": counters.get("received", 0),
                "delivered": counters.get("receipts:DELIVRD", 0),
                "failed": sum(
                    v
                    for k, v in counters.items()
                    if k.startswith("receipts:")
                    and k[9:] in ("UNDELIV", "EXPIRED", "REJECTD", "DELETED")
                ),
                "throttled_total": counters.get("throttled", 0),
                "reconnects": counters.get("reconnects", 0),
                "last_error": health.get("last_error") or None,
                "updated_at": health.get("updated_at") or None,
            }
        )
    return rows


@bp.app_context_processor
def _links_for_pages() -> dict[str, Any]:
    """`smpp_links()` for the pool page's block, and the labels it needs."""
    return {"smpp_links": link_rows, "smpp_link_state_labels": LINK_STATE_LABELS}


def _message(exc: RouteError) -> str:
    return ERRORS.get(exc.reason, "Quy tắc không hợp lệ.").format(value=exc.value)


def _change(office: str, kind: str, routes: Any) -> None:
    _router().rules.change(office, kind, routes, _links())
    log.info(
        "admin.route_changed user=%s office=%s kind=%s routes=%s",
        auth.user().username,
        office,
        kind,
        routes,
    )


def _reset(office: str, kind: str) -> bool:
    dropped = _router().rules.reset(office, kind)
    log.info("admin.route_reset user=%s office=%s kind=%s", auth.user().username, office, kind)
    return dropped


# -- pages -------------------------------------------------------------------------------------


@bp.route("/routes", methods=["GET", "POST"])
@auth.login_required(Permission.MANAGE_ROUTES)
def routes_page() -> ResponseReturnValue:
    error = None
    status = 200
    if request.method == "POST":
        office = request.form.get("office", "*")
        kind = request.form.get("kind", "")
        try:
            if request.form.get("action") == "reset":
                _reset(office, kind)
                return redirect(url_for("admin_routes.routes_page", done="reset"))
            _change(office, kind, request.form.get("routes", ""))
            return redirect(url_for("admin_routes.routes_page", done="saved"))
        except RouteError as exc:
            error, status = _message(exc), 422
    message = {"saved": "Đã lưu quy tắc.", "reset": "Đã trở về quy tắc trong tệp cấu hình."}.get(
        request.args.get("done", "")
    )
    page = render_template(
        "admin/routes.html",
        rules=rule_rows(),
        links=_links(),
        kinds=[k.value for k in MessageKind],
        error=error,
        message=message,
    )
    return page, status


# -- the JSON API ------------------------------------------------------------------------------


@bp.get("/api/routes")
@auth.login_required(Permission.MANAGE_ROUTES)
def api_routes() -> ResponseReturnValue:
    return jsonify(rules=rule_rows())


@bp.put("/api/routes/<office>/<kind>")
@auth.login_required(Permission.MANAGE_ROUTES)
def api_route_change(office: str, kind: str) -> ResponseReturnValue:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("routes"), list):
        raise Problem(422, "invalid-field", "Invalid field", 'Expected {"routes": ["...", ...]}.')
    try:
        _change(office, kind, [str(r) for r in body["routes"]])
    except RouteError as exc:
        raise Problem(422, "invalid-route", "Invalid routing rule", str(exc)) from exc
    return jsonify(rules=rule_rows())


@bp.delete("/api/routes/<office>/<kind>")
@auth.login_required(Permission.MANAGE_ROUTES)
def api_route_reset(office: str, kind: str) -> ResponseReturnValue:
    try:
        _reset(office, kind)
    except RouteError as exc:
        raise Problem(422, "invalid-route", "Invalid routing rule", str(exc)) from exc
    return jsonify(rules=rule_rows())


@bp.get("/api/links")
@auth.login_required(Permission.READ_SETUP)
def api_links() -> ResponseReturnValue:
    return jsonify(links=link_rows())
