"""The department API v1: register dossiers, push their events, read them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, g, request, url_for

from gateway.core.appointments import appointments
from gateway.core.codes import CODE_PATTERN
from gateway.core.dossier import Dossier
from gateway.core.events import parse_status_changed
from gateway.core.handoffs import Handoff, handoffs
from gateway.core.status import Status
from gateway.core.times import format_time, refuse_future_time
from gateway.http.answers import appointment_ref, json_answer, now, status_ref
from gateway.http.bodies import json_body, json_request
from gateway.http.context import services
from gateway.http.idempotent import idempotent
from gateway.http.pages import render_handoffs
from gateway.http.problems import Problem
from gateway.http.signed import signed
from gateway.registration import register_dossier
from gateway.store.credentials import ClientKind
from gateway.store.dossiers import Recorded
from gateway.store.errors import UnknownDossier

bp = Blueprint("dossiers", __name__, url_prefix="/api/v1/dossiers")


def resolve(typed: str) -> str:
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
    body = json_request()
    result = register_dossier(
        services().dossiers, body, g.client.owner, g.client.office, now(), clock_skew()
    )
    d = result.dossier
    body = {"code": d.code, "short_code": d.short_code, "secret": d.secret}
    location = url_for("dossiers.read", code=d.code)
    return json_answer(body, 201 if result.created else 200, {"Location": location})


@bp.post("/<code>/events")
@signed(ClientKind.DEPARTMENT)
@idempotent
def push_event(code: str) -> Response:
    body = json_body("StatusEvent")
    event = parse_status_changed(body, source=g.client.owner)
    at = now()
    refuse_future_time("at", event.at, at, clock_skew())
    resolved = resolve(code)
    recorded = services().dossiers.apply(resolved, event, g.client.owner, at, g.client.office)
    return json_answer(_recorded(recorded), 200 if recorded.repeated else 201)


def clock_skew() -> timedelta:
    """How far ahead of the gateway's clock a reported time may be (`[gateway] clock_skew`)."""
    return timedelta(seconds=services().settings.gateway.clock_skew)


@bp.get("/<code>")
@signed(ClientKind.DEPARTMENT)
def read(code: str) -> Response:
    svc = services()
    dossier, history = svc.dossiers.get_with_history(resolve(code), g.client.owner, g.client.office)
    return json_answer(_dossier(dossier, history, now()), 200)


@bp.get("/<code>/handoffs")
@signed(ClientKind.DEPARTMENT)
def handoff_record(code: str) -> Response:
    svc = services()
    dossier, history = svc.dossiers.get_with_history(resolve(code), g.client.owner, g.client.office)
    rows = handoffs(history, svc.stations.allowed_hours_by_desk())
    wanted = request.args.get("format", "json")
    if wanted not in ("json", "html"):
        raise Problem(422, "invalid-field", "Invalid field", "format: json or html")
    if wanted == "html":
        page = render_handoffs(dossier, rows)
        return Response(page, mimetype="text/html")
    return json_answer({"code": dossier.code, "handoffs": [_handoff(h) for h in rows]}, 200)


def _handoff(h: Handoff) -> dict[str, Any]:
    def hours(value: timedelta | None) -> float | None:
        return None if value is None else round(value.total_seconds() / 3600, 2)

    return {
        "from_desk": h.from_desk,
        "to_desk": h.to_desk,
        "handed_over_by": h.handed_over_by,
        "received_by": h.received_by,
        "at": format_time(h.at),
        "hours_at_previous": hours(h.time_at_previous),
        "hours_allowed_at_previous": hours(h.allowed_at_previous),
        "late": h.late,
    }


def _recorded(r: Recorded) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "code": r.code,
        "event_id": r.event_id,
        "status": status_ref(r.status),
        "version": r.version,
        "current": r.current,
        "rescheduled": r.rescheduled,
    }
    if r.due_at is not None:  # absent only in answers first given before appointments changed
        answer["due_at"] = format_time(r.due_at)
    return answer


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
        "status": status_ref(d.status),
        "overdue": d.is_overdue(now),
        "holder": d.holder,
        "version": d.version,
        "updated_at": format_time(d.updated_at),
        "appointments": [appointment_ref(a) for a in appointments(history, d.due_at)],
        "history": [_history_entry(e) for e in history],
    }


def _history_entry(e: dict[str, Any]) -> dict[str, Any]:
    entry = {
        "event_id": e["event_id"],
        "status": status_ref(Status(e["status"])),
        "at": e["at"],
        "desk": e.get("desk"),
        "note": e.get("note"),
        "source": e.get("source"),
        "recorded_at": e.get("recorded_at"),
        "current": bool(e.get("current", True)),
    }
    if e.get("due_at"):  # the appointment the registration or the event set
        entry["due_at"] = e["due_at"]
        if "rescheduled" in e:
            entry["rescheduled"] = bool(e["rescheduled"])
    return entry
