"""Dashboard roles with an office, through the Flask test client on a real Redis: accounts made
before offices, who manages whose account, a leader's first page, a station's office."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from config.settings import AdminSettings, GatewaySettings, Settings, SmsSettings
from gateway.core.messages import Priority
from gateway.core.roles import PROVINCE, Role
from gateway.http import admin_auth as auth
from gateway.http.dossier_rows import OVERDUE_LIMIT
from gateway.http.message_rows import MESSAGE_WINDOW
from gateway.store import keys
from gateway.store.dossiers import DossierStore
from gateway.store.offices import Offices
from gateway.store.outbox import Outbox
from gateway.store.stations import Stations
from gateway.store.users import AdminUsers, LoginOutcome
from hoso.redis_server import RedisServer
from tests.conftest import Clock
from tests.factories import registration

PASSWORD = "mat-khau-dung-1"
NEW = "mat-khau-moi-2025"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
A, B = "phuong-a", "phuong-b"
NOW = datetime(2024, 4, 29, 2, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        gateway=replace(GatewaySettings(), rate_per_minute=1000),
        admin=AdminSettings(session_key_file=str(tmp_path / "keys" / "session.key")),
    )


@pytest.fixture
def users(redis_client: redis.Redis) -> AdminUsers:
    offices = Offices.of(redis_client, SmsSettings())
    offices.set(A, {"name": "UBND phường A"})
    offices.set(B, {"name": "UBND phường B"})
    return AdminUsers(redis_client)


@pytest.fixture
def codes(redis_client: redis.Redis) -> dict[str, str]:
    store = DossierStore(redis_client)
    made = {}
    for n, office in ((1, A), (2, B)):
        reg = registration(n, phones=[f"090123450{n}"])
        store.register(reg, "tuphap", NOW, office)
        made[office] = reg.code
    return made


def logged_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    token = CSRF_FIELD.search(client.get("/admin/login").get_data(as_text=True))
    assert token is not None
    answer = client.post(
        "/admin/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
    )
    assert answer.status_code == 302
    return client


def reset(client: FlaskClient, username: str) -> None:
    token = client.get("/admin/api/session").get_json()["csrf_token"]
    client.post(
        f"/admin/accounts/{username}/password",
        data={"new_password": NEW, "repeat_password": NEW, "csrf_token": token},
    )


def as_before_offices(client: redis.Redis, username: str, role: str) -> None:
    """The account as the release before offices stored it: role admin|viewer, no office."""
    client.hset(keys.admin_user(username), "role", role)
    client.hdel(keys.admin_user(username), "office")


def test_accounts_made_before_offices_keep_what_they_had(
    app: Flask, users: AdminUsers, redis_client: redis.Redis, codes: dict[str, str]
) -> None:
    users.create("tuan", PASSWORD, Role.PROVINCE_ADMIN)
    users.create("xem", PASSWORD, Role.VIEWER)
    as_before_offices(redis_client, "tuan", "admin")
    as_before_offices(redis_client, "xem", "viewer")
    tuan, xem = users.get("tuan"), users.get("xem")
    assert tuan is not None
    assert (tuan.role, tuan.office) == (Role.PROVINCE_ADMIN, PROVINCE)
    assert xem is not None
    assert (xem.role, xem.office) == (Role.VIEWER, PROVINCE)
    for name in ("tuan", "xem"):
        client = logged_in(app, name)
        for code in codes.values():
            assert client.get(f"/admin/api/dossiers/{code}").status_code == 200
    session = logged_in(app, "tuan").get("/admin/api/session").get_json()
    assert (session["role"], session["office"]) == ("province-admin", "*")


@pytest.mark.slow
def test_an_office_administrator_resets_only_its_offices_accounts_below_the_province(
    app: Flask, users: AdminUsers
) -> None:
    users.create("qt-a", PASSWORD, Role.OFFICE_ADMIN, office=A)
    users.create("xem-a", PASSWORD, Role.VIEWER, office=A)
    users.create("xem-b", PASSWORD, Role.VIEWER, office=B)
    users.create("lanh-dao-tinh", PASSWORD, Role.LEADER)
    users.create("tinh", PASSWORD, Role.PROVINCE_ADMIN)
    office_admin = logged_in(app, "qt-a")
    page = office_admin.get("/admin/account").get_data(as_text=True)
    listed = set(re.findall(r'data-account="([^"]+)"', page))
    assert listed == {"qt-a", "xem-a"}
    for other in ("xem-b", "lanh-dao-tinh", "tinh", "no-such-account"):
        reset(office_admin, other)
        shown = office_admin.get("/admin/account").get_data(as_text=True)
        assert "và tài khoản phải tồn tại" in shown  # as for an account that does not exist
    for untouched in ("xem-b", "lanh-dao-tinh", "tinh"):
        assert users.login(untouched, PASSWORD).outcome is LoginOutcome.OK
    reset(office_admin, "xem-a")
    assert users.login("xem-a", NEW).outcome is LoginOutcome.OK
    viewer = logged_in(app, "xem-b")
    token = viewer.get("/admin/api/session").get_json()["csrf_token"]
    refused = viewer.post(
        "/admin/accounts/xem-b/password",
        data={"new_password": NEW, "repeat_password": NEW, "csrf_token": token},
    )
    assert refused.status_code == 403


def test_a_leader_lands_on_the_charts_and_reads_no_setup(app: Flask, users: AdminUsers) -> None:
    users.create("lanh-dao-a", PASSWORD, Role.LEADER, office=A)
    client = app.test_client()
    token = CSRF_FIELD.search(client.get("/admin/login").get_data(as_text=True))
    assert token is not None
    answer = client.post(
        "/admin/login",
        data={"username": "lanh-dao-a", "password": PASSWORD, "csrf_token": token.group(1)},
    )
    assert answer.headers["Location"] == "/admin/charts"
    charts = client.get("/admin/charts").get_data(as_text=True)
    assert "lãnh đạo, phuong-a" in charts
    assert 'href="/admin/modems"' not in charts
    page = client.get("/admin/modems")
    assert page.status_code == 403
    assert "không được xem trang này" in page.get_data(as_text=True)


def test_a_station_is_made_in_the_office_of_who_makes_it(
    app: Flask, users: AdminUsers, redis_client: redis.Redis
) -> None:
    users.create("qt-a", PASSWORD, Role.OFFICE_ADMIN, office=A)
    users.create("tinh", PASSWORD, Role.PROVINCE_ADMIN)
    stations = Stations(redis_client)
    for who, body, office in (
        ("qt-a", {"id": "quay-a", "desk": "Một cửa", "office": B}, A),
        ("tinh", {"id": "quay-b", "desk": "Một cửa", "office": B}, B),
        ("tinh", {"id": "quay-b", "desk": "Tư pháp"}, B),  # an edit keeps the office
        ("tinh", {"id": "quay-main", "desk": "Một cửa"}, "main"),
    ):
        client = logged_in(app, who)
        token = client.get("/admin/api/session").get_json()["csrf_token"]
        answer = client.post("/admin/api/stations", json=body, headers={"X-CSRF-Token": token})
        assert answer.status_code == 200, answer.get_json()
        assert answer.get_json()["office"] == office
        found = stations.find(body["id"])
        assert found is not None
        assert found.office == office
    client = logged_in(app, "qt-a")
    token = client.get("/admin/api/session").get_json()["csrf_token"]
    taken = client.post(
        "/admin/api/stations",
        json={"id": "quay-b", "desk": "Chiếm"},
        headers={"X-CSRF-Token": token},
    )
    assert taken.status_code == 422
    kept = stations.find("quay-b")
    assert kept is not None
    assert (kept.desk, kept.office) == ("Tư pháp", B)


@pytest.mark.slow
def test_the_cli_gives_accounts_a_role_and_an_office_it_checks(
    users: AdminUsers, redis_server: RedisServer, tmp_path: Path
) -> None:
    (tmp_path / "empty.toml").write_text("", encoding="utf-8")
    env = dict(os.environ) | {
        "HOSO_REDIS_URL": redis_server.url,
        "HOSO_CONFIG": str(tmp_path / "empty.toml"),
    }

    def hoso(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hoso.cli", "admin", *args],
            input=PASSWORD + "\n",
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    made = hoso("create-user", "lan", "--role", "office-admin", "--office", A, "--password-stdin")
    assert made.returncode == 0, made.stderr
    assert "office-admin, office phuong-a" in made.stdout
    no_office = hoso("create-user", "binh", "--role", "office-admin", "--password-stdin")
    assert no_office.returncode == 2
    assert "needs an office" in no_office.stderr
    unknown = hoso(
        "create-user", "binh", "--role", "viewer", "--office", "khong-co", "--password-stdin"
    )
    assert unknown.returncode == 2
    assert "không có đơn vị khong-co" in unknown.stderr
    province = hoso(
        "create-user", "tinh", "--role", "province-admin", "--office", A, "--password-stdin"
    )
    assert province.returncode == 2
    assert users.get("binh") is None
    assert users.get("tinh") is None
    moved = hoso("set-role", "lan", "--role", "leader", "--office", "*")
    assert moved.returncode == 0, moved.stderr
    lan = users.get("lan")
    assert lan is not None
    assert (lan.role, lan.office) == (Role.LEADER, PROVINCE)
    listed = hoso("list").stdout
    assert re.search(r"^lan +leader +\*$", listed, re.M), listed


@pytest.mark.slow
def test_an_offices_overdue_list_is_whole_behind_more_than_a_page_of_another_offices(
    app: Flask, users: AdminUsers, redis_client: redis.Redis, clock: Clock
) -> None:
    """Office B has more overdue dossiers than a list holds, all due before office A's one: A's
    leader still finds A's, the province's leader sees the list cut short."""
    store = DossierStore(redis_client)
    b_codes = []
    for n in range(OVERDUE_LIMIT + 5):
        reg = registration(n + 10, due_at="2024-04-25T17:00:00+07:00")
        store.register(reg, "tuphap", NOW, B)
        b_codes.append(reg.code)
    late_a = registration(1, due_at="2024-04-26T17:00:00+07:00")
    store.register(late_a, "tuphap", NOW, A)
    store.index_by_due([*b_codes, late_a.code])
    clock.now = NOW.timestamp()
    users.create("lanh-dao-a", PASSWORD, Role.LEADER, office=A)
    users.create("lanh-dao-tinh", PASSWORD, Role.LEADER)
    office = logged_in(app, "lanh-dao-a").get("/admin/api/overdue").get_json()
    assert [r["code"] for r in office["overdue"]] == [late_a.code]
    assert office["truncated"] is False
    province = logged_in(app, "lanh-dao-tinh").get("/admin/api/overdue").get_json()
    assert len(province["overdue"]) == OVERDUE_LIMIT
    assert province["truncated"] is True
    assert late_a.code not in {r["code"] for r in province["overdue"]}


def test_a_view_guarded_by_the_role_named_before_offices_asks_for_a_province_administrator(
    app: Flask, users: AdminUsers
) -> None:
    """`login_required(Role.ADMIN)`, as a view written before offices says it: an office
    administrator is not let in by it."""

    @auth.login_required(Role.ADMIN)
    def province_only() -> str:
        return "ok"

    app.add_url_rule("/admin/api/province-only", view_func=province_only)
    users.create("qt-a", PASSWORD, Role.OFFICE_ADMIN, office=A)
    users.create("tinh", PASSWORD, Role.PROVINCE_ADMIN)
    assert logged_in(app, "qt-a").get("/admin/api/province-only").status_code == 403
    assert logged_in(app, "tinh").get("/admin/api/province-only").status_code == 200


@pytest.mark.slow
def test_an_offices_messages_are_found_behind_more_than_a_window_of_another_offices(
    app: Flask, users: AdminUsers, redis_client: redis.Redis, codes: dict[str, str]
) -> None:
    outbox = Outbox(redis_client)
    now_ms = int(NOW.timestamp() * 1000)
    mine = outbox.enqueue(
        "+84901234501", "Ho so A", Priority.NOTIFICATION, now_ms, kind="notice", dossier=codes[A]
    )
    for n in range(MESSAGE_WINDOW + 5):  # newer, all about office B's dossier
        outbox.enqueue(
            "+84901234502", f"B {n}", Priority.NOTIFICATION, now_ms, kind="notice", dossier=codes[B]
        )
    users.create("xem-a", PASSWORD, Role.VIEWER, office=A)
    found = logged_in(app, "xem-a").get("/admin/api/messages").get_json()
    assert [m["id"] for m in found["messages"]] == [mine]
