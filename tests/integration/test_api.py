"""Department API v1 through the real app and a real Redis: answers as CONTRACT.md says."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import redis
from flask import Flask

from config.settings import GatewaySettings, Settings
from gateway.http.app import create_app
from tests.conftest import MASTER_KEY, Clock
from tests.factories import event_body, registration_body
from tests.integration.conftest import _client
from tests.signing import Answer, AppClient

DOSSIERS = "/api/v1/dossiers"


def assert_problem(answer: Answer, status: int, slug: str) -> None:
    assert answer.status == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert answer.body["status"] == status
    assert answer.body["type"] == f"/problems/{slug}"
    assert answer.body["title"]
    assert answer.body["detail"]


def register(client: AppClient, n: int, **overrides: object) -> Answer:
    answer = client.post(DOSSIERS, registration_body(n, **overrides))
    assert answer.status in (200, 201), answer.text
    return answer


def test_registering_answers_the_short_code_and_secret(tuphap: AppClient) -> None:
    answer = tuphap.post(DOSSIERS, registration_body(1))
    assert answer.status == 201
    assert answer.body["code"] == "000.00.20.H57-240423-0001"
    assert len(answer.body["short_code"]) == 7
    assert len(answer.body["secret"]) == 8
    assert answer.headers["Location"] == "/api/v1/dossiers/000.00.20.H57-240423-0001"


def test_the_same_registration_again_gets_200_and_the_same_answer(tuphap: AppClient) -> None:
    first = tuphap.post(DOSSIERS, registration_body(2))
    again = tuphap.post(DOSSIERS, registration_body(2))
    assert (first.status, again.status) == (201, 200)
    assert again.body == first.body


def test_the_same_code_with_another_body_conflicts(tuphap: AppClient) -> None:
    register(tuphap, 3)
    assert_problem(
        tuphap.post(DOSSIERS, registration_body(3, due_at="2024-05-01T17:00:00+07:00")),
        409,
        "dossier-conflict",
    )


@pytest.mark.parametrize(
    ("change", "status", "slug"),
    [
        ({"colour": "blue"}, 422, "invalid-field"),
        ({"code": "H57-0001"}, 422, "invalid-field"),
        ({"phones": []}, 422, "invalid-field"),
        ({"phones": ["hello"]}, 422, "invalid-field"),
        ({"phones": ["0001234567"]}, 422, "invalid-field"),
        ({"received_at": "2024-04-23T08:30:00"}, 422, "invalid-field"),
        ({"received_at": "yesterday"}, 422, "invalid-field"),
        ({"due_at": "2024-04-22T08:30:00+07:00"}, 422, "invalid-field"),
        ({"status": 11}, 422, "invalid-field"),
        ({"status": "2"}, 422, "invalid-field"),
        ({"procedure_name": "   "}, 422, "invalid-field"),
        ({"applicant_name": 7}, 422, "invalid-field"),
    ],
)
def test_invalid_registrations_are_refused_clearly(
    tuphap: AppClient, change: dict[str, object], status: int, slug: str
) -> None:
    assert_problem(tuphap.post(DOSSIERS, registration_body(4, **change)), status, slug)
    assert tuphap.get("/api/v1/dossiers/000.00.20.H57-240423-0004").status == 404


def test_a_missing_field_is_named(tuphap: AppClient) -> None:
    body = registration_body(5)
    del body["due_at"]
    answer = tuphap.post(DOSSIERS, body)
    assert_problem(answer, 422, "invalid-field")
    assert "due_at" in answer.body["detail"]


@pytest.mark.parametrize("raw", [b"{", b"[1, 2]", b"null", b"\xff\xfe", b'{"code": NaN}', b""])
def test_bad_json_is_refused(tuphap: AppClient, raw: bytes) -> None:
    answer = tuphap.post(DOSSIERS, raw, headers={"Content-Type": "application/json"})
    assert answer.status in (400, 422), answer.text
    assert answer.headers["Content-Type"].startswith("application/problem+json")


def test_a_body_that_is_not_json_is_415(tuphap: AppClient) -> None:
    answer = tuphap.post(
        DOSSIERS, b"code=1", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert_problem(answer, 415, "unsupported-media-type")


def test_a_body_over_64_kib_is_413(tuphap: AppClient) -> None:
    answer = tuphap.post(DOSSIERS, registration_body(6, procedure_name="x" * 70_000))
    assert_problem(answer, 413, "body-too-large")


def test_events_move_the_dossier_and_repeat_idempotently(tuphap: AppClient) -> None:
    register(tuphap, 7)
    path = f"{DOSSIERS}/000.00.20.H57-240423-0007/events"
    first = tuphap.post(path, event_body("ev-1", 4, desk="Phòng Tư pháp", note="Đang thẩm định"))
    assert first.status == 201, first.text
    assert first.body == {
        "code": "000.00.20.H57-240423-0007",
        "event_id": "ev-1",
        "status": {"code": 4, "label": "Đang xử lý"},
        "version": 2,
        "current": True,
        "rescheduled": False,
        "due_at": "2024-04-26T17:00:00+07:00",
    }
    again = tuphap.post(path, event_body("ev-1", 4, desk="Phòng Tư pháp", note="Đang thẩm định"))
    assert (again.status, again.body) == (200, first.body)
    assert_problem(tuphap.post(path, event_body("ev-1", 5)), 409, "event-id-reused")


def test_a_forbidden_transition_is_409(tuphap: AppClient) -> None:
    register(tuphap, 8, status=1)
    path = f"{DOSSIERS}/000.00.20.H57-240423-0008/events"
    answer = tuphap.post(path, event_body("ev-1", 10))
    assert_problem(answer, 409, "invalid-transition")


def test_an_older_event_is_recorded_but_not_current(tuphap: AppClient) -> None:
    register(tuphap, 9)
    path = f"{DOSSIERS}/000.00.20.H57-240423-0009/events"
    assert tuphap.post(path, event_body("done", 9, minutes=300)).status == 201
    late = tuphap.post(path, event_body("processing", 4, minutes=100))
    assert late.status == 201
    assert late.body["current"] is False
    assert late.body["status"]["code"] == 9


def test_reading_a_dossier_shows_status_holder_overdue_and_history(
    tuphap: AppClient, clock: Clock
) -> None:
    created = register(tuphap, 10).body
    path = f"{DOSSIERS}/000.00.20.H57-240423-0010"
    tuphap.post(path + "/events", event_body("a", 4, minutes=10, desk="Bộ phận một cửa"))
    tuphap.post(
        path + "/events", event_body("b", 5, minutes=20, desk="Phòng Tư pháp", note="Thiếu CCCD")
    )
    answer = tuphap.get(path)
    assert answer.status == 200
    d = answer.body
    assert d["code"] == created["code"]
    assert d["short_code"] == created["short_code"]
    assert d["status"] == {"code": 5, "label": "Yêu cầu bổ sung giấy tờ"}
    assert d["holder"] == "Phòng Tư pháp"
    assert d["due_at"] == "2024-04-26T17:00:00+07:00"
    assert d["overdue"] is True  # the test clock is years after the appointment
    assert [h["event_id"] for h in d["history"]] == ["registered", "a", "b"]
    assert d["history"][2]["note"] == "Thiếu CCCD"
    assert d["phones"] == ["+84901234567"]


def test_a_dossier_is_also_addressed_by_sloppy_or_short_code(tuphap: AppClient) -> None:
    created = register(tuphap, 11).body
    assert tuphap.get(f"{DOSSIERS}/0000020h572404230011").body["code"] == created["code"]
    assert tuphap.get(f"{DOSSIERS}/{created['short_code']}").body["code"] == created["code"]


def test_overdue_is_false_before_the_appointment(
    redis_client: redis.Redis, settings: Settings
) -> None:
    clock = Clock(1713837000.0)  # 2024-04-23T01:50Z, before the appointment
    app = create_app(settings, redis_client, MASTER_KEY, clock)
    from gateway.store.credentials import ClientKind

    client = _client(app, redis_client, clock, ClientKind.DEPARTMENT, "tuphap")
    register(client, 12)
    assert client.get(f"{DOSSIERS}/000.00.20.H57-240423-0012").body["overdue"] is False
    clock.advance(4 * 86400)
    assert client.get(f"{DOSSIERS}/000.00.20.H57-240423-0012").body["overdue"] is True


# -- appointments (gia hạn, hẹn lại) --------------------------------------------------------------


def test_an_event_with_a_new_appointment_reschedules_and_keeps_the_history(
    tuphap: AppClient,
) -> None:
    register(tuphap, 13)
    path = f"{DOSSIERS}/000.00.20.H57-240423-0013"
    gia_han = event_body(
        "gh-1", 4, minutes=120, due_at="2024-05-03T17:00:00+07:00", note="Chờ xác minh"
    )
    first = tuphap.post(path + "/events", gia_han)
    assert first.status == 201, first.text
    assert (first.body["rescheduled"], first.body["due_at"]) == (True, "2024-05-03T17:00:00+07:00")
    again = tuphap.post(path + "/events", gia_han)
    assert (again.status, again.body) == (200, first.body)
    moved = {**gia_han, "due_at": "2024-05-06T17:00:00+07:00"}
    assert_problem(tuphap.post(path + "/events", moved), 409, "event-id-reused")
    # An older rescheduling arriving late is kept, and the newer appointment stays in force.
    older = event_body("gh-0", 4, minutes=60, due_at="2024-04-30T17:00:00+07:00")
    stale = tuphap.post(path + "/events", older)
    assert stale.status == 201, stale.text
    assert (stale.body["current"], stale.body["rescheduled"]) == (False, False)
    assert stale.body["due_at"] == "2024-05-03T17:00:00+07:00"
    d = tuphap.get(path).body
    assert d["due_at"] == "2024-05-03T17:00:00+07:00"
    assert d["appointments"] == [
        {
            "due_at": "2024-04-26T17:00:00+07:00",
            "set_at": "2024-04-23T08:30:00+07:00",
            "event_id": "registered",
            "source": "tuphap",
            "reason": None,
            "recorded_at": d["history"][0]["recorded_at"],
            "current": False,
        },
        {
            "due_at": "2024-04-30T17:00:00+07:00",
            "set_at": "2024-04-23T09:30:00+07:00",
            "event_id": "gh-0",
            "source": "tuphap",
            "reason": None,
            "recorded_at": d["history"][2]["recorded_at"],
            "current": False,
        },
        {
            "due_at": "2024-05-03T17:00:00+07:00",
            "set_at": "2024-04-23T10:30:00+07:00",
            "event_id": "gh-1",
            "source": "tuphap",
            "reason": "Chờ xác minh",
            "recorded_at": d["history"][1]["recorded_at"],
            "current": True,
        },
    ]
    assert [(h["event_id"], h.get("due_at"), h.get("rescheduled")) for h in d["history"]] == [
        ("registered", "2024-04-26T17:00:00+07:00", None),
        ("gh-1", "2024-05-03T17:00:00+07:00", True),
        ("gh-0", "2024-04-30T17:00:00+07:00", False),
    ]


@pytest.mark.parametrize(
    ("due_at", "detail"),
    [
        ("2024-04-23T09:00:00+07:00", "due_at: before the event's at"),
        ("2024-05-03 17:00", "due_at: not an ISO 8601 time with an offset"),
        ("2024-05-03T17:00:00", "due_at: not an ISO 8601 time with an offset"),
        ("03/05/2024", "due_at"),
        (20240503, "due_at"),
    ],
)
def test_a_bad_new_appointment_is_refused_and_nothing_is_recorded(
    tuphap: AppClient, due_at: object, detail: str
) -> None:
    register(tuphap, 14)
    path = f"{DOSSIERS}/000.00.20.H57-240423-0014"
    answer = tuphap.post(path + "/events", event_body("gh", 4, minutes=60, due_at=due_at))
    assert_problem(answer, 422, "invalid-field")
    assert detail in answer.body["detail"]
    d = tuphap.get(path).body
    assert (d["due_at"], len(d["history"]), d["status"]["code"]) == (
        "2024-04-26T17:00:00+07:00",
        1,
        2,
    )


def test_a_new_appointment_on_a_refused_transition_is_refused_with_it(tuphap: AppClient) -> None:
    register(tuphap, 15, status=1)
    path = f"{DOSSIERS}/000.00.20.H57-240423-0015"
    answer = tuphap.post(path + "/events", event_body("x", 10, due_at="2024-05-03T17:00:00+07:00"))
    assert_problem(answer, 409, "invalid-transition")
    assert tuphap.get(path).body["due_at"] == "2024-04-26T17:00:00+07:00"


# -- times from the future --------------------------------------------------------------------


def next_request_time(clock: Clock) -> datetime:
    """The gateway's time at the next request: the test signer lets a second pass first."""
    return datetime.fromtimestamp(clock() + 1, UTC)


def test_an_event_dated_beyond_the_clock_skew_allowance_is_refused(
    tuphap: AppClient, clock: Clock
) -> None:
    register(tuphap, 16)
    path = f"{DOSSIERS}/000.00.20.H57-240423-0016"
    for ahead in (timedelta(seconds=301), timedelta(hours=3), timedelta(days=200)):
        at = next_request_time(clock) + ahead
        body = {"event_id": f"f{ahead}", "status": 4, "at": at.isoformat()}
        answer = tuphap.post(path + "/events", body)
        assert_problem(answer, 422, "invalid-field")
        assert answer.body["detail"].startswith("at: ")
        assert "is in the future" in answer.body["detail"]
        assert "at most 300 s ahead is accepted" in answer.body["detail"]
    d = tuphap.get(path).body
    assert (len(d["history"]), d["status"]["code"]) == (1, 2)
    # Within the allowance (a clock a little ahead) it is recorded and current...
    near = next_request_time(clock) + timedelta(seconds=300)
    answer = tuphap.post(
        path + "/events", {"event_id": "near", "status": 4, "at": near.isoformat()}
    )
    assert (answer.status, answer.body["current"]) == (201, True)
    # ...and the next real event, a second later, is current too.
    clock.advance(300)
    later = {"event_id": "later", "status": 5, "at": (near + timedelta(seconds=1)).isoformat()}
    assert tuphap.post(path + "/events", later).body["current"] is True


def test_a_registration_received_in_the_future_is_refused(tuphap: AppClient, clock: Clock) -> None:
    now = next_request_time(clock)
    body = registration_body(
        17,
        received_at=(now + timedelta(days=1)).isoformat(),
        due_at=(now + timedelta(days=5)).isoformat(),
    )
    answer = tuphap.post(DOSSIERS, body)
    assert_problem(answer, 422, "invalid-field")
    assert answer.body["detail"].startswith("received_at: ")
    assert "is in the future" in answer.body["detail"]
    assert tuphap.get(f"{DOSSIERS}/000.00.20.H57-240423-0017").status == 404


def test_the_allowance_is_the_configured_clock_skew(
    redis_client: redis.Redis, clock: Clock
) -> None:
    settings = Settings(gateway=replace(GatewaySettings(), rate_per_minute=1000, clock_skew=30))
    app = create_app(settings, redis_client, MASTER_KEY, clock)
    from gateway.store.credentials import ClientKind

    client = _client(app, redis_client, clock, ClientKind.DEPARTMENT, "tuphap")
    register(client, 18)
    at = next_request_time(clock) + timedelta(seconds=31)
    path = f"{DOSSIERS}/000.00.20.H57-240423-0018/events"
    ahead = {"event_id": "a", "status": 4, "at": at.isoformat()}
    answer = client.post(path, ahead)
    assert_problem(answer, 422, "invalid-field")
    assert "at most 30 s ahead is accepted" in answer.body["detail"]


def test_unknown_routes_and_methods_answer_problems(tuphap: AppClient) -> None:
    assert_problem(tuphap.get("/api/v1/nothing"), 404, "not-found")
    answer = tuphap.request("DELETE", f"{DOSSIERS}/000.00.20.H57-240423-0001")
    assert_problem(answer, 405, "method-not-allowed")


def test_too_many_requests_get_429_with_retry_after(
    redis_client: redis.Redis, clock: Clock
) -> None:
    settings = Settings(gateway=replace(GatewaySettings(), rate_per_minute=5))
    clock.now = clock.now // 60 * 60  # the start of a window: each signed request moves 1 s on
    app = create_app(settings, redis_client, MASTER_KEY, clock)
    from gateway.store.credentials import ClientKind

    client = _client(app, redis_client, clock, ClientKind.DEPARTMENT, "tuphap")
    answers = []
    for i in range(7):
        answers.append(client.get(f"{DOSSIERS}/000.00.20.H57-240423-0001?n={i}"))
    statuses = [(a.status, a.body.get("type") if a.body else None) for a in answers]
    assert [a.status for a in answers[:5]] == [404] * 5, statuses
    assert answers[5].status == 429, statuses
    assert_problem(answers[5], 429, "rate-limited")
    assert 1 <= int(answers[5].headers["Retry-After"]) <= 60


def test_the_openapi_document_is_served_without_signature(app: Flask) -> None:
    r = app.test_client().get("/api/v1/openapi.json")
    assert r.status_code == 200
    doc = r.get_json()
    assert doc["openapi"].startswith("3.1")
    assert {"/api/v1/dossiers", "/api/v1/dossiers/{code}/events", "/api/v1/dossiers/{code}"} <= set(
        doc["paths"]
    )
