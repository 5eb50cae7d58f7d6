"""The leaders' province view through the Flask test client on a real Redis: offices side by
side, the drill-down province -> office -> desk -> dossier, the CSV files, the view functions'
office scope, and what a person reads (Vietnamese, dd/mm/yyyy HH:MM, decimal comma)."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from config.settings import AdminSettings, GatewaySettings, Settings
from gateway.core.events import StatusChanged
from gateway.core.status import Status
from gateway.http import province_rows
from gateway.http.app import create_app
from gateway.store.dossiers import DossierStore
from gateway.store.offices import Offices
from gateway.store.users import AdminUsers, Role
from tests.conftest import MASTER_KEY, Clock
from tests.factories import registration
from tests.integration.test_admin_records import PASSWORD, login
from tests.readable import assert_readable, readable

NOW = datetime(2026, 3, 20, 3, 0, tzinfo=UTC)  # 10:00 in Vietnam
RECEIVED = NOW - timedelta(days=10)
JUSTICE, RESULTS = "Phòng Tư pháp", "Bộ phận trả kết quả"
BIRTH, LAND = "1.001776", "1.003003"


@pytest.fixture
def app(tmp_path: Path, redis_client: redis.Redis) -> Flask:
    settings = Settings(
        gateway=replace(GatewaySettings(), rate_per_minute=100_000),
        admin=AdminSettings(session_key_file=str(tmp_path / "session.key")),
    )
    return create_app(settings, redis_client, MASTER_KEY, Clock(NOW.timestamp()))


@pytest.fixture
def leader(app: Flask, redis_client: redis.Redis) -> FlaskClient:
    AdminUsers(redis_client).create("lanhdao", PASSWORD, Role.VIEWER)
    browser = app.test_client()
    login(browser, "lanhdao")
    return browser


def dossier(
    store: DossierStore,
    n: int,
    office: str,
    procedure: str,
    due_days: float,
    *steps: tuple[float, Status | None, str | None],
) -> str:
    """A dossier received 10 days ago, due `due_days` after that, then each step (days after
    reception, status, desk)."""
    name = "Đăng ký khai sinh" if procedure == BIRTH else "Cấp giấy chứng nhận quyền sử dụng đất"
    reg = registration(
        n,
        received_at=RECEIVED.isoformat(),
        due_at=(RECEIVED + timedelta(days=due_days)).isoformat(),
        procedure_code=procedure,
        procedure_name=name,
    )
    code = store.register(reg, "tuphap", RECEIVED, office).dossier.code
    for i, (days, status, desk) in enumerate(steps):
        at = RECEIVED + timedelta(days=days)
        store.apply(code, StatusChanged(f"{code}-{i}", status, at, "tuphap", desk=desk), "", at)
    return code


@pytest.fixture
def codes(redis_client: redis.Redis) -> dict[str, str]:
    offices = Offices.of(redis_client, Settings().sms)
    offices.set("phuong-a", {"name": "Phường Bến Thành"})
    offices.set("xa-b", {"name": "Xã Đông Thạnh"})
    store = DossierStore(redis_client)
    done = Status.DONE
    return {
        # Phường Bến Thành: 3 finished (2 on time), 2 open at the Justice desk (1 overdue).
        "a1": dossier(store, 1, "phuong-a", BIRTH, 3, (1, None, JUSTICE), (2, done, RESULTS)),
        "a2": dossier(store, 2, "phuong-a", BIRTH, 3, (1, None, JUSTICE), (3, done, RESULTS)),
        "a3": dossier(store, 3, "phuong-a", LAND, 5, (1, None, JUSTICE), (6, done, RESULTS)),
        "a4": dossier(store, 4, "phuong-a", LAND, 8, (1, Status.PROCESSING, JUSTICE)),
        "a5": dossier(store, 5, "phuong-a", LAND, 15, (2, None, JUSTICE)),
        # Xã Đông Thạnh: 1 finished late, 1 open before any handoff (overdue).
        "b1": dossier(store, 6, "xa-b", BIRTH, 1, (1.5, done, RESULTS)),
        "b2": dossier(store, 7, "xa-b", BIRTH, 2),
    }


def page(browser: FlaskClient, path: str) -> str:
    answer = browser.get(path)
    assert answer.status_code == 200, (path, answer.status_code)
    text = readable(answer.get_data(as_text=True))
    assert_readable(path, text)
    return " ".join(text.split())


def csv_rows(browser: FlaskClient, path: str) -> list[list[str]]:
    answer = browser.get(path)
    assert answer.status_code == 200, path
    assert answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    body = answer.get_data()
    assert body.startswith(b"\xef\xbb\xbf"), "a byte order mark, so Excel reads UTF-8"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_the_province_page_compares_offices_by_the_service_index(
    leader: FlaskClient, codes: dict[str, str]
) -> None:
    data = leader.get("/admin/api/province").get_json()
    rows = {r["office"]: r for r in data["offices"]}
    a, b = rows["phuong-a"], rows["xa-b"]
    assert (a["finished"], a["on_time"], a["open"], a["overdue"]) == (3, 2, 2, 1)
    assert a["on_time_percent"] == 66.7
    assert a["average_days"] == round((2 + 3 + 6) / 3, 2)
    assert (a["busiest_desk"], a["busiest_desk_open"]) == (JUSTICE, 2)
    assert (b["finished"], b["on_time"], b["open"], b["overdue"]) == (1, 0, 1, 1)
    assert b["busiest_desk"] == "(chưa qua quầy nào)"
    assert rows["main"]["finished"] == 0, "the default office is listed, empty"
    procedures = {r["procedure_code"]: r for r in data["procedures"]}
    assert (procedures[BIRTH]["finished"], procedures[BIRTH]["offices"]) == (3, 2)
    assert (procedures[LAND]["finished"], procedures[LAND]["open"]) == (1, 2)
    shown = page(leader, "/admin/province")
    assert "Phường Bến Thành 3 2 1 66,7 2 1 3,67" in shown, "Vietnamese decimal comma"
    assert "Xã Đông Thạnh 1 0 1 0,0 1 1 1,50" in shown
    one = leader.get(f"/admin/api/province?procedure={LAND}").get_json()
    assert {r["office"]: r["finished"] for r in one["offices"]} == {
        "main": 0,
        "phuong-a": 1,
        "xa-b": 0,
    }


def test_drill_down_from_the_province_to_an_office_a_desk_and_a_dossier(
    leader: FlaskClient, codes: dict[str, str]
) -> None:
    province = leader.get("/admin/province").get_data(as_text=True)
    assert 'href="/admin/province/phuong-a"' in province
    office = page(leader, "/admin/province/phuong-a")
    assert "Phường Bến Thành" in office
    assert "Đăng ký khai sinh (1.001776) 2 2 0 100,0 0 0 2,50" in office
    desk_link = f"/admin/province/phuong-a/desk?name={quote_plus(JUSTICE)}"
    assert desk_link in leader.get("/admin/province/phuong-a").get_data(as_text=True)
    desk = page(leader, desk_link)
    assert codes["a4"] in desk
    assert codes["a5"] in desk
    assert codes["a1"] not in desk, "a finished dossier waits nowhere"
    assert "18/03/2026 10:00" in desk, "the appointment, in Vietnam's time"
    assert "Đang xử lý" in desk
    html = leader.get(desk_link).get_data(as_text=True)
    assert f'href="/admin/dossiers/{codes["a4"]}"' in html
    assert leader.get(f"/admin/dossiers/{codes['a4']}").status_code == 200
    assert 'href="/admin/province/xa-b/desk?name="' in province, "before any handoff"
    waiting = page(leader, "/admin/province/xa-b/desk?name=")
    assert "(chưa qua quầy nào)" in waiting
    assert codes["b2"] in waiting


def test_each_table_is_a_csv_file_with_vietnamese_headers_and_plain_numbers(
    leader: FlaskClient, codes: dict[str, str]
) -> None:
    offices = csv_rows(leader, "/admin/province?format=csv")
    assert offices[0][:4] == ["Mã đơn vị", "Đơn vị", "Đã giải quyết", "Đúng hạn"]
    a = next(r for r in offices if r[0] == "phuong-a")
    assert a[1:9] == ["Phường Bến Thành", "3", "2", "1", "66.7", "2", "1", "3.67"]
    procedures = csv_rows(leader, "/admin/province?format=csv&table=procedures")
    assert procedures[0][:2] == ["Mã thủ tục", "Thủ tục"]
    assert {r[0] for r in procedures[1:]} == {BIRTH, LAND}
    by_procedure = csv_rows(leader, "/admin/province/phuong-a?format=csv")
    assert [r[0] for r in by_procedure[1:]] == [LAND, BIRTH], "by name: Cấp... before Đăng..."
    desks = csv_rows(leader, "/admin/province/phuong-a?format=csv&table=desks")
    assert desks[0][0] == "Quầy / bộ phận"
    assert {r[0] for r in desks[1:]} >= {JUSTICE, RESULTS}
    waiting = csv_rows(leader, f"/admin/province/phuong-a/desk?name={quote(JUSTICE)}&format=csv")
    assert waiting[0] == [
        "Mã hồ sơ",
        "Mã ngắn",
        "Thủ tục",
        "Trạng thái",
        "Ngày tiếp nhận",
        "Ngày hẹn trả",
        "Số ngày quá hạn",
    ]
    first = waiting[1]
    assert first[0] == codes["a4"], "the earliest due first"
    assert (first[3], first[4], first[5]) == ("Đang xử lý", "10/03/2026 10:00", "18/03/2026 10:00")
    assert first[6] == "2.0"


def test_an_office_outside_the_readers_scope_is_not_found_like_one_that_does_not_exist(
    app: Flask, leader: FlaskClient, codes: dict[str, str]
) -> None:
    assert leader.get("/admin/province/khong-co").status_code == 404
    assert leader.get("/admin/province/phuong-a/desk?name=Kho").status_code == 404
    assert leader.get("/admin/province/phuong-a/desk").status_code == 404
    with app.test_request_context():
        scoped = province_rows.province_view(frozenset({"xa-b"}))
        assert [r["office"] for r in scoped["offices"]] == ["xa-b"]
        assert {r["procedure_code"]: r["offices"] for r in scoped["procedures"]} == {BIRTH: 1}
        assert province_rows.office_view("phuong-a", frozenset({"xa-b"})) is None
        assert province_rows.desk_view("phuong-a", JUSTICE, frozenset({"xa-b"})) is None
        assert province_rows.office_view("xa-b", frozenset({"xa-b"})) is not None


def test_a_desk_named_like_a_spreadsheet_formula_is_written_inert_in_the_csv(
    leader: FlaskClient, redis_client: redis.Redis
) -> None:
    store = DossierStore(redis_client)
    formula = '=HYPERLINK("http://example.invalid","x")'
    dossier(store, 9, "main", BIRTH, 3, (1, None, formula))
    desks = csv_rows(leader, "/admin/province/main?format=csv&table=desks")
    assert [r[0] for r in desks[1:]] == ["'" + formula]
    page_text = leader.get("/admin/province/main").get_data(as_text=True)
    assert "=HYPERLINK(&#34;http://example.invalid&#34;,&#34;x&#34;)" in page_text
