"""The department system's journey: the justice office's software, built by a developer from the
README and the OpenAPI document, registers a dossier, pushes its events, gives it a new
appointment, is refused a transition and a time ahead of the clock, and reads the dossier back.
Every answer is asserted whole, as the developer reads it: status, media type and JSON body
(values the gateway chooses - the short code, the secret, when it recorded something - by their
form)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.core.times import VIETNAM
from tests.e2e.stack import Stack
from tests.signing import Answer, HttpClient

CODE = "000.00.20.H57-240423-0001"
JSON, PROBLEM = "application/json", "application/problem+json"


class Like:
    """Equal to any text of the given form (a value the gateway chooses)."""

    def __init__(self, pattern: str) -> None:
        self.pattern = re.compile(pattern)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and self.pattern.fullmatch(other) is not None

    def __hash__(self) -> int:
        return hash(self.pattern.pattern)

    def __repr__(self) -> str:
        return f"Like({self.pattern.pattern!r})"


SHORT_CODE = Like(r"[0-9A-HJKMNP-TV-Z]{7}")
SECRET = Like(r"[0-9A-Z]{8}")
RECORDED_AT = Like(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?\+07:00")  # the gateway's clock


def answered(answer: Answer) -> tuple[int, str, Any]:
    return answer.status, answer.headers["Content-Type"], answer.body


def registration() -> dict[str, Any]:
    """The README's example registration."""
    return {
        "code": CODE,
        "procedure_code": "1.001776",
        "procedure_name": "Cấp bản sao trích lục hộ tịch",
        "phones": ["0901234567"],
        "received_at": "2024-04-23T08:30:00+07:00",
        "due_at": "2024-04-26T17:00:00+07:00",
        "applicant_name": "Nguyễn Văn An",
    }


@pytest.mark.timeout(600)
def test_the_department_system_registers_pushes_reschedules_is_refused_and_reads_back(
    stack: Stack,
) -> None:
    tuphap: HttpClient = stack.department("tuphap")
    events = f"/api/v1/dossiers/{CODE}/events"

    # Registered: the code, the short code and the secret to print on the receipt.
    made = tuphap.post("/api/v1/dossiers", registration())
    assert answered(made) == (
        201,
        JSON,
        {"code": CODE, "short_code": SHORT_CODE, "secret": SECRET},
    )
    assert made.headers["Location"] == f"/api/v1/dossiers/{CODE}"
    again = tuphap.post("/api/v1/dossiers", registration())  # a retry after a lost answer
    assert answered(again) == (200, JSON, made.body)
    other = tuphap.post(
        "/api/v1/dossiers", registration() | {"due_at": "2024-04-27T17:00:00+07:00"}
    )
    assert answered(other) == (
        409,
        PROBLEM,
        {
            "type": "/problems/dossier-conflict",
            "title": "Dossier already registered differently",
            "status": 409,
            "detail": f"dossier {CODE} is already registered with other details",
        },
    )
    unknown_field = tuphap.post(
        "/api/v1/dossiers", registration() | {"code": CODE[:-1] + "2", "colour": "red"}
    )
    assert answered(unknown_field) == (
        422,
        PROBLEM,
        {
            "type": "/problems/invalid-field",
            "title": "Invalid field",
            "status": 422,
            "detail": 'body: "colour" is not allowed',
        },
    )

    # Taken up by the justice office; the same event again (a retry) gets the same answer.
    taken = {"event_id": "tp-123", "status": 4, "at": "2024-04-23T09:15:00+07:00"}
    taken["desk"] = "Phòng Tư pháp"
    first = tuphap.post(events, taken)
    processing = {"code": 4, "label": "Đang xử lý"}
    assert answered(first) == (
        201,
        JSON,
        {
            "code": CODE,
            "event_id": "tp-123",
            "status": processing,
            "version": 2,
            "current": True,
            "rescheduled": False,
            "due_at": "2024-04-26T17:00:00+07:00",
        },
    )
    assert answered(tuphap.post(events, taken)) == (200, JSON, first.body)
    reused = tuphap.post(events, taken | {"status": 5})
    assert answered(reused) == (
        409,
        PROBLEM,
        {
            "type": "/problems/event-id-reused",
            "title": "Event id already used for another event",
            "status": 409,
            "detail": 'Event id "tp-123" was used for another event.',
        },
    )

    # A new appointment (gia hạn), with the reason the citizen will be told.
    postponed = {
        "event_id": "tp-124",
        "status": 4,
        "at": "2024-04-26T10:00:00+07:00",
        "due_at": "2024-05-03T17:00:00+07:00",
        "note": "Chờ kết quả xác minh",
    }
    assert answered(tuphap.post(events, postponed)) == (
        201,
        JSON,
        {
            "code": CODE,
            "event_id": "tp-124",
            "status": processing,
            "version": 3,
            "current": True,
            "rescheduled": True,
            "due_at": "2024-05-03T17:00:00+07:00",
        },
    )
    backwards = {"event_id": "tp-125", "status": 4, "at": "2024-04-26T11:00:00+07:00"}
    backwards["due_at"] = "2024-04-25T17:00:00+07:00"
    assert answered(tuphap.post(events, backwards)) == (
        422,
        PROBLEM,
        {
            "type": "/problems/invalid-field",
            "title": "Invalid field",
            "status": 422,
            "detail": "due_at: before the event's at (a new appointment lies ahead of it)",
        },
    )

    # A transition the national vocabulary does not allow.
    refused = tuphap.post(
        events, {"event_id": "tp-126", "status": 1, "at": "2024-04-26T11:00:00+07:00"}
    )
    assert answered(refused) == (
        409,
        PROBLEM,
        {
            "type": "/problems/invalid-transition",
            "title": "Status change not allowed",
            "status": 409,
            "detail": f"dossier {CODE}: status 4 cannot become 1",
        },
    )

    # A time ahead of the gateway's clock (the department's server clock is an hour fast).
    ahead = datetime.now(UTC).astimezone(VIETNAM).replace(microsecond=0) + timedelta(hours=1)
    future = tuphap.post(events, {"event_id": "tp-127", "status": 9, "at": ahead.isoformat()})
    assert answered(future) == (
        422,
        PROBLEM,
        {
            "type": "/problems/invalid-field",
            "title": "Invalid field",
            "status": 422,
            "detail": Like(
                re.escape(f"at: {ahead.isoformat()} is in the future (the gateway's clock reads ")
                + RECORDED_AT.pattern.pattern
                + re.escape("; at most 300 s ahead is accepted)")
            ),
        },
    )

    # Another department's system, and a code nobody registered: the same answer.
    nobody = {
        "type": "/problems/unknown-dossier",
        "title": "No such dossier",
        "status": 404,
        "detail": "No such dossier.",
    }
    diachinh = stack.department("diachinh")
    assert answered(diachinh.get(f"/api/v1/dossiers/{CODE}")) == (404, PROBLEM, nobody)
    assert answered(tuphap.get(f"/api/v1/dossiers/{CODE[:-1]}9")) == (404, PROBLEM, nobody)
    assert answered(diachinh.post(events, postponed | {"event_id": "dc-1"})) == (
        404,
        PROBLEM,
        nobody,
    )

    # Read back: the state, the appointment in force and how it came to be, every event.
    received = {"code": 2, "label": "Được tiếp nhận"}
    assert answered(tuphap.get(f"/api/v1/dossiers/{made.body['short_code']}")) == (
        200,
        JSON,
        {
            "code": CODE,
            "short_code": made.body["short_code"],
            "secret": made.body["secret"],
            "procedure_code": "1.001776",
            "procedure_name": "Cấp bản sao trích lục hộ tịch",
            "applicant_name": "Nguyễn Văn An",
            "phones": ["+84901234567"],
            "received_at": "2024-04-23T08:30:00+07:00",
            "due_at": "2024-05-03T17:00:00+07:00",
            "status": processing,
            "overdue": True,
            "holder": "Phòng Tư pháp",
            "version": 3,
            "updated_at": "2024-04-26T10:00:00+07:00",
            "appointments": [
                {
                    "due_at": "2024-04-26T17:00:00+07:00",
                    "set_at": "2024-04-23T08:30:00+07:00",
                    "event_id": "registered",
                    "source": "tuphap",
                    "reason": None,
                    "recorded_at": RECORDED_AT,
                    "current": False,
                },
                {
                    "due_at": "2024-05-03T17:00:00+07:00",
                    "set_at": "2024-04-26T10:00:00+07:00",
                    "event_id": "tp-124",
                    "source": "tuphap",
                    "reason": "Chờ kết quả xác minh",
                    "recorded_at": RECORDED_AT,
                    "current": True,
                },
            ],
            "history": [
                {
                    "event_id": "registered",
                    "status": received,
                    "at": "2024-04-23T08:30:00+07:00",
                    "desk": None,
                    "note": None,
                    "source": "tuphap",
                    "recorded_at": RECORDED_AT,
                    "current": True,
                    "due_at": "2024-04-26T17:00:00+07:00",
                },
                {
                    "event_id": "tp-123",
                    "status": processing,
                    "at": "2024-04-23T09:15:00+07:00",
                    "desk": "Phòng Tư pháp",
                    "note": None,
                    "source": "tuphap",
                    "recorded_at": RECORDED_AT,
                    "current": True,
                },
                {
                    "event_id": "tp-124",
                    "status": processing,
                    "at": "2024-04-26T10:00:00+07:00",
                    "desk": None,
                    "note": "Chờ kết quả xác minh",
                    "source": "tuphap",
                    "recorded_at": RECORDED_AT,
                    "current": True,
                    "due_at": "2024-05-03T17:00:00+07:00",
                    "rescheduled": True,
                },
            ],
        },
    )
