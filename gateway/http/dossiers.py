"""The department API v1: register dossiers, push their events, read them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, g, url_for

from gateway.core.codes import CODE_PATTERN
from gateway.core.dossier import Dossier, parse_registration
from gateway.core.events import parse_status_changed
from gateway.core.status import Status
from gateway.core.times import format_time
from gateway.http.bodies import json_body
from gateway.http.context import services
from gateway.http.idempotent import idempotent
from gateway.http.signed import signed
from gateway.store.credentials import ClientKind
from gateway.store.dossiers import Recorded
from gateway.store.errors import UnknownDossier

bp = Blueprint("dossiers", __name__, url_prefix="/api/v1/dossiers")


def _json(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(body, ensure_ascii=False), status=status, headers=headers)
    response.mimetype = "application/json"
    return response


def _now() -> datetime:
    return datetime.fromtimestamp(services().clock(), UTC)


def _status(status: Status) -> dict[str, Any]:
    return {"code": int(status), "label": status.label}


def _resolve(typed: str) -> str:
    """The code a path names (full, folded or short); ownership is checked by the store."""
    if CODE_PATTERN.fullmatch(typed):
        return typed  # already canonical: no lookup needed
    code = services().dossiers.find(typed)
    if code is None:
        raise UnknownDossier(typed)
    return code


@bp.post("")
@signed(ClientKind.DEPARTMENT)
@idempotent
def register() -> Response:
    reg = parse_registration(json_body("DossierRegistration"))
    result = services().dossiers.register(reg, g.client.owner, _now())
    d = result.dossier
    body = {"code": d.code, "short_code": d.short_code, "secret": d.secret}
    location = url_for("dossiers.read", code=d.code)
    return _json(body, 201 if result.created else 200, {"Location": location})


@bp.post("/<code>/events")
@signed(ClientKind.DEPARTMENT)
@idempotent
def push_event(code: str) -> Response:
    body = json_body("StatusEvent")
    event = parse_status_changed(body, source=g.client.owner)
    resolved = _resolve(code)
    recorded = services().dossiers.apply(resolved, event, g.client.owner, _now())
    return _json(_recorded(recorded), 200 if recorded.repeated else 201)


@bp.get("/<code>")
@signed(ClientKind.DEPARTMENT)
def read(code: str) -> Response:
    svc = services()
    dossier, history = svc.dossiers.get_with_history(_resolve(code), g.client.owner)
    return _json(_dossier(dossier, history, _now()), 200)


def _recorded(r: Recorded) -> dict[str, Any]:
    return {
        "code": r.code,
        "event_id": r.event_id,
        "status": _status(r.status),
        "version": r.version,
        "current": r.current,
    }


def _dossier(d: Dossier, history: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    return {
        "code": d.code,
        "short_code": d.short_code,
        "secret": d.secret,
        "procedure_code": d.procedure_code,
        "procedure_name": d.procedure_name,
        "applicant_name": d.applicant_name,
        "phones": list(d.phones),
        "received_at": format_time(d.received_at),
        "due_at": format_time(d.due_at),
        "status": _status(d.status),
        "overdue": d.is_overdue(now),
        "holder": d.holder,
        "version": d.version,
        "updated_at": format_time(d.updated_at),
        "history": [
            {
                "event_id": e["event_id"],
                "status": _status(Status(e["status"])),
                "at": e["at"],
                "desk": e.get("desk"),
                "note": e.get("note"),
                "source": e.get("source"),
                "recorded_at": e.get("recorded_at"),
                "current": bool(e.get("current", True)),
            }
            for e in history
        ],
    }
