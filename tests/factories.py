"""Builders of realistic test data (no I/O)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.core.dossier import Registration, parse_registration

T0 = datetime(2024, 4, 23, 1, 30, tzinfo=UTC)
_seq = itertools.count(1)


def code(n: int | None = None, agency: str = "000.00.20.H57") -> str:
    return f"{agency}-240423-{(n if n is not None else next(_seq)) % 10000:04d}"


def registration_body(n: int | None = None, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code(n),
        "procedure_code": "1.001776",
        "procedure_name": "Cấp bản sao trích lục hộ tịch",
        "phones": ["0901234567"],
        "received_at": "2024-04-23T08:30:00+07:00",
        "due_at": "2024-04-26T17:00:00+07:00",
        "applicant_name": "Nguyễn Văn An",
    }
    body.update(overrides)
    return body


def registration(n: int | None = None, **overrides: Any) -> Registration:
    return parse_registration(registration_body(n, **overrides))


def event_body(event_id: str, status: int, minutes: int = 60, **extra: Any) -> dict[str, Any]:
    at = (T0 + timedelta(minutes=minutes)).isoformat()
    return {"event_id": event_id, "status": status, "at": at, **extra}
