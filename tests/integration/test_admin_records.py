"""Admin pages and API for outbound SMS and dossiers: search (phones masked), resend of a failed
SMS, dossier search / detail / handoffs, the overdue list; through the Flask test client."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from config.settings import AdminSettings, GatewaySettings, Settings, SmsSettings
from gateway.core.events import StatusChanged
from gateway.core.messages import Priority
from gateway.core.stations import Station
from gateway.core.status import Status
from gateway.store import keys
from gateway.store.dossiers import DossierStore
from gateway.store.outbox import Outbox
from gateway.store.stations import Stations
from gateway.store.users import AdminUsers, Role
from tests.factories import registration
from worker.notifier import Notifier

ADMIN, VIEWER = "quantri", "xem"
PASSWORD = "mat-khau-dung-1"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
PHONE = "+84901234567"
OTHER = "+84987654321"
NOW = datetime(2024, 5, 10, 3, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        gateway=replace(GatewaySettings(), rate_per_minute=1000),
        admin=AdminSettings(session_key_file=str(tmp_path / "keys" / "session.key")),
    )


@pytest.fixture
def accounts(redis_client: redis.Redis) -> AdminUsers:
    users = AdminUsers(redis_client)
    users.create(ADMIN, PASSWORD, Role.ADMIN)
    users.create(VIEWER, PASSWORD, Role.VIEWER)
    return users


def login(client: FlaskClient, username: str) -> None:
    page = client.get("/admin/login").get_data(as_text=True)
    token = CSRF_FIELD.search(page)
    assert token is not None
    answer = client.post(
        "/admin/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
    )
    assert answer.status_code == 302


def session_token(client: FlaskClient) -> str:
    token: str = client.get("/admin/api/session").get_json()["csrf_token"]
    return token


@pytest.fixture
def admin(app: Flask, accounts: AdminUsers) -> FlaskClient:
    client = app.test_client()
    login(client, ADMIN)
    return client


@pytest.fixture
def viewer(app: Flask, accounts: AdminUsers) -> FlaskClient:
    client = app.test_client()
    login(client, VIEWER)
    return client


def post_api(client: FlaskClient, path: str, token: str | None = "") -> TestResponse:
    headers = {}
    if token == "":
        token = session_token(client)
    if token is not None:
        headers["X-CSRF-Token"] = token
    return client.post(path, headers=headers)


@pytest.fixture
def outbox(redis_client: redis.Redis) -> Outbox:
    return Outbox(redis_client)


@pytest.fixture
def store(redis_client: redis.Redis) -> DossierStore:
    return DossierStore(redis_client)


def fail(outbox: Outbox, message_id: str, error: str = "+CMS ERROR: 38") -> None:
    sms = outbox.claim("m1", "", 10**13)
    assert sms is not None
    assert sms.id == message_id
    outbox.give_up(sms, error, 10**13)


@pytest.fixture
def sms(outbox: Outbox) -> dict[str, str]:
    """Three SMS: a notice to PHONE that failed, a reply to PHONE, a notice to OTHER."""
    failed = outbox.enqueue(
        PHONE, "Ho so A da xu ly xong", Priority.NOTIFICATION, 1_000, kind="notice", dossier="A-1"
    )
    fail(outbox, failed)
    reply = outbox.enqueue(PHONE, "Ho so A dang xu ly", Priority.REPLY, 2_000, kind="reply_status")
    other = outbox.enqueue(
        OTHER, "Ho so B", Priority.NOTIFICATION, 3_000, kind="notice", dossier="B-2"
    )
    return {"failed": failed, "reply": reply, "other": other}


def ids(answer: TestResponse) -> list[str]:
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return [m["id"] for m in answer.get_json()["messages"]]


# -- anonymous -------------------------------------------------------------------------------

PAGES = ["/admin/messages", "/admin/dossiers?q=x", "/admin/dossiers/A-1", "/admin/overdue"]
APIS = [
    "/admin/api/messages",
    "/admin/api/dossiers?q=x",
    "/admin/api/dossiers/A",
    "/admin/api/overdue",
]


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_page_redirects_to_login(app: Flask, path: str) -> None:
    answer = app.test_client().get(path)
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/admin/login?next=")


@pytest.mark.parametrize("path", APIS)
def test_anonymous_api_is_401(app: Flask, path: str) -> None:
    answer = app.test_client().get(path)
    assert answer.status_code == 401
    assert answer.mimetype == "application/problem+json"


def test_anonymous_resend_changes_nothing(app: Flask, sms: dict[str, str], outbox: Outbox) -> None:
    client = app.test_client()
    assert client.post(f"/admin/api/messages/{sms['failed']}/resend").status_code == 401
    assert client.post(f"/admin/messages/{sms['failed']}/resend").status_code == 302
    assert outbox.get(str(int(sms["other"]) + 1)) is None


# -- messages --------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "typed", ["0901 234 567", "84901234567", "+84 90 123 4567", "090.123.4567"]
)
def test_messages_by_phone_in_any_form_newest_first(
    viewer: FlaskClient, sms: dict[str, str], typed: str
) -> None:
    answer = viewer.get("/admin/api/messages", query_string={"phone": typed})
    assert ids(answer) == [sms["reply"], sms["failed"]]
    rows = answer.get_json()["messages"]
    assert {r["to"] for r in rows} == {"+8490*****67"}
    assert rows[1] | {"created_at": None, "updated_at": None} == {
        "id": sms["failed"],
        "to": "+8490*****67",
        "text": "Ho so A da xu ly xong",
        "priority": int(Priority.NOTIFICATION),
        "state": "failed",
        "modem": "m1",
        "attempts": 0,
        "kind": "notice",
        "dossier": "A-1",
        "error": "+CMS ERROR: 38",
        "created_at": None,
        "updated_at": None,
        "resend_of": None,
        "resent_as": None,
    }
    page = viewer.get("/admin/messages", query_string={"phone": typed}).get_data(as_text=True)
    assert "+8490*****67" in page
    assert "+CMS ERROR: 38" in page
    assert "Thông báo" in page
    assert "Trả lời<br><small>tình trạng hồ sơ</small>" in page  # what the reply was about
    assert "reply_status" not in page  # never the template's name
    for whole in (PHONE, "0901234567", "901234567"):
        assert whole not in page


def test_message_list_never_shows_a_full_number(viewer: FlaskClient, sms: dict[str, str]) -> None:
    page = viewer.get("/admin/messages").get_data(as_text=True)
    assert "+8498*****21" in page
    for whole in (PHONE, OTHER, "901234567", "987654321"):
        assert whole not in page
    assert "987654321" not in viewer.get("/admin/api/messages").get_data(as_text=True)


def test_messages_by_dossier_and_failed_filter(viewer: FlaskClient, sms: dict[str, str]) -> None:
    assert ids(viewer.get("/admin/api/messages?dossier=B-2")) == [sms["other"]]
    assert ids(viewer.get("/admin/api/messages?state=failed")) == [sms["failed"]]
    assert ids(viewer.get("/admin/api/messages?state=failed&phone=0987654321")) == []
    assert ids(viewer.get("/admin/api/messages")) == [sms["other"], sms["reply"], sms["failed"]]
    page = viewer.get("/admin/messages?state=failed").get_data(as_text=True)
    assert f'data-sms="{sms["failed"]}"' in page
    assert f'data-sms="{sms["reply"]}"' not in page


def test_invalid_phone_is_400_in_api_and_a_message_on_the_page(viewer: FlaskClient) -> None:
    assert viewer.get("/admin/api/messages?phone=abc").status_code == 400
    page = viewer.get("/admin/messages?phone=abc")
    assert page.status_code == 200
    assert "Số điện thoại không hợp lệ." in page.get_data(as_text=True)


def test_search_by_phone_or_dossier_finds_old_sms_through_the_index(
    viewer: FlaskClient, outbox: Outbox, redis_client: redis.Redis
) -> None:
    old = outbox.enqueue(PHONE, "cu", Priority.BULK, 1, kind="notice", dossier="C-3")
    redis_client.incrby(keys.sms_counter(), 5_000)  # 5,000 newer ids (gaps are skipped)
    new = outbox.enqueue(PHONE, "moi", Priority.BULK, 2, kind="notice")
    assert ids(viewer.get("/admin/api/messages?phone=0901234567")) == [new, old]
    assert ids(viewer.get("/admin/api/messages?dossier=C-3")) == [old]
    assert ids(viewer.get("/admin/api/messages?dossier=C-3&phone=0987654321")) == []
    # without a phone or dossier only the newest ids are read
    found = viewer.get("/admin/api/messages").get_json()
    assert [m["id"] for m in found["messages"]] == [new]
    assert found["window"] == 5_000


def test_sms_stored_before_the_indexes_are_found_after_reindex(
    viewer: FlaskClient, outbox: Outbox, redis_client: redis.Redis
) -> None:
    sms_id = outbox.enqueue(PHONE, "truoc", Priority.BULK, 1, kind="notice", dossier="D-4")
    redis_client.delete(keys.sms_by_phone(PHONE), keys.sms_by_dossier("D-4"))
    assert ids(viewer.get("/admin/api/messages?phone=0901234567")) == []
    assert outbox.reindex(sms_id) is True
    assert outbox.reindex("404") is False
    assert ids(viewer.get("/admin/api/messages?phone=0901234567")) == [sms_id]
    assert ids(viewer.get("/admin/api/messages?dossier=D-4")) == [sms_id]


def test_admin_resends_a_failed_sms_as_a_new_queued_one(
    admin: FlaskClient, outbox: Outbox, sms: dict[str, str]
) -> None:
    answer = post_api(admin, f"/admin/api/messages/{sms['failed']}/resend")
    assert answer.status_code == 201
    new_id = answer.get_json()["id"]
    copy = outbox.get(new_id)
    assert copy is not None
    assert (copy.to, copy.text, copy.priority, copy.state.value) == (
        PHONE,
        "Ho so A da xu ly xong",
        Priority.NOTIFICATION,
        "queued",
    )
    assert copy.fields["kind"] == "notice"
    assert copy.fields["dossier"] == "A-1"
    assert copy.fields["resend_of"] == sms["failed"]
    original = outbox.get(sms["failed"])
    assert original is not None
    assert original.fields["resent_as"] == new_id
    assert outbox.depth() == 3  # reply, other, the copy
    # a second click gives the same copy
    again = post_api(admin, f"/admin/api/messages/{sms['failed']}/resend")
    assert again.get_json()["id"] == new_id
    assert outbox.depth() == 3
    listed = admin.get("/admin/api/messages?state=queued").get_json()["messages"]
    assert listed[0]["id"] == new_id
    assert listed[0]["resend_of"] == sms["failed"]


def test_resend_by_form_redirects_back_to_the_list(
    admin: FlaskClient, outbox: Outbox, sms: dict[str, str]
) -> None:
    page = admin.get("/admin/messages?state=failed").get_data(as_text=True)
    assert "Gửi lại" in page
    token = CSRF_FIELD.search(page)
    assert token is not None
    answer = admin.post(
        f"/admin/messages/{sms['failed']}/resend", data={"csrf_token": token.group(1)}
    )
    assert answer.status_code == 302
    new_id = str(int(sms["other"]) + 1)
    assert answer.headers["Location"].endswith(f"/admin/messages?resent={new_id}")
    assert outbox.get(new_id) is not None
    assert "Gửi lại" not in admin.get("/admin/messages?state=failed").get_data(as_text=True)


def test_only_failed_sms_are_resent(admin: FlaskClient, sms: dict[str, str]) -> None:
    assert post_api(admin, f"/admin/api/messages/{sms['reply']}/resend").status_code == 409
    assert post_api(admin, "/admin/api/messages/999/resend").status_code == 404
    assert (
        admin.post(
            f"/admin/messages/{sms['reply']}/resend", data={"csrf_token": session_token(admin)}
        ).status_code
        == 409
    )


def test_viewer_may_not_resend_and_csrf_is_enforced(
    viewer: FlaskClient, admin: FlaskClient, outbox: Outbox, sms: dict[str, str]
) -> None:
    path = f"/admin/api/messages/{sms['failed']}/resend"
    assert post_api(viewer, path).status_code == 403
    page = viewer.post(
        f"/admin/messages/{sms['failed']}/resend", data={"csrf_token": session_token(viewer)}
    )
    assert page.status_code == 403
    assert "Gửi lại" not in viewer.get("/admin/messages").get_data(as_text=True)
    assert post_api(admin, path, token=None).status_code == 403
    assert post_api(admin, path, token="wrong").status_code == 403
    assert admin.post(f"/admin/messages/{sms['failed']}/resend").status_code == 403
    assert outbox.get(str(int(sms["other"]) + 1)) is None


# -- dossiers --------------------------------------------------------------------------------


def register(store: DossierStore, n: int, **overrides: Any) -> tuple[str, str]:
    overrides.setdefault("received_at", "2024-01-02T08:00:00+07:00")
    made = store.register(registration(n, **overrides), "tuphap", NOW).dossier
    return made.code, made.short_code


def test_dossier_search_by_sloppy_code_short_code_and_phone(
    viewer: FlaskClient, store: DossierStore
) -> None:
    code, short = register(store, 1, phones=["0901234567"])
    other, _ = register(store, 2, phones=["0901234567", "0987654321"])
    register(store, 3, phones=["0912345678"])

    def found(q: str) -> list[str]:
        answer = viewer.get("/admin/api/dossiers", query_string={"q": q})
        assert answer.status_code == 200
        return [d["code"] for d in answer.get_json()["dossiers"]]

    assert found(code.lower().replace(".", " ")) == [code]
    assert found(short.lower()) == [code]
    assert found("0901 234 567") == sorted([code, other])
    assert found("+84987654321") == [other]
    assert found("nothing") == []
    page = viewer.get("/admin/dossiers", query_string={"q": "0901234567"}).get_data(as_text=True)
    assert code in page
    assert other in page
    assert "Cấp bản sao trích lục hộ tịch" in page
    empty = viewer.get("/admin/dossiers?q=zzz").get_data(as_text=True)
    assert "Không tìm thấy hồ sơ nào." in empty


def test_dossier_page_shows_history_and_handoffs(
    viewer: FlaskClient, store: DossierStore, redis_client: redis.Redis
) -> None:
    code, short = register(store, 5)
    Stations(redis_client).save(Station("quay-1", "Bộ phận một cửa", allowed_hours=1))
    t = datetime(2024, 4, 23, 2, 0, tzinfo=UTC)
    moves = [("Bộ phận một cửa", "Lan", 0), ("Phòng Tư pháp", "Minh", 3), ("Lãnh đạo", "Hùng", 4)]
    for i, (desk, staff, hours) in enumerate(moves):
        ev = StatusChanged(
            f"scan-{i}", None, t + timedelta(hours=hours), "quay-1", desk=desk, staff=staff
        )
        store.apply(code, ev, "tuphap", NOW)
    answer = viewer.get(f"/admin/api/dossiers/{short}")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["code"] == code
    assert body["holder"] == "Lãnh đạo"
    assert body["overdue"] is True  # due 26/04/2024, long past
    assert body["phones"] == ["+8490*****67"]
    assert [e["event_id"] for e in body["history"]] == ["registered", "scan-0", "scan-1", "scan-2"]
    assert [
        (h["from_desk"], h["to_desk"], h["handed_over_by"], h["received_by"])
        for h in body["handoffs"]
    ] == [
        (None, "Bộ phận một cửa", None, "Lan"),
        ("Bộ phận một cửa", "Phòng Tư pháp", "Lan", "Minh"),
        ("Phòng Tư pháp", "Lãnh đạo", "Minh", "Hùng"),
    ]
    late = body["handoffs"][1]
    assert (late["hours_at_previous"], late["allowed_hours_at_previous"], late["late"]) == (
        3.0,
        1.0,
        True,
    )
    page = viewer.get(f"/admin/dossiers/{code}").get_data(as_text=True)
    for text in ("Lịch sử", "Phiếu kiểm soát", "Phòng Tư pháp", "Hùng", "Quá hạn", "(trễ)"):
        assert text in page
    assert "0901234567" not in page
    assert PHONE not in page


def test_dossier_page_shows_each_appointment_and_the_one_in_force(
    viewer: FlaskClient, store: DossierStore
) -> None:
    code, _ = register(store, 6)
    later = datetime(2024, 4, 26, 3, 0, tzinfo=UTC)  # 26/04/2024 10:00 in Vietnam
    postponed = StatusChanged(
        "gia-han",
        Status.PROCESSING,
        later,
        "tuphap",
        note="Chờ kết quả xác minh",
        due_at=datetime(2024, 5, 3, 10, 0, tzinfo=UTC),
    )
    store.apply(code, postponed, "tuphap", NOW)
    body = viewer.get(f"/admin/api/dossiers/{code}").get_json()
    assert [
        (a["due_at"], a["event_id"], a["reason"], a["current"]) for a in body["appointments"]
    ] == [
        ("2024-04-26T17:00:00+07:00", "registered", None, False),
        ("2024-05-03T17:00:00+07:00", "gia-han", "Chờ kết quả xác minh", True),
    ]
    page = viewer.get(f"/admin/dossiers/{code}").get_data(as_text=True)
    rows = re.findall(
        r"<tr[^>]*>(.*?)</tr>", page.split('class="appointments"')[1].split("</table>")[0], re.S
    )
    cells = [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", r, re.S)]
        for r in rows
    ]
    assert [c for c in cells if c] == [
        [
            "26/04/2024 17:00",
            "02/01/2024 08:00",
            "tuphap (khi tiếp nhận)",
            "–",
            "Không còn áp dụng",
        ],
        ["03/05/2024 17:00", "26/04/2024 10:00", "tuphap", "Chờ kết quả xác minh", "Đang áp dụng"],
    ]


def test_unknown_dossier_is_404(viewer: FlaskClient) -> None:
    assert viewer.get("/admin/api/dossiers/NOPE-1").status_code == 404
    page = viewer.get("/admin/dossiers/NOPE-1")
    assert page.status_code == 404
    assert "Không có hồ sơ" in page.get_data(as_text=True)


# -- overdue ---------------------------------------------------------------------------------


def test_overdue_lists_open_dossiers_past_due_most_late_first(
    viewer: FlaskClient, store: DossierStore, redis_client: redis.Redis
) -> None:
    a, _ = register(store, 11, due_at="2024-04-26T17:00:00+07:00")
    b, _ = register(store, 12, due_at="2024-03-01T17:00:00+07:00")
    c, _ = register(store, 13, due_at="2024-04-01T17:00:00+07:00")
    register(store, 14, due_at="2099-01-01T17:00:00+07:00")  # not yet due
    done, _ = register(store, 15, due_at="2024-02-01T17:00:00+07:00", status=9)  # settled
    store.apply(b, StatusChanged("in", None, NOW, "quay-1", desk="Phòng Tư pháp"), "tuphap", NOW)
    notifier = Notifier(redis_client, Outbox(redis_client), store, SmsSettings(), lambda: NOW)
    assert notifier.index_existing() == 5
    answer = viewer.get("/admin/api/overdue")
    assert answer.status_code == 200
    rows = answer.get_json()["overdue"]
    assert [r["code"] for r in rows] == [b, c, a]
    assert rows[0]["holder"] == "Phòng Tư pháp"
    assert rows[0]["procedure_name"] == "Cấp bản sao trích lục hộ tịch"
    assert rows[0]["late_hours"] > rows[1]["late_hours"] > rows[2]["late_hours"] > 0
    page = viewer.get("/admin/overdue").get_data(as_text=True)
    assert page.index(b) < page.index(c) < page.index(a)
    assert done not in page
    assert "ngày" in page


def test_nav_links_on_every_page(viewer: FlaskClient) -> None:
    page = viewer.get("/admin/overdue").get_data(as_text=True)
    for link in ('href="/admin/messages"', 'href="/admin/dossiers"', 'href="/admin/overdue"'):
        assert link in page
    assert "Không có hồ sơ nào quá hạn." in page
