"""The province's offices as an administrator sets them up: `hoso offices`, the dashboard's
offices page and the admin API, one operation (`Offices.set`) refusing the same things in the
same words; and API keys made for an office, through the keys page and the admin API."""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from config.settings import AdminSettings, GatewaySettings, Settings, SmsSettings
from gateway.store import keys
from gateway.store.dossiers import DossierStore
from gateway.store.offices import Offices
from gateway.store.users import AdminUsers, Role
from hoso import cli
from hoso.redis_server import RedisServer
from tests.conftest import Clock
from tests.factories import registration, registration_body
from tests.signing import AppClient, Signer

ADMIN, VIEWER, PASSWORD = "quantri", "xem", "mat-khau-dung-1"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
SECRET = re.compile(r'<pre class="secret">([^<]+)</pre>')
KEY_ID = re.compile(r"Đã tạo khóa <strong>([^<]+)</strong>")
MAIN = "UBND phường Bến Nghé"
SMS = SmsSettings(office=MAIN, hotline="028 3822 1234", number="0912345678")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        gateway=replace(GatewaySettings(), rate_per_minute=1000),
        admin=AdminSettings(session_key_file=str(tmp_path / "session.key")),
        sms=SMS,
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


@pytest.fixture
def hoso(
    redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> pytest.MonkeyPatch:
    """`hoso` run in this process against the test's Redis, with the [sms] of `SMS`."""
    monkeypatch.setenv("HOSO_CONFIG", os.devnull)
    monkeypatch.setenv("HOSO_REDIS_URL", redis_server.url)
    monkeypatch.setenv("HOSO_SECURITY_MASTER_KEY_FILE", str(tmp_path / "master.key"))
    monkeypatch.setenv("HOSO_SMS_OFFICE", SMS.office)
    monkeypatch.setenv("HOSO_SMS_HOTLINE", SMS.hotline)
    monkeypatch.setenv("HOSO_SMS_NUMBER", SMS.number)
    return monkeypatch


def token(client: FlaskClient) -> str:
    found: str = client.get("/admin/api/session").get_json()["csrf_token"]
    return found


def offices(redis_client: redis.Redis) -> Offices:
    return Offices.of(redis_client, SMS)


def text(answer: object) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", answer.get_data(as_text=True)).split())  # type: ignore[attr-defined]


# -- hoso offices ----------------------------------------------------------------------------


def test_hoso_offices_creates_an_office_and_an_edit_keeps_the_fields_not_given(
    hoso: pytest.MonkeyPatch, redis_client: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["offices", "list", "--json"]) == 0  # before any is saved: main, from [sms]
    (main,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert main == {
        "id": "main",
        "name": MAIN,
        "sms_name": "UBND phuong Ben Nghe",
        "hotline": "028 3822 1234",
        "numbers": ["0912345678"],
        "address": "",
        "heading": "",
        "shared_fallback": True,
        "reply_budget": 0,
    }
    assert redis_client.exists(keys.offices()) == 0  # reading wrote nothing

    made = ["offices", "set", "tan-dinh", "--name", "UBND phường Tân Định"]
    assert cli.main([*made, "--numbers", "0913000111, 0913000222", "--hotline", "028 1"]) == 0
    assert capsys.readouterr().out == "tan-dinh: đã tạo đơn vị UBND phường Tân Định\n"
    assert cli.main(["offices", "set", "tan-dinh", "--address", "1 Trần Quang Khải"]) == 0
    assert capsys.readouterr().out == "tan-dinh: đã sửa đơn vị UBND phường Tân Định\n"
    office = offices(redis_client).get("tan-dinh")
    assert office.numbers == ("0913000111", "0913000222")
    assert office.hotline == "028 1"
    assert office.address == "1 Trần Quang Khải"
    assert office.sms_name == "UBND phuong Tan Dinh"

    # Renamed: the SMS name follows the new name, unless one was chosen.
    assert cli.main(["offices", "set", "tan-dinh", "--name", "Phường Tân Định"]) == 0
    assert offices(redis_client).get("tan-dinh").sms_name == "Phuong Tan Dinh"
    assert cli.main(["offices", "set", "tan-dinh", "--sms-name", "P. Tan Dinh"]) == 0
    assert cli.main(["offices", "set", "tan-dinh", "--name", "UBND phường Tân Định"]) == 0
    office = offices(redis_client).get("tan-dinh")
    assert (office.sms_name, office.numbers) == ("P. Tan Dinh", ("0913000111", "0913000222"))

    assert cli.main(["offices", "set", "tan-dinh", "--shared-fallback", "false"]) == 0
    assert offices(redis_client).get("tan-dinh").shared_fallback is False
    capsys.readouterr()
    assert cli.main(["offices", "show", "tan-dinh"]) == 0
    shown = capsys.readouterr().out
    assert "Tên đơn vị: UBND phường Tân Định\n" in shown
    assert "Số điện thoại nhận tin nhắn: 0913000111, 0913000222\n" in shown
    assert "Dùng modem chung của tỉnh khi modem của đơn vị hỏng: không" in shown
    assert cli.main(["offices", "show", "ben-thanh"]) == 2
    assert capsys.readouterr().err == "hoso offices: không có đơn vị ben-thanh\n"


def test_naming_main_keeps_its_sms_settings_until_changed(
    hoso: pytest.MonkeyPatch, redis_client: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["offices", "set", "main", "--address", "29 Lý Tự Trọng, Quận 1"]) == 0
    assert capsys.readouterr().out == f"main: đã sửa đơn vị {MAIN}\n"
    office = offices(redis_client).get("main")
    assert (office.name, office.hotline, office.numbers) == (MAIN, SMS.hotline, (SMS.number,))
    assert office.address == "29 Lý Tự Trọng, Quận 1"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("body", "options"),
    [
        ({"id": "tan-dinh", "hotline": "1"}, ["tan-dinh", "--hotline", "1"]),  # a new one: no name
        ({"id": "Tân Định", "name": "X"}, ["Tân Định", "--name", "X"]),
        (
            {"id": "tan-dinh", "name": "Tân Định", "sms_name": "Tân Định"},
            ["tan-dinh", "--name", "Tân Định", "--sms-name", "Tân Định"],
        ),
        (
            {"id": "tan-dinh", "name": "Tân Định", "numbers": ["0913abc"]},
            ["tan-dinh", "--name", "Tân Định", "--numbers", "0913abc"],
        ),
        (
            {"id": "tan-dinh", "name": "Tân Định", "hotline": "1" * 21},
            ["tan-dinh", "--name", "Tân Định", "--hotline", "1" * 21],
        ),
    ],
)
def test_hoso_offices_set_refuses_what_the_admin_api_refuses_in_the_same_words(
    admin: FlaskClient,
    hoso: pytest.MonkeyPatch,
    redis_client: redis.Redis,
    capsys: pytest.CaptureFixture[str],
    body: dict[str, object],
    options: list[str],
) -> None:
    answer = admin.post("/admin/api/offices", json=body, headers={"X-CSRF-Token": token(admin)})
    assert answer.status_code == 422
    problem = answer.get_json()
    assert cli.main(["offices", "set", *options]) == 2
    assert capsys.readouterr().err == f"hoso offices: {problem['detail']}; chưa lưu gì\n"
    assert re.search(r"[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ]",
                     problem["detail"])  # fmt: skip
    assert problem["field"] in {"id", "name", "sms_name", "numbers", "hotline"}
    assert redis_client.exists(keys.offices()) == 0  # nothing saved


# -- the dashboard's page and the admin API ----------------------------------------------------


def test_the_offices_page_creates_an_office_edits_it_and_lists_it(
    admin: FlaskClient, redis_client: redis.Redis
) -> None:
    page = admin.get("/admin/offices")
    assert page.status_code == 200
    shown = text(page)
    assert f"main {MAIN} UBND phuong Ben Nghe 0912345678 028 3822 1234" in shown
    assert 'href="/admin/offices"' in page.get_data(as_text=True)  # in the navigation

    form = {
        "id": "tan-dinh",
        "name": "UBND phường Tân Định",
        "sms_name": "",
        "numbers": "0913000111, 0913000222",
        "hotline": "028 3848 0000",
        "address": "",
        "heading": "Bộ phận một cửa phường Tân Định",
        "shared_fallback": "false",
        "csrf_token": token(admin),
    }
    saved = admin.post("/admin/offices", data=form)
    assert saved.status_code == 302
    assert saved.headers["Location"].endswith("/admin/offices?done=tan-dinh")
    office = offices(redis_client).get("tan-dinh")
    assert office.numbers == ("0913000111", "0913000222")
    assert office.sms_name == "UBND phuong Tan Dinh"
    assert office.page_heading == "Bộ phận một cửa phường Tân Định"
    assert office.shared_fallback is False
    assert "Đã lưu đơn vị tan-dinh." in text(admin.get("/admin/offices?done=tan-dinh"))

    # The edit form starts from what is saved (the SMS name left to the name).
    edit = admin.get("/admin/offices/tan-dinh").get_data(as_text=True)
    assert 'name="name" required maxlength="120" value="UBND phường Tân Định"' in edit
    assert 'name="numbers" maxlength="200" value="0913000111, 0913000222"' in edit
    assert 'name="sms_name" maxlength="40" value=""' in edit
    assert '<option value="false" selected>' in edit
    edited = admin.post(
        "/admin/offices", data=form | {"name": "Phường Tân Định", "csrf_token": token(admin)}
    )
    assert edited.status_code == 302
    assert offices(redis_client).get("tan-dinh").sms_name == "Phuong Tan Dinh"
    assert admin.get("/admin/offices/ben-thanh").status_code == 404

    listed = admin.get("/admin/api/offices").get_json()["offices"]
    assert [o["id"] for o in listed] == ["main", "tan-dinh"]
    assert listed[1]["name"] == "Phường Tân Định"


def test_a_refused_form_names_the_field_in_vietnamese_keeps_what_was_typed_and_saves_nothing(
    admin: FlaskClient, redis_client: redis.Redis
) -> None:
    form = {
        "id": "tan-dinh",
        "name": "UBND phường Tân Định",
        "numbers": "0913000111, không-phải-số",
        "hotline": "028 3848 0000",
        "shared_fallback": "true",
        "csrf_token": token(admin),
    }
    refused = admin.post("/admin/offices", data=form)
    assert refused.status_code == 422
    assert (
        "Số điện thoại nhận tin nhắn: không-phải-số không phải số điện thoại. Chưa lưu gì."
        in text(refused)
    )
    assert 'value="0913000111, không-phải-số"' in refused.get_data(as_text=True)
    assert redis_client.exists(keys.offices()) == 0


def test_the_api_edit_keeps_the_fields_not_sent(
    admin: FlaskClient, redis_client: redis.Redis
) -> None:
    headers = {"X-CSRF-Token": token(admin)}
    made = admin.post(
        "/admin/api/offices",
        json={"id": "tan-dinh", "name": "UBND phường Tân Định", "numbers": ["0913000111"]},
        headers=headers,
    )
    assert made.status_code == 200
    edited = admin.post(
        "/admin/api/offices", json={"id": "tan-dinh", "hotline": "028 1"}, headers=headers
    )
    assert edited.get_json() == {
        "id": "tan-dinh",
        "name": "UBND phường Tân Định",
        "sms_name": "UBND phuong Tan Dinh",
        "hotline": "028 1",
        "numbers": ["0913000111"],
        "address": "",
        "heading": "",
        "shared_fallback": True,
        "reply_budget": 0,
    }
    unknown = admin.post(
        "/admin/api/offices", json={"id": "tan-dinh", "colour": "red"}, headers=headers
    )
    assert unknown.status_code == 422
    assert unknown.get_json()["field"] == "colour"


def test_viewers_read_the_offices_but_change_nothing_and_csrf_is_enforced(
    viewer: FlaskClient, admin: FlaskClient, redis_client: redis.Redis
) -> None:
    page = viewer.get("/admin/offices")
    assert page.status_code == 200
    assert "Lưu đơn vị" not in page.get_data(as_text=True)
    body = {"id": "tan-dinh", "name": "Tân Định"}
    assert (
        viewer.post("/admin/offices", data=body | {"csrf_token": token(viewer)}).status_code == 403
    )
    assert (
        viewer.post(
            "/admin/api/offices", json=body, headers={"X-CSRF-Token": token(viewer)}
        ).status_code
        == 403
    )
    assert admin.post("/admin/offices", data=body).status_code == 403  # no CSRF token
    assert admin.post("/admin/api/offices", json=body).status_code == 403
    assert viewer.get("/admin/api/offices").status_code == 200
    assert redis_client.exists(keys.offices()) == 0


def test_the_offices_page_needs_a_login(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/admin/offices").status_code == 302
    assert client.get("/admin/api/offices").status_code == 401


# -- keys of an office -----------------------------------------------------------------------


def test_a_key_made_for_an_office_registers_that_offices_dossiers_and_is_listed_with_it(
    app: Flask, admin: FlaskClient, redis_client: redis.Redis, clock: Clock
) -> None:
    offices(redis_client).set("tan-dinh", {"name": "UBND phường Tân Định"})
    page = admin.get("/admin/keys").get_data(as_text=True)
    assert '<option value="main" selected>UBND phường Bến Nghé</option>' in page
    assert '<option value="tan-dinh">UBND phường Tân Định</option>' in page

    made = admin.post(
        "/admin/keys",
        data={
            "kind": "department",
            "owner": "tuphap",
            "office": "tan-dinh",
            "csrf_token": token(admin),
        },
    )
    assert made.status_code == 201
    shown = made.get_data(as_text=True)
    assert "của đơn vị <strong>UBND phường Tân Định</strong>" in shown
    key_id, secret = KEY_ID.search(shown).group(1), SECRET.search(shown).group(1)  # type: ignore[union-attr]
    signed = AppClient(app.test_client(), Signer(key_id, secret, clock))
    registered = signed.post("/api/v1/dossiers", registration_body(1))
    assert registered.status == 201, registered.text
    assert DossierStore(redis_client).get(registered.body["code"]).office == "tan-dinh"

    headers = {"X-CSRF-Token": token(admin)}
    api = admin.post(
        "/admin/api/keys", json={"kind": "station", "owner": "quay-1"}, headers=headers
    ).get_json()
    assert api["office"] == "main"  # none chosen: the default office
    unknown = admin.post(
        "/admin/api/keys",
        json={"kind": "station", "owner": "quay-2", "office": "ben-thanh"},
        headers=headers,
    )
    assert unknown.status_code == 422
    assert '"ben-thanh"' in unknown.get_json()["detail"]

    rows = {k["key_id"]: k for k in admin.get("/admin/api/keys").get_json()["keys"]}
    assert rows[key_id]["office"] == "tan-dinh"
    assert rows[api["key_id"]]["office"] == "main"
    assert len(rows) == 2  # the refused one was not made
    listing = text(admin.get("/admin/keys"))
    assert f"{key_id} Phòng ban tuphap UBND phường Tân Định" in listing
    assert f"{api['key_id']} Quầy quét quay-1 UBND phường Bến Nghé" in listing


# -- hoso receipt ------------------------------------------------------------------------------


def test_hoso_receipt_prints_the_dossiers_office(
    hoso: pytest.MonkeyPatch,
    redis_client: redis.Redis,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    offices(redis_client).set(
        "tan-dinh",
        {"name": "UBND phường Tân Định", "hotline": "028 3848 7777", "address": "1 Hai Bà Trưng"},
    )
    made = DossierStore(redis_client).register(
        registration(5), "tuphap", datetime.now(UTC), "tan-dinh"
    )
    out = tmp_path / "receipt.html"
    assert cli.main(["receipt", made.dossier.code, "--format", "html", "-o", str(out)]) == 0
    paper = " ".join(re.sub(r"<[^>]+>", " ", out.read_text(encoding="utf-8")).split())
    assert "UBND phường Tân Định GIẤY BIÊN NHẬN HỒ SƠ" in paper
    assert f"{made.dossier.secret} gửi {SMS.number}" in paper  # the office has no number: [sms]'s
    assert "Đường dây nóng: 028 3848 7777" in paper
    assert "Nơi nhận hồ sơ: UBND phường Tân Định, 1 Hai Bà Trưng" in paper
    assert MAIN not in paper


def test_the_page_sets_an_offices_reply_budget_and_an_empty_one_is_the_sms_one(
    admin: FlaskClient, redis_client: redis.Redis
) -> None:
    fields = {"id": "da-kao", "name": "UBND phường Đa Kao", "reply_budget": ""}
    assert (
        admin.post("/admin/offices", data={"csrf_token": token(admin), **fields}).status_code == 302
    )
    offices = Offices.of(redis_client, SmsSettings())
    assert offices.get("da-kao").reply_budget == 0  # the [sms] daily_reply_budget
    fields["reply_budget"] = "500"
    assert (
        admin.post("/admin/offices", data={"csrf_token": token(admin), **fields}).status_code == 302
    )
    assert offices.get("da-kao").reply_budget == 500
    fields["reply_budget"] = "-1"
    refused = admin.post("/admin/offices", data={"csrf_token": token(admin), **fields})
    assert refused.status_code == 422
    assert "Số tin trả lời mỗi ngày" in refused.get_data(as_text=True)
    assert offices.get("da-kao").reply_budget == 500
