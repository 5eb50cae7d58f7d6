"""An operator's action is one operation: `hoso` and the dashboard's admin API refuse the same
things in the same words, and an account is never half changed."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from gateway.core.accounts import InvalidAccount
from gateway.store import keys
from gateway.store.stations import Stations
from gateway.store.users import AdminUsers, Role, UserError
from hoso import cli
from hoso.redis_server import RedisServer

ADMIN, PASSWORD = "quantri", "mat-khau-dung-1"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def admin(app: Flask, redis_client: redis.Redis) -> FlaskClient:
    AdminUsers(redis_client).create(ADMIN, PASSWORD, Role.ADMIN)
    client = app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    found = CSRF_FIELD.search(page)
    assert found is not None
    answer = client.post(
        "/admin/login",
        data={"username": ADMIN, "password": PASSWORD, "csrf_token": found.group(1)},
    )
    assert answer.status_code == 302
    return client


@pytest.fixture
def hoso(
    redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> pytest.MonkeyPatch:
    """`hoso` run in this process against the test's Redis."""
    monkeypatch.setenv("HOSO_CONFIG", os.devnull)
    monkeypatch.setenv("HOSO_REDIS_URL", redis_server.url)
    monkeypatch.setenv("HOSO_SECURITY_MASTER_KEY_FILE", str(tmp_path / "master.key"))
    return monkeypatch


def api(admin: FlaskClient, path: str, body: dict[str, object]) -> tuple[int, str]:
    token = admin.get("/admin/api/session").get_json()["csrf_token"]
    answer = admin.post(path, json=body, headers={"X-CSRF-Token": token})
    return answer.status_code, answer.get_json().get("detail", "")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fields", "options"),
    [
        ({"id": "tp-1", "desk": "x" * 201}, ["tp-1", "--desk", "x" * 201]),
        (
            {"id": "tp-1", "desk": "Phòng Tư pháp", "status": 99},
            ["tp-1", "--desk", "P", "--status", "99"],
        ),
        (
            {"id": "tp-1", "desk": "Phòng Tư pháp", "allowed_hours": 0},
            ["tp-1", "--desk", "P", "--allowed-hours", "0"],
        ),
        ({"id": "q" * 101, "desk": "Phòng Tư pháp"}, ["q" * 101, "--desk", "P"]),
    ],
)
def test_hoso_stations_set_refuses_what_the_dashboard_refuses_in_the_same_words(
    admin: FlaskClient,
    hoso: pytest.MonkeyPatch,
    redis_client: redis.Redis,
    capsys: pytest.CaptureFixture[str],
    fields: dict[str, object],
    options: list[str],
) -> None:
    status, detail = api(admin, "/admin/api/stations", fields)
    assert status == 422
    assert cli.main(["stations", "set", *options]) == 2
    assert capsys.readouterr().err.strip() == f"hoso stations: {detail}"
    assert Stations(redis_client).all() == []


def test_hoso_keys_create_and_the_dashboard_read_an_owner_id_alike(
    admin: FlaskClient, hoso: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, detail = api(admin, "/admin/api/keys", {"kind": "station", "owner": "quầy 1"})
    assert status == 422
    assert cli.main(["keys", "create", "--station", "quầy 1"]) == 2
    assert capsys.readouterr().err.strip() == f"hoso keys: {detail}"

    assert cli.main(["keys", "create", "--department", " tuphap "]) == 0  # trimmed, as there
    capsys.readouterr()
    assert cli.main(["keys", "list", "--json"]) == 0
    assert '"owner": "tuphap"' in capsys.readouterr().out


def test_hoso_templates_reset_refuses_an_unknown_template_as_set_does(
    hoso: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["templates", "set", "reply_nonexistent", "x"]) == 2
    refused_set = capsys.readouterr().err
    assert cli.main(["templates", "reset", "reply_nonexistent"]) == 2
    refused_reset = capsys.readouterr().err
    assert "no such template" in refused_set
    assert refused_reset == refused_set


def test_an_account_operation_on_no_account_writes_nothing(redis_client: redis.Redis) -> None:
    users = AdminUsers(redis_client)
    with pytest.raises(UserError, match="no account ghost"):
        users.set_password("ghost", PASSWORD)
    with pytest.raises(UserError, match="no account ghost"):
        users.set_role("ghost", Role.ADMIN)
    assert not redis_client.exists(keys.admin_user("ghost"))
    assert users.all() == []


def test_creating_a_taken_account_leaves_it_as_it_was(redis_client: redis.Redis) -> None:
    users = AdminUsers(redis_client)
    users.create("lanhdao", PASSWORD, Role.VIEWER)
    before = redis_client.hgetall(keys.admin_user("lanhdao"))
    with pytest.raises(UserError, match="exists already"):
        users.create("lanhdao", "mat-khau-khac-2", Role.ADMIN)
    with pytest.raises(InvalidAccount, match="at least"):
        users.create("moi", "short", Role.ADMIN)
    assert redis_client.hgetall(keys.admin_user("lanhdao")) == before
    assert users.get("moi") is None
    users.set_role("lanhdao", Role.ADMIN)
    assert users.get("lanhdao") == users.create("lanhdao", PASSWORD, Role.ADMIN, replace=True)
