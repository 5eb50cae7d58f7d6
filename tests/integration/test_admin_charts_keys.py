"""The dashboard's charts (where dossiers wait, the modem pool), API keys and stations pages,
through the Flask test client on a real Redis."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from config.settings import AdminSettings, GatewaySettings, Settings
from gateway.core.events import StatusChanged
from gateway.core.stations import Station
from gateway.store import keys
from gateway.store.dossiers import DossierStore
from gateway.store.modems import ModemRegistry
from gateway.store.stations import Stations
from gateway.store.users import AdminUsers, Role
from tests.conftest import Clock
from tests.factories import registration_body
from tests.signing import AppClient, Signer

ADMIN, VIEWER, PASSWORD = "quantri", "xem", "mat-khau-dung-1"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
SECRET = re.compile(r'<pre class="secret">([^<]+)</pre>')
T = datetime(2024, 4, 24, 2, 0, tzinfo=UTC)
ONE_STOP, JUSTICE = "Bộ phận một cửa", "Phòng Tư pháp"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        gateway=replace(GatewaySettings(), rate_per_minute=1000),
        admin=AdminSettings(session_key_file=str(tmp_path / "session.key")),
    )


def _login(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    token = CSRF_FIELD.search(page)
    assert token is not None
    answer = client.post(
        "/admin/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
    )
    assert answer.status_code == 302
    return client


@pytest.fixture
def admin(app: Flask, redis_client: redis.Redis) -> FlaskClient:
    AdminUsers(redis_client).create(ADMIN, PASSWORD, Role.ADMIN)
    return _login(app, ADMIN)


@pytest.fixture
def viewer(app: Flask, redis_client: redis.Redis) -> FlaskClient:
    AdminUsers(redis_client).create(VIEWER, PASSWORD, Role.VIEWER)
    return _login(app, VIEWER)


def token(client: FlaskClient) -> str:
    found: str = client.get("/admin/api/session").get_json()["csrf_token"]
    return found


def create_key(client: FlaskClient, owner: str, kind: str = "department") -> tuple[str, str]:
    answer = client.post(
        "/admin/keys", data={"kind": kind, "owner": owner, "csrf_token": token(client)}
    )
    assert answer.status_code == 201
    page = answer.get_data(as_text=True)
    secret = SECRET.search(page)
    key_id = re.search(r"Đã tạo khóa <strong>([^<]+)</strong>", page)
    assert secret is not None
    assert key_id is not None
    return key_id.group(1), secret.group(1)


def registers(app: Flask, clock: Clock, key: tuple[str, str], n: int) -> int:
    signed = AppClient(app.test_client(), Signer(key[0], key[1], clock))
    return signed.post("/api/v1/dossiers", registration_body(n)).status


# -- keys ------------------------------------------------------------------------------------


def test_a_key_made_on_the_page_signs_requests_until_revoked(
    app: Flask, admin: FlaskClient, clock: Clock
) -> None:
    key = create_key(admin, "tuphap")
    assert registers(app, clock, key, 1) == 201
    listing = admin.get("/admin/keys").get_data(as_text=True)
    assert key[0] in listing
    assert key[1] not in listing
    api = admin.get("/admin/api/keys").get_json()
    assert key[1] not in str(api)
    (row,) = [k for k in api["keys"] if k["key_id"] == key[0]]
    assert row["owner"] == "tuphap"
    assert row["active"]
    assert len(row["fingerprint"]) == 16
    answer = admin.post(f"/admin/keys/{key[0]}/revoke", data={"csrf_token": token(admin)})
    assert answer.status_code == 302
    assert registers(app, clock, key, 2) == 401
    (row,) = [k for k in admin.get("/admin/api/keys").get_json()["keys"] if k["key_id"] == key[0]]
    assert not row["active"]
    assert row["revoked_at"]


def test_admin_api_problems_quote_what_was_sent_as_json_does_never_as_a_python_repr(
    admin: FlaskClient,
) -> None:
    headers = {"X-CSRF-Token": token(admin)}
    answers = [
        admin.post("/admin/api/keys/dep_'nope'/revoke", headers=headers),
        admin.post("/admin/api/templates/reply_'nope'/preview", json={}, headers=headers),
        admin.post("/admin/api/keys", json={"kind": "station", "owner": "quầy 1"}, headers=headers),
    ]
    assert [(a.status_code, a.get_json()["detail"]) for a in answers] == [
        (404, """No API key "dep_'nope'"."""),
        (404, """No SMS template "reply_'nope'"."""),
        (
            422,
            """owner: "quầy 1" is not a usable station id (1 to 100 characters, no spaces or"""
            """ ':').""",
        ),
    ]


def test_rotation_keeps_both_keys_working_until_the_old_one_is_revoked(
    app: Flask, admin: FlaskClient, clock: Clock
) -> None:
    old = create_key(admin, "diachinh")
    new = create_key(admin, "diachinh")
    assert registers(app, clock, old, 11) == 201
    assert registers(app, clock, new, 12) == 201
    assert "cả hai khóa đều dùng được" in admin.get("/admin/keys").get_data(as_text=True)
    answer = admin.post(f"/admin/api/keys/{old[0]}/revoke", headers={"X-CSRF-Token": token(admin)})
    assert answer.status_code == 200
    assert registers(app, clock, old, 13) == 401
    assert registers(app, clock, new, 14) == 201


def test_viewers_read_keys_but_change_nothing_and_csrf_is_enforced(
    admin: FlaskClient, viewer: FlaskClient
) -> None:
    assert viewer.get("/admin/keys").status_code == 200
    assert viewer.get("/admin/api/keys").status_code == 200
    refused = viewer.post(
        "/admin/keys", data={"kind": "station", "owner": "q1", "csrf_token": token(viewer)}
    )
    assert refused.status_code == 403
    no_csrf = admin.post("/admin/keys", data={"kind": "station", "owner": "q1"})
    assert no_csrf.status_code == 403
    api = admin.post("/admin/api/keys", json={"kind": "station", "owner": "q1"})
    assert api.status_code == 403
    made = admin.post(
        "/admin/api/keys",
        json={"kind": "station", "owner": "q1"},
        headers={"X-CSRF-Token": token(admin)},
    )
    assert made.status_code == 201
    assert made.get_json()["secret"]
    bad = admin.post(
        "/admin/api/keys",
        json={"kind": "boss", "owner": "q1"},
        headers={"X-CSRF-Token": token(admin)},
    )
    assert bad.status_code == 422
    missing = admin.post("/admin/keys/dep_nope/revoke", data={"csrf_token": token(admin)})
    assert missing.status_code == 404
    assert viewer.get("/admin/api/keys").get_json()["keys"][0]["owner"] == "q1"


# -- stations --------------------------------------------------------------------------------


def test_stations_save_and_list(
    admin: FlaskClient, viewer: FlaskClient, redis_client: redis.Redis
) -> None:
    saved = admin.post(
        "/admin/stations",
        data={
            "id": "tp-1",
            "desk": JUSTICE,
            "name": "Tư pháp",
            "status": "4",
            "allowed_hours": "24",
            "csrf_token": token(admin),
        },
    )
    assert saved.status_code == 302
    assert Stations(redis_client).get("tp-1") == Station("tp-1", JUSTICE, "Tư pháp", 4, 24.0)
    answer = admin.post(
        "/admin/api/stations",
        json={"id": "quay-1", "desk": ONE_STOP, "allowed_hours": 2},
        headers={"X-CSRF-Token": token(admin)},
    )
    assert answer.status_code == 200
    listed = viewer.get("/admin/api/stations").get_json()["stations"]
    assert [s["id"] for s in listed] == ["quay-1", "tp-1"]
    page = viewer.get("/admin/stations").get_data(as_text=True)
    assert JUSTICE in page
    assert ONE_STOP in page
    assert (
        viewer.post(
            "/admin/stations", data={"id": "x", "desk": "y", "csrf_token": token(viewer)}
        ).status_code
        == 403
    )
    assert admin.post("/admin/stations", data={"id": "x", "desk": "y"}).status_code == 403
    bad = admin.post(
        "/admin/api/stations",
        json={"id": "x", "desk": "y", "status": 999},
        headers={"X-CSRF-Token": token(admin)},
    )
    assert bad.status_code == 422


# -- charts ----------------------------------------------------------------------------------


def _dossier(
    app: Flask,
    redis_client: redis.Redis,
    clock: Clock,
    admin: FlaskClient,
    n: int,
    due: str,
    moves: list[tuple[str, float]],
) -> str:
    body = registration_body(n, due_at=due)
    key = create_key(admin, f"dep{n}")
    signed = AppClient(app.test_client(), Signer(key[0], key[1], clock))
    assert signed.post("/api/v1/dossiers", body).status == 201
    store = DossierStore(redis_client)
    for i, (desk, hours) in enumerate(moves):
        event = StatusChanged(f"scan-{n}-{i}", None, T + timedelta(hours=hours), "quay", desk=desk)
        store.apply(body["code"], event, f"dep{n}", T)
    due_ms = int(datetime.fromisoformat(due).timestamp() * 1000)
    redis_client.zadd(keys.open_by_due(), {body["code"]: due_ms})
    return str(body["code"])


def test_charts_show_where_dossiers_wait(
    app: Flask, admin: FlaskClient, viewer: FlaskClient, redis_client: redis.Redis, clock: Clock
) -> None:
    stations = Stations(redis_client)
    stations.save(Station("quay-1", ONE_STOP, allowed_hours=2))
    stations.save(Station("tp-1", JUSTICE, status=4, allowed_hours=24))
    # now: T + 30 h (25/04 15:00 in Vietnam)
    _dossier(
        app,
        redis_client,
        clock,
        admin,
        21,
        "2024-04-26T10:00:00+07:00",
        [(ONE_STOP, 0), (JUSTICE, 2)],
    )  # 28 h at justice, due in 19 h
    _dossier(
        app, redis_client, clock, admin, 22, "2024-04-26T17:00:00+07:00", [(JUSTICE, 10)]
    )  # 20 h at justice, due in 26 h
    _dossier(
        app, redis_client, clock, admin, 23, "2024-04-25T20:00:00+07:00", [(ONE_STOP, 29)]
    )  # 1 h at the one-stop desk, due in 5 h
    clock.now = (T + timedelta(hours=30)).timestamp()
    data = viewer.get("/admin/api/charts").get_json()["desks"]
    assert data["open_dossiers"] == 3
    rows = {r["desk"]: r for r in data["desks"]}
    assert rows[JUSTICE] == {
        "desk": JUSTICE,
        "dossiers": 2,
        "average_hours": 24.0,
        "longest_hours": 28.0,
        "allowed_hours": 24.0,
        "over_allowed": 1,
        "overdue": 0,
        "at_risk": 1,
    }
    assert rows[ONE_STOP] == {
        "desk": ONE_STOP,
        "dossiers": 1,
        "average_hours": 1.0,
        "longest_hours": 1.0,
        "allowed_hours": 2.0,
        "over_allowed": 0,
        "overdue": 0,
        "at_risk": 1,
    }
    assert data["at_risk_by_desk"] == {ONE_STOP: 1, JUSTICE: 1}
    assert data["at_risk_by_procedure"] == {"Cấp bản sao trích lục hộ tịch": 2}
    page = viewer.get("/admin/charts").get_data(as_text=True)
    assert page.count("<svg") >= 3
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert JUSTICE in svg
    assert ONE_STOP in svg
    assert 'class="allowed"' in svg
    row = re.search(rf'data-desk="{JUSTICE}">(.*?)</tr>', page, re.S)
    assert row is not None
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row.group(1))
    assert cells == [JUSTICE, "2", "24", "28", "24", "1", "0", "1"]  # hours: 24, not 24.0


def test_modem_chart_counts_messages_per_hour(
    viewer: FlaskClient, redis_client: redis.Redis, clock: Clock
) -> None:
    clock.now = T.timestamp()
    registry = ModemRegistry(redis_client)
    for _ in range(3):
        registry.count_sent("m1", T)
    registry.count_sent("m1", T - timedelta(hours=2))
    registry.publish_health("m1", {"state": "up", "signal_dbm": -71})
    modems = viewer.get("/admin/api/charts").get_json()["modems"]["modems"]
    (m1,) = modems
    counts = [h["sent"] for h in m1["hourly"]]
    assert len(counts) == 24
    assert counts[-1] == 3
    assert counts[-3] == 1
    assert sum(counts) == 4
    assert m1["signal_dbm"] == -71
    page = viewer.get("/admin/charts").get_data(as_text=True)
    assert "Modem m1: tin nhắn mỗi giờ" in page
    assert "-71" in page


def test_charts_need_a_login(app: Flask) -> None:
    assert app.test_client().get("/admin/charts").status_code == 302
    assert app.test_client().get("/admin/api/charts").status_code == 401
