"""The administrators' dashboard and admin API: who may see and change what, sessions, CSRF,
lock-out, the modem pool and the templates, through the Flask test client on a real Redis."""

from __future__ import annotations

import io
import os
import re
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from config.settings import AdminSettings, GatewaySettings, ModemSettings, Settings
from gateway.http.app import create_app
from gateway.store.modems import ModemRegistry
from gateway.store.templates import Templates
from gateway.store.users import AdminUsers, Role
from hoso import cli
from hoso.redis_server import RedisServer
from tests.conftest import MASTER_KEY, Clock
from tests.signing import AppClient

ADMIN, VIEWER = "quantri", "xem"
PASSWORD = "mat-khau-dung-1"
LOGIN_FAILED = "Sai tên đăng nhập hoặc mật khẩu."
ATTEMPTS = 3
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        gateway=replace(GatewaySettings(), rate_per_minute=1000),
        admin=AdminSettings(
            session_key_file=str(tmp_path / "keys" / "session.key"),
            lockout_attempts=ATTEMPTS,
            lockout_minutes=15,
        ),
        modems=(
            ModemSettings("m1", "/dev/serial/by-id/usb-SIMCOM-if02", carrier="viettel"),
            ModemSettings("m2", "/dev/serial/by-id/usb-Quectel-if03", per_day=200),
        ),
    )


@pytest.fixture
def accounts(redis_client: redis.Redis) -> AdminUsers:
    users = AdminUsers(redis_client)
    users.create(ADMIN, PASSWORD, Role.ADMIN)
    users.create(VIEWER, PASSWORD, Role.VIEWER)
    return users


@pytest.fixture
def registry(redis_client: redis.Redis) -> ModemRegistry:
    registry = ModemRegistry(redis_client)
    registry.publish_health(
        "m1",
        {
            "state": "up",
            "signal_dbm": -71,
            "operator": "Viettel",
            "registered": 1,
            "sim": "READY",
            "last_error": "",
        },
    )
    registry.publish_health("m2", {"state": "up", "last_error": "+CMS ERROR: 21"})
    for at in (1, 2, 3):
        registry.note_quarantine_error("m2", 21, at * 1000)
    assert registry.quarantined("m2")
    return registry


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> TestResponse:
    page = client.get("/admin/login").get_data(as_text=True)
    token = CSRF_FIELD.search(page)
    assert token is not None
    return client.post(
        "/admin/login",
        data={"username": username, "password": password, "csrf_token": token.group(1)},
    )


def session_token(client: FlaskClient) -> str:
    answer = client.get("/admin/api/session")
    assert answer.status_code == 200
    token: str = answer.get_json()["csrf_token"]
    return token


@pytest.fixture
def admin(app: Flask, accounts: AdminUsers) -> FlaskClient:
    client = app.test_client()
    assert login(client, ADMIN).status_code == 302
    return client


@pytest.fixture
def viewer(app: Flask, accounts: AdminUsers) -> FlaskClient:
    client = app.test_client()
    assert login(client, VIEWER).status_code == 302
    return client


def api(
    client: FlaskClient, method: str, path: str, body: Any = None, token: str | None = ""
) -> TestResponse:
    """A JSON admin API call; token "" means: the session's own token."""
    headers = {}
    if token == "":
        token = session_token(client)
    if token is not None:
        headers["X-CSRF-Token"] = token
    return client.open(path, method=method, json=body, headers=headers)


def form(
    client: FlaskClient, path: str, data: dict[str, str] | None = None, token: str | None = ""
) -> TestResponse:
    """A dashboard form post; token "" means: the token the page carries."""
    fields = dict(data or {})
    if token == "":
        token = session_token(client)
    if token is not None:
        fields["csrf_token"] = token
    return client.post(path, data=fields)


def enabled(registry: ModemRegistry, settings: Settings, modem: str) -> bool:
    return {m.id: m for m in registry.effective(settings.modems)}[modem].enabled


PAGES = ["/admin/", "/admin/modems", "/admin/templates", "/admin/templates/reply_help"]
READS = ["/admin/api/session", "/admin/api/modems", "/admin/api/templates"]
CHANGES: list[tuple[str, str, Any]] = [
    ("POST", "/admin/api/modems/m1", {"enabled": False}),
    ("POST", "/admin/api/modems/m2/unquarantine", None),
    ("PUT", "/admin/api/templates/reply_help", {"body": "Soan HS <ma> gui {office}."}),
    ("DELETE", "/admin/api/templates/reply_help", None),
]
FORM_CHANGES: list[tuple[str, dict[str, str]]] = [
    ("/admin/modems/m1/disable", {}),
    ("/admin/modems/m2/unquarantine", {}),
    ("/admin/modems/m1/caps", {"per_day": "1"}),
    ("/admin/templates/reply_help", {"action": "save", "body": "Soan HS <ma>."}),
]


def untouched(redis_client: redis.Redis, registry: ModemRegistry, settings: Settings) -> None:
    assert enabled(registry, settings, "m1")
    assert registry.quarantined("m2")
    assert registry.live_changes() == {}
    assert not Templates(redis_client).all()["reply_help"][1]


# -- anonymous -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_page_redirects_to_login(app: Flask, path: str) -> None:
    answer = app.test_client().get(path)
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/admin/login?next=")


@pytest.mark.parametrize(("method", "path", "body"), [("GET", p, None) for p in READS] + CHANGES)
def test_anonymous_api_call_is_401(
    app: Flask,
    redis_client: redis.Redis,
    registry: ModemRegistry,
    settings: Settings,
    method: str,
    path: str,
    body: Any,
) -> None:
    answer = app.test_client().open(path, method=method, json=body)
    assert answer.status_code == 401
    assert answer.mimetype == "application/problem+json"
    untouched(redis_client, registry, settings)


@pytest.mark.parametrize(("path", "data"), FORM_CHANGES)
def test_anonymous_form_post_goes_to_login_and_changes_nothing(
    app: Flask,
    redis_client: redis.Redis,
    registry: ModemRegistry,
    settings: Settings,
    path: str,
    data: dict[str, str],
) -> None:
    answer = app.test_client().post(path, data=data)
    assert answer.status_code == 302
    assert "/admin/login" in answer.headers["Location"]
    untouched(redis_client, registry, settings)


@pytest.mark.parametrize("who", ["department", "station"])
@pytest.mark.parametrize(("method", "path", "body"), [("GET", "/admin/api/modems", None), *CHANGES])
def test_hmac_signed_request_of_a_department_or_station_is_401(
    request: pytest.FixtureRequest,
    redis_client: redis.Redis,
    registry: ModemRegistry,
    settings: Settings,
    who: str,
    method: str,
    path: str,
    body: Any,
) -> None:
    client: AppClient = request.getfixturevalue("tuphap" if who == "department" else "station")
    answer = client.request(method, path, body)
    assert answer.status == 401
    untouched(redis_client, registry, settings)


# -- viewers -------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("path", PAGES[1:])
def test_viewer_reads_every_page_without_change_buttons(
    viewer: FlaskClient, registry: ModemRegistry, path: str
) -> None:
    answer = viewer.get(path)
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert "chỉ xem" in page
    for button in ("Tắt</button>", "Bỏ cách ly", 'value="save"', "Lưu giới hạn"):
        assert button not in page


@pytest.mark.slow
@pytest.mark.parametrize("path", READS)
def test_viewer_reads_the_api(viewer: FlaskClient, registry: ModemRegistry, path: str) -> None:
    assert viewer.get(path).status_code == 200


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path", "body"), CHANGES)
def test_viewer_api_change_is_403(
    viewer: FlaskClient,
    redis_client: redis.Redis,
    registry: ModemRegistry,
    settings: Settings,
    method: str,
    path: str,
    body: Any,
) -> None:
    answer = api(viewer, method, path, body)
    assert answer.status_code == 403
    assert answer.get_json()["type"] == "/problems/forbidden"
    untouched(redis_client, registry, settings)


@pytest.mark.slow
@pytest.mark.parametrize(("path", "data"), FORM_CHANGES)
def test_viewer_form_change_is_403(
    viewer: FlaskClient,
    redis_client: redis.Redis,
    registry: ModemRegistry,
    settings: Settings,
    path: str,
    data: dict[str, str],
) -> None:
    answer = form(viewer, path, data)
    assert answer.status_code == 403
    assert "chỉ được xem" in answer.get_data(as_text=True)
    untouched(redis_client, registry, settings)


def test_viewer_may_preview_a_template(viewer: FlaskClient) -> None:
    answer = api(viewer, "POST", "/admin/api/templates/reply_help/preview", {"body": "HD {office}"})
    assert answer.status_code == 200
    assert answer.get_json()["parts"] == 1


# -- CSRF ----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("token", [None, "wrong-token"])
@pytest.mark.parametrize(("method", "path", "body"), CHANGES)
def test_admin_api_change_without_the_csrf_token_is_403(
    admin: FlaskClient,
    redis_client: redis.Redis,
    registry: ModemRegistry,
    settings: Settings,
    method: str,
    path: str,
    body: Any,
    token: str | None,
) -> None:
    answer = api(admin, method, path, body, token=token)
    assert answer.status_code == 403
    assert answer.get_json()["type"] == "/problems/csrf-failed"
    untouched(redis_client, registry, settings)


@pytest.mark.slow
@pytest.mark.parametrize("token", [None, "wrong-token"])
@pytest.mark.parametrize(("path", "data"), FORM_CHANGES)
def test_admin_form_change_without_the_csrf_token_is_403(
    admin: FlaskClient,
    redis_client: redis.Redis,
    registry: ModemRegistry,
    settings: Settings,
    path: str,
    data: dict[str, str],
    token: str | None,
) -> None:
    answer = form(admin, path, data, token=token)
    assert answer.status_code == 403
    untouched(redis_client, registry, settings)


def test_another_sessions_csrf_token_is_refused(
    app: Flask, admin: FlaskClient, registry: ModemRegistry, settings: Settings
) -> None:
    other = app.test_client()
    login(other, ADMIN)
    answer = api(admin, "POST", "/admin/api/modems/m1", {"enabled": False}, session_token(other))
    assert answer.status_code == 403
    assert enabled(registry, settings, "m1")


def test_login_form_without_the_csrf_token_is_refused(app: Flask, accounts: AdminUsers) -> None:
    client = app.test_client()
    answer = client.post("/admin/login", data={"username": ADMIN, "password": PASSWORD})
    assert answer.status_code == 403
    assert client.get("/admin/api/session").status_code == 401


# -- logging in ------------------------------------------------------------------------------


def test_wrong_password_and_unknown_account_read_the_same(app: Flask, accounts: AdminUsers) -> None:
    wrong = login(app.test_client(), ADMIN, "not-the-password")
    nobody = login(app.test_client(), "khong-co-ai", PASSWORD)
    assert wrong.status_code == nobody.status_code == 401
    for answer in (wrong, nobody):
        assert LOGIN_FAILED in answer.get_data(as_text=True)
    pages = [CSRF_FIELD.sub("", a.get_data(as_text=True)) for a in (wrong, nobody)]
    assert pages[0] == pages[1]


@pytest.mark.slow
def test_guesses_from_one_address_wait_longer_each_time_but_never_lock_the_account(
    app: Flask, accounts: AdminUsers, clock: Clock
) -> None:
    guesser = client_at(app, "203.0.113.7")
    for _ in range(ATTEMPTS):
        answer = login(guesser, ADMIN, "sai-mat-khau")
        assert answer.status_code == 401
        assert LOGIN_FAILED in answer.get_data(as_text=True)
    waits = []
    for _ in range(3):  # each further try of this pair waits, twice as long as the one before
        held = login(guesser, ADMIN, PASSWORD)
        assert held.status_code == 429
        assert "Quá nhiều lần đăng nhập sai với tên này từ máy này" in held.get_data(as_text=True)
        waits.append(int(held.headers["Retry-After"]))
        clock.advance(waits[-1])
        assert login(guesser, ADMIN, "sai-mat-khau").status_code == 401
    assert waits == [2, 4, 8]
    # The owner, from another address, is not slowed at all; nor is another account.
    assert login(client_at(app, "198.51.100.2"), ADMIN).status_code == 302
    assert login(client_at(app, "203.0.113.7"), VIEWER).status_code == 302
    # From the guesser's address, once the wait is over, the right password logs in.
    clock.advance(int(login(guesser, ADMIN, PASSWORD).headers["Retry-After"]))
    assert login(guesser, ADMIN, PASSWORD).status_code == 302


def client_at(app: Flask, address: str, forwarded_for: str | None = None) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    if forwarded_for is not None:
        client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client


@pytest.mark.slow
def test_one_address_guessing_across_accounts_must_wait(
    app: Flask, accounts: AdminUsers, settings: Settings, clock: Clock
) -> None:
    guesser = client_at(app, "203.0.113.7")
    for n in range(settings.admin.address_attempts):  # one try per made-up account: no lock-out
        assert login(guesser, f"khach{n}", "sai-mat-khau").status_code == 401
    refused = login(guesser, VIEWER)  # even the right password now waits
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    assert "Quá nhiều lần đăng nhập sai từ máy này" in refused.get_data(as_text=True)
    assert login(client_at(app, "198.51.100.2"), VIEWER).status_code == 302  # another address
    assert login(app.test_client(), ADMIN).status_code == 302  # the accounts are not locked
    clock.advance(int(refused.headers["Retry-After"]))
    assert login(guesser, VIEWER).status_code == 302


@pytest.mark.slow
def test_behind_a_configured_proxy_the_forwarded_address_is_counted(
    settings: Settings, redis_client: redis.Redis, accounts: AdminUsers, clock: Clock
) -> None:
    behind = replace(
        settings,
        gateway=replace(settings.gateway, proxies=1, trusted_proxies=("10.0.0.0/8",)),
    )
    app = create_app(behind, redis_client, MASTER_KEY, clock=clock)
    for n in range(behind.admin.address_attempts):
        login(client_at(app, "10.0.0.1", "203.0.113.7"), f"khach{n}", "sai-mat-khau")
    assert login(client_at(app, "10.0.0.1", "203.0.113.7"), VIEWER).status_code == 429
    # the same proxy, another citizen's address: not held back
    assert login(client_at(app, "10.0.0.1", "198.51.100.2"), VIEWER).status_code == 302


def test_a_success_resets_the_failure_count(app: Flask, accounts: AdminUsers) -> None:
    client = app.test_client()
    for _ in range(ATTEMPTS - 1):
        login(client, ADMIN, "sai-mat-khau")
    assert login(client, ADMIN).status_code == 302
    for _ in range(ATTEMPTS - 1):
        login(app.test_client(), ADMIN, "sai-mat-khau")
    assert login(app.test_client(), ADMIN).status_code == 302


def test_login_goes_to_the_page_asked_for_but_never_off_the_dashboard(
    app: Flask, accounts: AdminUsers
) -> None:
    client = app.test_client()
    first = client.get("/admin/templates")
    target = first.headers["Location"]
    page = client.get(target).get_data(as_text=True)
    token = CSRF_FIELD.search(page)
    assert token is not None
    data = {"username": ADMIN, "password": PASSWORD, "csrf_token": token.group(1)}
    assert client.post(target, data=data).headers["Location"] == "/admin/templates"
    for evil in ("//evil.example/admin/", "https://evil.example/", "/admin/\\evil"):
        other = app.test_client()
        answer = login_to(other, evil)
        assert answer.headers["Location"] == "/admin/modems"


def login_to(client: FlaskClient, next_target: str) -> TestResponse:
    page = client.get("/admin/login").get_data(as_text=True)
    token = CSRF_FIELD.search(page)
    assert token is not None
    data = {"username": ADMIN, "password": PASSWORD, "csrf_token": token.group(1)}
    return client.post("/admin/login", data={**data, "next": next_target})


def test_cookie_is_httponly_samesite_lax_and_scoped_to_admin(
    app: Flask, accounts: AdminUsers, settings: Settings
) -> None:
    answer = login(app.test_client(), ADMIN)
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("hoso_admin=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/admin" in cookie
    assert "Secure" in cookie  # the default
    key = Path(settings.admin.session_key_file)
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600


def test_cookie_is_not_secure_only_when_turned_off(
    redis_client: redis.Redis, accounts: AdminUsers, settings: Settings, clock: Clock
) -> None:
    plain = replace(settings, admin=replace(settings.admin, secure_cookies=False))
    app = create_app(plain, redis_client, MASTER_KEY, clock)
    assert "Secure" not in login(app.test_client(), ADMIN).headers["Set-Cookie"]


def test_logout_ends_the_session_on_the_server(app: Flask, admin: FlaskClient) -> None:
    cookie = admin.get_cookie("hoso_admin", path="/admin")
    assert cookie is not None
    assert form(admin, "/admin/logout").status_code == 302
    replay = app.test_client()
    replay.set_cookie("hoso_admin", cookie.value, path="/admin")
    assert replay.get("/admin/api/modems").status_code == 401


def test_a_demoted_account_loses_its_rights_at_once(
    admin: FlaskClient, accounts: AdminUsers, registry: ModemRegistry, settings: Settings
) -> None:
    accounts.set_role(ADMIN, Role.VIEWER)
    assert api(admin, "POST", "/admin/api/modems/m1", {"enabled": False}).status_code == 403
    assert enabled(registry, settings, "m1")


# -- the modem pool --------------------------------------------------------------------------


def test_modem_list_shows_live_state_signal_caps_and_quarantine(
    admin: FlaskClient, registry: ModemRegistry
) -> None:
    rows = {m["id"]: m for m in admin.get("/admin/api/modems").get_json()["modems"]}
    assert rows["m1"]["state"] == "up"
    assert rows["m1"]["signal_dbm"] == -71
    assert rows["m1"]["operator"] == "Viettel"
    assert rows["m1"]["registered"] is True
    assert rows["m1"]["sent_today"] == 0
    assert rows["m1"]["per_day"] == 300
    assert rows["m2"]["state"] == "quarantined"
    assert rows["m2"]["last_error"] == "+CMS ERROR: 21"
    assert rows["m2"]["per_day"] == 200
    page = admin.get("/admin/modems").get_data(as_text=True)
    assert "Hoạt động" in page
    assert "Cách ly" in page
    assert "-71 dBm" in page
    assert "0 / 300" in page
    # The SIM's state and the last error in Vietnamese; the modem's own words only beside them
    assert rows["m1"]["sim_text"] == "Sẵn sàng"
    assert rows["m2"]["last_error_text"] == "Tin nhắn bị từ chối"
    assert "Sẵn sàng" in page
    assert "Tin nhắn bị từ chối" in page
    assert '<small class="raw">+CMS ERROR: 21</small>' in page


def test_admin_disables_and_reenables_a_modem_through_the_api(
    admin: FlaskClient, registry: ModemRegistry, settings: Settings
) -> None:
    answer = api(admin, "POST", "/admin/api/modems/m1", {"enabled": False})
    assert answer.status_code == 200
    assert answer.get_json()["state"] == "disabled"
    assert not enabled(registry, settings, "m1")
    api(admin, "POST", "/admin/api/modems/m1", {"enabled": True})
    assert enabled(registry, settings, "m1")


def test_admin_disables_a_modem_with_the_page_button(
    admin: FlaskClient, registry: ModemRegistry, settings: Settings
) -> None:
    answer = form(admin, "/admin/modems/m1/disable")
    assert answer.status_code == 302
    assert not enabled(registry, settings, "m1")
    page = admin.get("/admin/modems").get_data(as_text=True)
    assert "Bật lại" in page
    assert "đã thay đổi trên trang này" in page
    form(admin, "/admin/modems/m1/enable")
    assert enabled(registry, settings, "m1")
    # Undone: the modem is as the file says, and no longer shown as changed
    assert registry.live_changes() == {}
    page = admin.get("/admin/modems").get_data(as_text=True)
    assert "đã thay đổi trên trang này" not in page
    # A change that stays (the carrier) keeps showing when another is undone
    form(admin, "/admin/modems/m1/disable")
    api(admin, "POST", "/admin/api/modems/m1", {"carrier": "mobifone"})
    form(admin, "/admin/modems/m1/enable")
    assert registry.live_changes() == {"m1": {"carrier": "mobifone"}}


def test_admin_releases_a_quarantine_through_the_api_and_the_page(
    admin: FlaskClient, registry: ModemRegistry
) -> None:
    answer = api(admin, "POST", "/admin/api/modems/m2/unquarantine")
    assert answer.status_code == 200
    assert answer.get_json()["state"] == "up"
    assert registry.quarantined("m2") is None
    for at in (1, 2, 3):
        registry.note_quarantine_error("m2", 21, at * 1000)
    assert form(admin, "/admin/modems/m2/unquarantine").status_code == 302
    assert registry.quarantined("m2") is None


def test_admin_changes_caps_and_carrier(
    admin: FlaskClient, registry: ModemRegistry, settings: Settings
) -> None:
    body = {"per_minute": 4, "per_hour": 100, "per_day": 150, "carrier": "mobifone"}
    assert api(admin, "POST", "/admin/api/modems/m2", body).status_code == 200
    m2 = {m.id: m for m in registry.effective(settings.modems)}["m2"]
    assert (m2.per_minute, m2.per_hour, m2.per_day, m2.carrier) == (4, 100, 150, "mobifone")
    assert form(admin, "/admin/modems/m2/caps", {"per_day": "90"}).status_code == 302
    assert {m.id: m for m in registry.effective(settings.modems)}["m2"].per_day == 90


@pytest.mark.slow
@pytest.mark.parametrize(
    "body",
    [
        {"enabled": "no"},
        {"per_day": -1},
        {"per_day": True},
        {"per_hour": "100"},
        {"port": "/dev/ttyUSB9"},
        {"carrier": 5},
        {},
        ["enabled"],
    ],
)
def test_a_bad_modem_change_is_422_and_changes_nothing(
    admin: FlaskClient, registry: ModemRegistry, body: Any
) -> None:
    answer = api(admin, "POST", "/admin/api/modems/m1", body)
    assert answer.status_code == 422
    assert registry.live_changes() == {}


def test_changing_an_unknown_modem_is_404(admin: FlaskClient, registry: ModemRegistry) -> None:
    assert api(admin, "POST", "/admin/api/modems/m9", {"enabled": False}).status_code == 404
    assert registry.live_changes() == {}


# -- templates -----------------------------------------------------------------------------


def test_a_template_with_an_unknown_placeholder_is_422_and_not_saved(
    admin: FlaskClient, redis_client: redis.Redis
) -> None:
    answer = api(admin, "PUT", "/admin/api/templates/reply_help", {"body": "Xem {ten_lua}"})
    assert answer.status_code == 422
    assert answer.get_json()["type"] == "/problems/invalid-template"
    assert "{ten_lua}" in answer.get_json()["detail"]
    assert not Templates(redis_client).all()["reply_help"][1]
    preview = api(admin, "POST", "/admin/api/templates/reply_help/preview", {"body": "{x"})
    assert preview.status_code == 422


def test_a_valid_template_is_saved_and_previewed(
    admin: FlaskClient, redis_client: redis.Redis
) -> None:
    body = "Hồ sơ {code}: {status}. Liên hệ {office}."
    answer = api(admin, "PUT", "/admin/api/templates/reply_status", {"body": body})
    assert answer.status_code == 200
    assert answer.get_json()["edited"] is True
    assert Templates(redis_client).get("reply_status").body == body
    assert Templates(redis_client).get("reply_status").urgent is True  # kept from the default

    preview = api(admin, "POST", "/admin/api/templates/reply_status/preview").get_json()
    assert preview["alphabet"] == "gsm7"
    assert preview["parts"] == 1
    assert preview["text"].startswith("Ho so 000.00.20.H57-240423-0001: Dang xu ly.")
    assert preview["accented_if_free"]["alphabet"] == "ucs2"

    long = api(
        admin,
        "POST",
        "/admin/api/templates/reply_status/preview",
        {"body": "Hồ sơ {code} " * 8},
    ).get_json()
    assert long["alphabet"] == "gsm7"
    assert long["parts"] == 2

    listed = {t["name"]: t for t in admin.get("/admin/api/templates").get_json()["templates"]}
    assert listed["reply_status"]["body"] == body
    assert listed["reply_status"]["edited"]
    assert api(admin, "DELETE", "/admin/api/templates/reply_status").status_code == 200
    assert not Templates(redis_client).all()["reply_status"][1]


def test_the_template_page_previews_saves_and_shows_errors(
    admin: FlaskClient, redis_client: redis.Redis
) -> None:
    shown = form(admin, "/admin/templates/reply_help", {"action": "preview", "body": "HD {office}"})
    assert shown.status_code == 200
    page = shown.get_data(as_text=True)
    assert 'id="preview-alphabet">gsm7' in page
    assert 'id="preview-parts">1' in page
    assert not Templates(redis_client).all()["reply_help"][1]

    bad = form(admin, "/admin/templates/reply_help", {"action": "save", "body": "HD {ho_ten}"})
    assert bad.status_code == 422
    assert "{ho_ten}" in bad.get_data(as_text=True)
    assert not Templates(redis_client).all()["reply_help"][1]

    saved = form(admin, "/admin/templates/reply_help", {"action": "save", "body": "HD {office}"})
    assert saved.status_code == 302
    assert Templates(redis_client).get("reply_help").body == "HD {office}"
    assert "Đã lưu" in admin.get(saved.headers["Location"]).get_data(as_text=True)


def test_an_unknown_template_is_404(admin: FlaskClient) -> None:
    assert api(admin, "PUT", "/admin/api/templates/nope", {"body": "x"}).status_code == 404
    assert admin.get("/admin/templates/nope").status_code == 404


# -- the first account -------------------------------------------------------------------------


def test_cli_creates_an_account_that_can_log_in(
    app: Flask,
    redis_client: redis.Redis,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HOSO_CONFIG", os.devnull)
    monkeypatch.setenv("HOSO_REDIS_URL", redis_server.url)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert (
        cli.main(["admin", "create-user", "lanhdao", "--role", "viewer", "--password-stdin"]) == 0
    )
    assert "lanhdao" in capsys.readouterr().out
    user = AdminUsers(redis_client).get("lanhdao")
    assert user is not None
    assert user.role is Role.VIEWER
    assert login(app.test_client(), "lanhdao").status_code == 302

    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["admin", "create-user", "khac", "--role", "admin", "--password-stdin"]) == 2
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["admin", "create-user", "lanhdao", "--role", "admin", "--password-stdin"]) == 2


def test_cli_resets_live_changes_and_forgets_a_retired_modem(
    app: Flask,
    accounts: AdminUsers,
    redis_client: redis.Redis,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HOSO_CONFIG", os.devnull)
    monkeypatch.setenv("HOSO_REDIS_URL", redis_server.url)
    registry = ModemRegistry(redis_client)
    assert cli.main(["modems", "set", "old1", "per_day=50"]) == 2  # no such modem: refused
    assert "no modem old1" in capsys.readouterr().err
    registry.publish_health("old1", {"state": "up"})
    assert cli.main(["modems", "set", "old1", "per_day=50", "enabled=maybe"]) == 2
    assert cli.main(["modems", "set", "old1", "per_day=500000"]) == 2  # the dashboard's bound
    assert cli.main(["modems", "set", "old1", "per_day=50", "enabled=false"]) == 0
    assert registry.live_changes()["old1"] == {"per_day": 50, "enabled": False}
    assert cli.main(["modems", "reset", "old1"]) == 0
    assert "back to the config file" in capsys.readouterr().out
    assert "old1" not in registry.live_changes()

    registry.publish_health("old1", {"state": "down", "last_error": "unplugged"})
    registry.hold("old1", "host-a:1", 60_000)  # a service still drives it
    assert cli.main(["modems", "forget", "old1"]) == 1
    assert "still drives old1" in capsys.readouterr().out
    registry.let_go("old1", "host-a:1")
    assert cli.main(["modems", "forget", "old1"]) == 0
    assert "old1" not in registry.known()
    assert "old1" not in {m["id"] for m in admin_rows(app)}
    assert 'modem="old1"' not in app.test_client().get("/metrics").get_data(as_text=True)


def admin_rows(app: Flask) -> list[dict[str, Any]]:
    client = app.test_client()
    assert login(client, VIEWER).status_code == 302
    rows: list[dict[str, Any]] = client.get("/admin/api/modems").get_json()["modems"]
    return rows


def test_cli_previews_a_template_with_the_same_samples_as_the_dashboard(
    app: Flask,
    accounts: AdminUsers,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HOSO_CONFIG", os.devnull)
    monkeypatch.setenv("HOSO_REDIS_URL", redis_server.url)
    assert cli.main(["templates", "preview", "reply_list_mine"]) == 0
    printed = capsys.readouterr().out
    assert "[default: gsm7, 1 part(s)" in printed
    client = app.test_client()
    assert login(client, VIEWER).status_code == 302
    page = client.get("/admin/templates/reply_list_mine").get_data(as_text=True)
    shown = "Ho so cua ban: CM4AE9K (Dang xu ly); PAZCGM6 (Da xu ly xong)."
    assert shown in printed
    assert shown in page
