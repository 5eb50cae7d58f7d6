"""Offices on the dashboard's modem and template pages and in `hoso templates`: each modem's
office, what waits for an office's modems, an office's own templates over the province's -
through the Flask test client and the CLI on a real Redis."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from config.settings import AdminSettings, GatewaySettings, ModemSettings, Settings
from gateway.core.messages import Priority
from gateway.store.modems import ModemRegistry
from gateway.store.offices import Offices
from gateway.store.outbox import Outbox
from gateway.store.templates import Templates
from gateway.store.users import AdminUsers, Role
from hoso import cli
from hoso.redis_server import RedisServer
from tests.integration.test_admin import ADMIN, PASSWORD, api, login, session_token
from tests.integration.test_metrics import scrape, value

OWN = "{office}: HUONG DAN RIENG, goi {hotline}."


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        gateway=replace(GatewaySettings(), rate_per_minute=1000),
        admin=AdminSettings(session_key_file=str(tmp_path / "keys" / "session.key")),
        modems=(
            ModemSettings("a1", "/dev/serial/by-id/usb-SIMCOM-if02", office="ben-nghe"),
            ModemSettings("s1", "/dev/serial/by-id/usb-Quectel-if03"),
        ),
    )


@pytest.fixture
def offices(redis_client: redis.Redis, settings: Settings) -> Offices:
    offices = Offices.of(redis_client, settings.sms)
    offices.set("ben-nghe", {"name": "UBND phường Bến Nghé", "hotline": "028 1111 1111"})
    return offices


@pytest.fixture
def admin(app: Flask, redis_client: redis.Redis, offices: Offices) -> FlaskClient:
    AdminUsers(redis_client).create(ADMIN, PASSWORD, Role.ADMIN)
    client = app.test_client()
    assert login(client, ADMIN).status_code == 302
    return client


def test_the_modem_pages_show_each_modem_s_office_and_what_waits_for_its_office(
    admin: FlaskClient, redis_client: redis.Redis
) -> None:
    registry = ModemRegistry(redis_client)
    registry.publish_health("a1", {"state": "down"})
    registry.publish_health("s1", {"state": "up"})
    Outbox(redis_client).enqueue(
        "+84901234567", "cho", Priority.NOTIFICATION, 1, via="@ben-nghe", office="ben-nghe"
    )
    rows = {m["id"]: m for m in admin.get("/admin/api/modems").get_json()["modems"]}
    assert rows["a1"]["office"] == "ben-nghe"
    assert rows["a1"]["pool_queue"] == 1
    assert rows["s1"]["office"] is None
    page = admin.get("/admin/modems").get_data(as_text=True)
    assert "Đơn vị: ben-nghe" in page
    assert "Dùng chung của tỉnh" in page
    assert "chờ modem của đơn vị: 1" in page


def test_an_office_s_own_template_is_saved_shown_and_dropped_through_the_api(
    admin: FlaskClient, redis_client: redis.Redis
) -> None:
    saved = api(admin, "PUT", "/admin/api/templates/reply_help?office=ben-nghe", {"body": OWN})
    assert saved.status_code == 200, saved.get_data(as_text=True)
    assert saved.get_json()["preview"]["text"].startswith("UBND phuong Ben Nghe: HUONG DAN RIENG")
    own = {
        t["name"]: t
        for t in admin.get("/admin/api/templates?office=ben-nghe").get_json()["templates"]
    }
    province = {t["name"]: t for t in admin.get("/admin/api/templates").get_json()["templates"]}
    assert own["reply_help"]["body"] == OWN
    assert own["reply_help"]["edited"] is True
    assert province["reply_help"]["body"] != OWN
    assert province["reply_help"]["edited"] is False
    page = admin.get("/admin/templates/reply_help?office=ben-nghe").get_data(as_text=True)
    assert "Mẫu riêng của đơn vị" in page
    assert "HUONG DAN RIENG" in page
    dropped = api(admin, "DELETE", "/admin/api/templates/reply_help?office=ben-nghe")
    assert dropped.status_code == 200
    assert Templates(redis_client).get("reply_help", "ben-nghe").body != OWN
    # The province's own, as Bến Nghé sends it now that there are several offices: named first.
    shown = api(admin, "POST", "/admin/api/templates/reply_help/preview?office=ben-nghe", {})
    assert shown.status_code == 200, shown.get_data(as_text=True)
    assert shown.get_json()["text"].startswith("UBND phuong Ben Nghe: Tra cuu: HS <ma ho so>")
    unknown = admin.get("/admin/api/templates?office=nowhere")
    assert unknown.status_code == 404


def test_hoso_templates_sets_and_resets_an_office_s_own(
    redis_server: RedisServer,
    redis_client: redis.Redis,
    offices: Offices,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HOSO_REDIS_URL", redis_server.url)
    monkeypatch.setenv("HOSO_CONFIG", "/dev/null")
    assert cli.main(["templates", "set", "reply_help", OWN, "--office", "ben-nghe"]) == 0
    out = capsys.readouterr().out
    assert "ben-nghe: reply_help: saved" in out
    assert "UBND phuong Ben Nghe: HUONG DAN RIENG, goi 028 1111 1111." in out
    assert Templates(redis_client).get("reply_help", "ben-nghe").body == OWN
    assert Templates(redis_client).get("reply_help").body != OWN
    assert cli.main(["templates", "reset", "reply_help", "--office", "ben-nghe"]) == 0
    assert Templates(redis_client).get("reply_help", "ben-nghe").body != OWN
    capsys.readouterr()
    assert cli.main(["templates", "preview", "reply_help", "--office", "ben-nghe"]) == 0
    assert "  UBND phuong Ben Nghe: Tra cuu: HS <ma ho so>" in capsys.readouterr().out
    assert cli.main(["templates", "list", "--office", "nowhere"]) == 2
    assert "không có đơn vị nowhere" in capsys.readouterr().err


def test_hoso_modems_list_names_each_modem_s_office_and_what_waits_for_it(
    tmp_path: Path,
    redis_server: RedisServer,
    redis_client: redis.Redis,
    offices: Offices,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "hoso.toml"
    config.write_text(
        '[[modems]]\nid = "a1"\nport = "/dev/x"\noffice = "ben-nghe"\n'
        '[[modems]]\nid = "s1"\nport = "/dev/y"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("HOSO_REDIS_URL", redis_server.url)
    monkeypatch.setenv("HOSO_CONFIG", str(config))
    Outbox(redis_client).enqueue(
        "+84901234567", "cho", Priority.NOTIFICATION, 1, via="@ben-nghe", office="ben-nghe"
    )
    assert cli.main(["modems", "list"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "office=ben-nghe office_queue=1" in lines["a1"]
    assert "office=shared" in lines["s1"]


def test_what_waits_for_an_office_s_modems_is_a_metric_per_office(
    app: Flask, redis_client: redis.Redis, offices: Offices
) -> None:
    outbox = Outbox(redis_client)
    for n in range(2):
        outbox.enqueue(
            f"+8490123456{n}", "cho", Priority.NOTIFICATION, n, via="@ben-nghe", office="ben-nghe"
        )
    samples = scrape(app)
    assert value(samples, "hoso_outbox_office_depth", office="ben-nghe") == 2
    assert value(samples, "hoso_outbox_office_depth", office="main") == 0
    assert value(samples, "hoso_outbox_depth", queue="shared", modem="") == 0


def test_hoso_routes_list_says_which_of_an_office_s_modems_are_down(
    tmp_path: Path,
    redis_server: RedisServer,
    redis_client: redis.Redis,
    offices: Offices,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "hoso.toml"
    config.write_text(
        '[[modems]]\nid = "a1"\nport = "/dev/x"\noffice = "ben-nghe"\n'
        '[[modems]]\nid = "s1"\nport = "/dev/y"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("HOSO_REDIS_URL", redis_server.url)
    monkeypatch.setenv("HOSO_CONFIG", str(config))
    ModemRegistry(redis_client).publish_health("s1", {"state": "up"})  # a1: no service drives it
    assert cli.main(["routes", "set", "notification", "modems", "--office", "ben-nghe"]) == 0
    capsys.readouterr()
    assert cli.main(["routes", "list", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    shown = {(r["office"], r["kind"]): r for r in rows}
    assert shown[("ben-nghe", "notification")]["down"] == ["@ben-nghe"]
    assert shown[("*", "notification")]["down"] == []


def test_the_template_page_saves_and_drops_an_office_s_own_with_the_office_field(
    admin: FlaskClient, redis_client: redis.Redis
) -> None:
    token = session_token(admin)
    page = "/admin/templates/reply_help"
    saved = admin.post(
        page, data={"action": "save", "body": OWN, "office": "ben-nghe", "csrf_token": token}
    )
    assert saved.status_code == 302
    assert "office=ben-nghe" in saved.headers["Location"]
    assert Templates(redis_client).get("reply_help", "ben-nghe").body == OWN
    assert Templates(redis_client).get("reply_help").body != OWN
    listed = admin.get("/admin/templates?office=ben-nghe").get_data(as_text=True)
    assert "mẫu riêng" in listed
    reset = admin.post(page, data={"action": "reset", "office": "ben-nghe", "csrf_token": token})
    assert reset.status_code == 302
    assert Templates(redis_client).get("reply_help", "ben-nghe").body != OWN
