"""What people read, every surface rendered with real data: the dashboard's pages, the citizen's
lookup pages, the receipt and the handoff record, every SMS template filled by the code that
fills it, and every line of the counter station. Times in Vietnam's time written dd/mm/yyyy
HH:MM, statuses by their Vietnamese labels; never an ISO timestamp, a UTC time, seconds or
microseconds, an English status name or a Python repr (the rules: `tests/readable.py`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from config.settings import SmsSettings
from gateway.core.codes import short_code
from gateway.core.notify import template_values
from gateway.core.replies import Asked, decide, status_since
from gateway.core.sms_syntax import ListMine, Lookup
from gateway.core.sms_text import DEFAULT_TEMPLATES, fill, render
from gateway.core.stations import Station
from gateway.http.app import create_app
from gateway.store.credentials import ClientKind, Keyring
from gateway.store.dossiers import DossierStore
from gateway.store.stations import Stations
from scanner import messages
from scanner.spool import ScanState, SpooledScan
from scanner.uploader import HttpReply, verdict_of
from tests.conftest import MASTER_KEY, Clock
from tests.dashboard_data import (
    ADMIN,
    NOW,
    Filled,
    dashboard_settings,
    every_page,
    log_in,
)
from tests.dashboard_data import (
    fill as fill_dashboard,
)
from tests.readable import SHOWN_TIME, assert_readable, readable, unreadable
from tests.signing import AppClient, Signer


@pytest.fixture
def app(tmp_path: Path, redis_client: redis.Redis, clock: Clock) -> Flask:
    settings = dashboard_settings(str(tmp_path / "session.key"))
    return create_app(settings, redis_client, MASTER_KEY, clock)


@pytest.fixture
def filled(redis_client: redis.Redis, clock: Clock) -> Filled:
    return fill_dashboard(redis_client, clock)


def codes_of(filled: Filled) -> list[str]:
    return [filled.overdue, filled.finished, filled.at_risk, filled.postponed]


def signed(
    app: Flask, redis_client: redis.Redis, clock: Clock, kind: ClientKind, owner: str
) -> AppClient:
    new = Keyring(redis_client, MASTER_KEY).create(kind, owner, NOW)
    return AppClient(app.test_client(), Signer(new.key_id, new.secret, clock))


# -- the dashboard ---------------------------------------------------------------------------------


def test_no_dashboard_page_shows_iso_utc_microseconds_english_statuses_or_reprs(
    app: Flask, filled: Filled
) -> None:
    admin = log_in(app, ADMIN)
    times_seen = 0
    for path in every_page(filled):
        answer = admin.get(path)
        assert answer.status_code in (200, 404), path
        text = readable(answer.get_data(as_text=True))
        assert_readable(path, text)
        times_seen += len(SHOWN_TIME.findall(text))
    assert times_seen > 20  # the pages do show times, in the local form


def test_the_times_shown_are_vietnams_local_times(app: Flask, filled: Filled) -> None:
    admin = log_in(app, ADMIN)
    overdue = readable(admin.get("/admin/overdue").get_data(as_text=True))
    # due 2 days 3 hours before 29/04/2024 09:15 (Vietnam): 27/04/2024 06:15
    assert "27/04/2024 06:15" in overdue
    assert "Đang xử lý" in overdue
    messages_page = readable(admin.get("/admin/messages").get_data(as_text=True))
    assert "29/04/2024 09:15" in messages_page  # queued at 02:15 UTC
    stations = readable(admin.get("/admin/stations").get_data(as_text=True))
    assert "Đã trả kết quả" in stations
    assert "Đang xử lý" in stations
    keys_page = readable(admin.get("/admin/keys").get_data(as_text=True))
    assert "28/04/2024 09:15" in keys_page  # revoked a day before now
    dossier = readable(admin.get(f"/admin/dossiers/{filled.overdue}").get_data(as_text=True))
    assert "Quầy quét quay-1" in dossier
    assert "Quá hạn" in dossier
    postponed = readable(admin.get(f"/admin/dossiers/{filled.postponed}").get_data(as_text=True))
    assert "03/05/2024 09:15 27/04/2024 09:15 tuphap Chờ kết quả xác minh Đang áp dụng" in (
        " ".join(postponed.split())
    )


# -- the citizen's pages, the receipt and the handoff record ---------------------------------------


def look_up(web: FlaskClient, code: str, secret: str, photo: bytes | None = None) -> str:
    form: dict[str, object] = {"ma": code, "bi_mat": secret}
    if photo is not None:
        form["anh"] = (photo, "anh.jpg")
    answer = web.post("/", data=form, content_type="multipart/form-data")
    assert answer.status_code in (200, 422, 429), answer.status_code
    return answer.get_data(as_text=True)


def test_no_citizen_page_nor_receipt_shows_iso_utc_english_statuses_or_reprs(
    app: Flask, redis_client: redis.Redis, clock: Clock, filled: Filled
) -> None:
    store = DossierStore(redis_client)
    web = app.test_client()
    pages: dict[str, str] = {
        "the form": web.get("/").get_data(as_text=True),
        "the receipt's link": web.get(f"/?ma={store.get(filled.overdue).short_code}").get_data(
            as_text=True
        ),
        "no code": look_up(web, "", ""),
        "a typo": look_up(web, short_code(7)[:-1] + "0", "ABCDEFGH"),
        "no secret": look_up(web, filled.overdue, ""),
        "a wrong secret": look_up(web, filled.overdue, "ABCDEFGH"),
        "an unknown code": look_up(web, short_code(999_999), "ABCDEFGH"),
        "a photo that is no image": look_up(web, "", "", photo=b"not a photo at all"),
    }
    department = signed(app, redis_client, clock, ClientKind.DEPARTMENT, "tuphap")
    for code in codes_of(filled):
        pages[f"the dossier {code}"] = look_up(web, code, store.get(code).secret)
        for fmt in ("html",):
            receipt = department.get(f"/api/v1/dossiers/{code}/receipt?format={fmt}")
            assert receipt.status == 200, receipt.text
            pages[f"the receipt of {code}"] = receipt.text
        record = department.get(f"/api/v1/dossiers/{code}/handoffs?format=html")
        assert record.status == 200, record.text
        pages[f"the handoff record of {code}"] = record.text
    for _ in range(30):  # looked up too often: the page that says to wait
        page = web.post("/", data={"ma": filled.overdue, "bi_mat": "ABCDEFGH"})
    assert page.status_code == 429
    pages["too many lookups"] = page.get_data(as_text=True)
    times_seen = 0
    for where, html in pages.items():
        text = readable(html)
        assert_readable(where, text)
        times_seen += len(SHOWN_TIME.findall(text))
    assert times_seen > 15
    postponed = " ".join(readable(pages[f"the dossier {filled.postponed}"]).split())
    assert "Ngày hẹn trả 03/05/2024 Đổi ngày hẹn" in postponed
    assert "27/04/2024 09:15: hẹn lại từ ngày 28/04/2024 sang ngày 03/05/2024." in postponed
    overdue = " ".join(readable(pages[f"the dossier {filled.overdue}"]).split())
    assert "Ngày hẹn trả 27/04/2024 Quá hạn" in overdue


# -- every SMS -------------------------------------------------------------------------------------


def test_no_sms_shows_iso_utc_english_statuses_or_reprs(
    redis_client: redis.Redis, filled: Filled
) -> None:
    """Every template, filled with the values the notifier and the answer job make for each
    dossier of the dashboard's data (each status, a note, a new appointment), sent both ways."""
    store = DossierStore(redis_client)
    sms = SmsSettings(hotline="024 3823 0000")
    texts: list[str] = []
    for code in codes_of(filled):
        d, history = store.get_with_history(code)
        current = [e for e in history if e.get("current", True)]
        note = current[-1].get("note")
        since = status_since(history, d.status)
        asked = Asked(dossier=d, note=note, since=since, own=(d,))
        replies = [
            decide(Lookup(code), d.phones[0], asked),
            decide(ListMine(), d.phones[0], asked),
        ]
        values = template_values(
            d, office=sms.office, hotline=sms.hotline, note=note, new_due=NOW + timedelta(days=4)
        )
        for reply in replies:
            values |= reply.values
        for template in DEFAULT_TEMPLATES.values():
            filled_in = fill(template, {k: values[k] for k in template.placeholders})
            texts += [render(filled_in, accented).text for accented in (False, True)]
    assert len(texts) == 2 * len(DEFAULT_TEMPLATES) * len(codes_of(filled))
    for text in texts:
        assert_readable("an SMS", text)
    assert any("03/05/2024" in t for t in texts)  # the dates are there, in the local form


# -- the counter station ---------------------------------------------------------------------------


def test_no_station_line_shows_iso_utc_english_statuses_or_reprs(
    app: Flask, redis_client: redis.Redis, clock: Clock, filled: Filled
) -> None:
    """Every line the station prints, the verdicts made from the real gateway's answers to scans
    that move a dossier, come late, are refused, name no dossier or lie ahead of the clock."""
    Stations(redis_client).save(Station("tra-2", "Bộ phận trả kết quả", "Trả kết quả", 10, None))
    station = signed(app, redis_client, clock, ClientKind.STATION, "tra-2")
    store = DossierStore(redis_client)
    now = datetime.fromtimestamp(clock.now, UTC)
    finished = store.get(filled.finished).short_code
    scans = [
        (finished, now),  # handed back: moved
        (filled.overdue, now),  # 4 cannot become 10: refused
        (short_code(999_999), now),  # no such dossier
        (filled.at_risk, now + timedelta(hours=2)),  # ahead of the clock
        (filled.finished, now - timedelta(days=30)),  # long after the dossier moved: out of order
    ]
    lines = [
        messages.ready("tra-2", "stdin", 0, "Bộ phận trả kết quả", None),
        messages.ready("tra-2", "stdin", 2, None, ("Bộ phận trả kết quả", NOW)),
        messages.ready("tra-2", "stdin", 2, None, None, key_refused=True),
        messages.not_a_code("xin chào"),
        messages.offline(3),
        messages.online(0),
        messages.key_refused(),
    ]
    outcomes = set()
    for seq, (code, at) in enumerate(scans, 1):
        body = {"station_id": "tra-2", "seq": seq, "code": code, "scanned_at": at.isoformat()}
        answer = station.post("/api/v1/scans", body)
        verdict = verdict_of(HttpReply(answer.status, answer.text.encode()))
        outcomes.add(verdict.outcome)
        scan = SpooledScan(seq, code, at.isoformat(), at.timestamp(), "Lan", ScanState.SENT)
        lines += [
            messages.recorded(scan, repeat=False, offline=False, waiting=0),
            messages.recorded(scan, repeat=True, offline=False, waiting=0),
            messages.recorded(scan, repeat=False, offline=True, waiting=seq),
            messages.verdict(scan, verdict),
        ]
    assert outcomes == {
        "moved",
        "transition-refused",
        "unknown-dossier",
        "time-in-future",
        "out-of-order",
    }
    for text, _rings in lines:
        assert_readable(text.split()[0], text)
    assert json.dumps([t for t, _ in lines], ensure_ascii=False).count("/2024 ") >= 3


# -- the checker itself ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("Hẹn trả: 2024-04-26T17:00:00+07:00", "an ISO time"),
        ("Hẹn trả: 2024-04-26", "an ISO time"),
        ("lúc 10:00Z", "a UTC time or an offset"),
        ("lúc 10:00 UTC", "a UTC time or an offset"),
        ("lúc 26/04/2024 10:00:12", "a time with seconds"),
        ("Trạng thái: RETURNED", "an English status name"),
        ("<gateway.core.dossier.Dossier object at 0x7f3701040510>", "a Python repr"),
        ("Phí: Decimal('50000')", "a Python repr"),
        ("Ngày: datetime.datetime(2024, 4, 26, 17, 0)", "a Python repr"),
        ("Không có mẫu 'reply_status'.", "a Python repr"),
        ("Ghi chú: None", "a Python repr"),
    ],
)
def test_the_checker_catches_what_a_person_must_not_read(text: str, rule: str) -> None:
    assert rule in dict(unreadable(text))


def test_the_checker_lets_what_people_read_pass() -> None:
    for text in (
        "Ho so 000.00.20.H57-240423-0001: Dang xu ly. Dang o: Phong Tu phap. Hen tra: 26/04/2024.",
        "Đã trả kết quả lúc 26/04/2024 17:00 · +8490*****67 · mã ngắn CM4A-E9Z",
        "Tra cứu: HS <mã hồ sơ> <mã bí mật>. Dòng “Mã bí mật”, ông/bà's",
    ):
        assert unreadable(text) == [], text
