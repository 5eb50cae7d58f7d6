"""Small helpers every API blueprint answers with."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flask import Response

from gateway.core.appointments import Appointment
from gateway.core.status import Status
from gateway.core.times import format_time
from gateway.http.context import services


def json_answer(
    body: dict[str, Any], status: int, headers: dict[str, str] | None = None
) -> Response:
    response = Response(json.dumps(body, ensure_ascii=False), status=status, headers=headers)
    response.mimetype = "application/json"
    return response


def now() -> datetime:
    """The request's time, from the app's clock (injectable in tests)."""
    return datetime.fromtimestamp(services().clock(), UTC)


def status_ref(status: Status) -> dict[str, Any]:
    return {"code": int(status), "label": status.label}


def appointment_ref(a: Appointment) -> dict[str, Any]:
    """One appointment (ngày hẹn trả) as the department API and the admin API answer it."""
    return {
        "due_at": format_time(a.due_at),
        "set_at": format_time(a.set_at),
        "event_id": a.event_id,
        "source": a.source,
        "reason": a.reason,
        "recorded_at": a.recorded_at,
        "current": a.current,
    }
