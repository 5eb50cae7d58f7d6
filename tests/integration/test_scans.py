"""Counter scans through the real app and Redis: handoffs, idempotency by (station, seq),
clear refusals, offline replays, and the handoff record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis
from flask import Flask

from gateway.store.credentials import ClientKind
from gateway.store.stations import Station, Stations
from tests.conftest import Clock
from tests.factories import registration_body
from tests.integration.conftest import _client
from tests.signing import AppClient

SCANS = "/api/v1/scans"
CODE = "000.00.20.H57-240423-0001"
T = datetime(2024, 4, 23, 2, 0, tzinfo=UTC)


def scan(
    client: AppClient, station: str, seq: int, code: str, hours: float, staff: str | None = None
) -> dict[str, object]:
    body: dict[str, object] = {
        "station_id": station,
        "seq": seq,
        "code": code,
        "scanned_at": (T + timedelta(hours=hours)).isoformat(),
    }
    if staff is not None:
        body["staff"] = staff
    answer = client.post(SCANS, body)
    return {"status": answer.status, "body": answer.body}


@pytest.fixture
def stations(redis_client: redis.Redis) -> Stations:
    s = Stations(redis_client)
    s.save(Station("quay-1", "Bộ phận một cửa", "Quầy 1", allowed_hours=2))
    s.save(Station("tp-1", "Phòng Tư pháp", "Tư pháp", status=4, allowed_hours=24))
    s.save(Station("tra-kq", "Bộ phận trả kết quả", status=9))
    return s


@pytest.fixture
def quay(app: Flask, redis_client: redis.Redis, clock: Clock, stations: Stations) -> AppClient:
    return _client(app, redis_client, clock, ClientKind.STATION, "quay-1")


@pytest.fixture
def tuphap_station(
    app: Flask, redis_client: redis.Redis, clock: Clock, stations: Stations
) -> AppClient:
    return _client(app, redis_client, clock, ClientKind.STATION, "tp-1")


@pytest.fixture
def result_counter(
    app: Flask, redis_client: redis.Redis, clock: Clock, stations: Stations
) -> AppClient:
    return _client(app, redis_client, clock, ClientKind.STATION, "tra-kq")


@pytest.fixture
def registered(tuphap: AppClient) -> dict[str, str]:
    answer = tuphap.post("/api/v1/dossiers", registration_body(1))
    assert answer.status == 201
    return answer.body  # type: ignore[no-any-return]


def test_a_scan_hands_the_paper_to_the_stations_desk(
    quay: AppClient, registered: dict[str, str], tuphap: AppClient
) -> None:
    first = scan(quay, "quay-1", 1, registered["short_code"], 1, staff="Lan")
    assert first["status"] == 201
    assert first["body"]["holder"] == "Bộ phận một cửa"  # type: ignore[index]
    assert first["body"]["status"]["code"] == 2  # type: ignore[index]  # a handoff only
    read = tuphap.get(f"/api/v1/dossiers/{CODE}").body
    assert read["holder"] == "Bộ phận một cửa"


def test_the_same_station_and_seq_is_one_scan(quay: AppClient, registered: dict[str, str]) -> None:
    first = scan(quay, "quay-1", 7, registered["short_code"], 1)
    again = scan(quay, "quay-1", 7, registered["short_code"], 1)
    assert (first["status"], again["status"]) == (201, 200)
    assert first["body"] == again["body"]


def test_a_station_implies_a_status_and_sloppy_codes_are_understood(
    tuphap_station: AppClient, registered: dict[str, str]
) -> None:
    answer = scan(tuphap_station, "tp-1", 1, "0000020h572404230001", 2)
    assert answer["status"] == 201
    assert answer["body"]["status"] == {"code": 4, "label": "Đang xử lý"}  # type: ignore[index]


def test_clear_refusals_for_unknown_codes_forbidden_transitions_and_wrong_stations(
    quay: AppClient, result_counter: AppClient, registered: dict[str, str], tuphap: AppClient
) -> None:
    unknown = scan(quay, "quay-1", 2, "000.00.20.H57-240423-9999", 1)
    assert unknown["status"] == 404
    tuphap.post(
        f"/api/v1/dossiers/{CODE}/events",
        {"event_id": "e", "status": 5, "at": (T + timedelta(hours=1)).isoformat()},
    )
    forbidden = scan(result_counter, "tra-kq", 1, registered["short_code"], 2)  # 5 -> 9
    assert forbidden["status"] == 409
    assert forbidden["body"]["type"] == "/problems/invalid-transition"  # type: ignore[index]
    wrong = scan(quay, "tp-1", 3, registered["short_code"], 1)  # another station's id
    assert wrong["status"] == 422


def test_a_department_key_cannot_scan_and_a_station_key_cannot_read(
    tuphap: AppClient, quay: AppClient, registered: dict[str, str]
) -> None:
    assert scan(tuphap, "tuphap", 1, registered["short_code"], 1)["status"] == 401
    assert quay.get(f"/api/v1/dossiers/{CODE}").status == 401


def test_scans_replayed_after_an_outage_take_their_place_in_the_record_without_moving_the_holder(
    quay: AppClient, tuphap_station: AppClient, registered: dict[str, str], tuphap: AppClient
) -> None:
    short = registered["short_code"]
    # online: the justice desk scanned it at 05:00
    assert scan(tuphap_station, "tp-1", 1, short, 5, staff="Minh")["status"] == 201
    # the counter was offline: its 01:00 scan arrives now
    late = scan(quay, "quay-1", 1, short, 1, staff="Lan")
    assert late["status"] == 201
    assert late["body"]["current"] is False  # type: ignore[index]
    assert late["body"]["holder"] == "Phòng Tư pháp"  # type: ignore[index]
    record = tuphap.get(f"/api/v1/dossiers/{CODE}/handoffs").body["handoffs"]
    assert [(r["from_desk"], r["to_desk"], r["received_by"]) for r in record] == [
        (None, "Bộ phận một cửa", "Lan"),
        ("Bộ phận một cửa", "Phòng Tư pháp", "Minh"),
    ]
    assert record[1]["handed_over_by"] == "Lan"
    assert record[1]["hours_at_previous"] == 4.0
    assert record[1]["hours_allowed_at_previous"] == 2.0
    assert record[1]["late"] is True


def test_the_handoff_record_prints_as_a_page(
    quay: AppClient, tuphap_station: AppClient, registered: dict[str, str], tuphap: AppClient
) -> None:
    scan(quay, "quay-1", 1, registered["short_code"], 1, staff="Lan")
    scan(tuphap_station, "tp-1", 1, registered["short_code"], 2, staff="Minh")
    page = tuphap.get(f"/api/v1/dossiers/{CODE}/handoffs?format=html")
    assert page.status == 200
    assert "Phiếu kiểm soát quá trình giải quyết hồ sơ" in page.text
    assert "Phòng Tư pháp" in page.text
    assert "Minh" in page.text
    assert tuphap.get(f"/api/v1/dossiers/{CODE}/handoffs?format=pdf").status == 422


def test_a_stations_scans_are_idempotent_under_repeated_uploads(
    quay: AppClient, registered: dict[str, str], tuphap: AppClient
) -> None:
    for _ in range(3):
        for seq in range(1, 6):
            assert scan(quay, "quay-1", seq, registered["short_code"], seq)["status"] in (200, 201)
    history = tuphap.get(f"/api/v1/dossiers/{CODE}").body["history"]
    assert len([h for h in history if h["source"] == "station:quay-1"]) == 5
