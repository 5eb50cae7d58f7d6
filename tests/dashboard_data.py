"""A dashboard full of realistic data, for tests that render every page: dossiers (one overdue
with a history and handoffs, one finished, one at risk, one given a new appointment and then
asked for a missing paper), outbound SMS (failed, delivered,
queued), API keys (one revoked), counter stations, modems (up, quarantined, disabled, one only
reported by its service), an edited template and two accounts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import redis
from flask import Flask
from flask.testing import FlaskClient

from config.settings import AdminSettings, ModemSettings, Settings
from gateway.core.events import StatusChanged
from gateway.core.messages import Priority
from gateway.core.stations import Station
from gateway.core.status import Status
from gateway.store import keys
from gateway.store.credentials import ClientKind, Keyring
from gateway.store.dossiers import DossierStore
from gateway.store.modems import ModemRegistry
from gateway.store.outbox import Outbox
from gateway.store.stations import Stations
from gateway.store.templates import Templates
from gateway.store.users import AdminUsers, Role
from tests.conftest import MASTER_KEY, Clock
from tests.factories import registration

ADMIN, VIEWER, PASSWORD = "quantri", "lanhdao", "mat-khau-dung-1"
NOW = datetime(2024, 4, 29, 2, 15, 30, 123456, tzinfo=UTC)  # 29/04/2024 09:15 in Vietnam
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
ONE_STOP, JUSTICE = "Bộ phận một cửa", "Phòng Tư pháp"


@dataclass(frozen=True)
class Filled:
    overdue: str  # the code of the overdue dossier
    finished: str
    at_risk: str
    postponed: str  # given a new appointment, then asked for a missing paper
    failed_sms: str


def dashboard_settings(session_key_file: str) -> Settings:
    return Settings(
        admin=AdminSettings(session_key_file=session_key_file),
        modems=(ModemSettings("m1", "/dev/serial/by-id/usb-SIMCOM-if02", carrier="viettel"),),
    )


def fill(client: redis.Redis, clock: Clock) -> Filled:
    clock.now = NOW.timestamp()
    users = AdminUsers(client)
    users.create(ADMIN, PASSWORD, Role.ADMIN)
    users.create(VIEWER, PASSWORD, Role.VIEWER)
    store = DossierStore(client)
    stations = Stations(client)
    stations.save(Station("quay-1", ONE_STOP, "Quầy 1", None, 2.0))
    stations.save(Station("tp-1", JUSTICE, "Tư pháp", 4, 24.0))
    stations.save(Station("tra-1", ONE_STOP, "Trả kết quả", 10, None))
    received = NOW - timedelta(days=6)
    codes = []
    dossiers = (
        (81, NOW - timedelta(days=2, hours=3), 4),  # overdue, being processed
        (82, NOW - timedelta(days=1), 9),  # finished late: never overdue
        (83, NOW + timedelta(hours=5), 2),  # due soon
    )
    for n, due, status in dossiers:
        reg = registration(
            n, received_at=received.isoformat(), due_at=due.isoformat(), phones=["0901234567"]
        )
        store.register(reg, "tuphap", received + timedelta(microseconds=654321))
        at = received + timedelta(hours=1, microseconds=111111)
        scan = StatusChanged(f"e{n}-1", None, at, "station:quay-1", desk=ONE_STOP, staff="Lan")
        store.apply(reg.code, scan, "tuphap", at)
        later = received + timedelta(days=1, microseconds=222222)
        moved = StatusChanged(f"e{n}-2", Status(status), later, "tuphap", "Đã chuyển", JUSTICE)
        store.apply(reg.code, moved, "tuphap", later)
        client.zadd(keys.open_by_due(), {reg.code: int(due.timestamp() * 1000)})
        codes.append(reg.code)
    # Given a new appointment by the department (gia hạn), then waiting for a missing paper.
    reg = registration(
        84,
        received_at=received.isoformat(),
        due_at=(NOW - timedelta(days=1)).isoformat(),
        phones=["0901234567"],
    )
    store.register(reg, "tuphap", received)
    later = NOW - timedelta(days=2)
    postponed = StatusChanged(
        "e84-1",
        Status.PROCESSING,
        later,
        "tuphap",
        "Chờ kết quả xác minh",
        JUSTICE,
        due_at=NOW + timedelta(days=4),
    )
    store.apply(reg.code, postponed, "tuphap", later)
    missing = StatusChanged(
        "e84-2", Status.SUPPLEMENT_REQUESTED, later, "tuphap", "Bản sao CCCD", ONE_STOP
    )
    store.apply(reg.code, missing, "tuphap", later)
    codes.append(reg.code)
    outbox = Outbox(client)
    now_ms = int(NOW.timestamp() * 1000)
    failed = outbox.enqueue(
        "+84901234567",
        "Ho so da xu ly xong",
        Priority.NOTIFICATION,
        now_ms - 5000,
        kind="notice",
        dossier=codes[0],
    )
    sms = outbox.claim("m1", "", now_ms)
    assert sms is not None
    assert sms.id == failed
    outbox.give_up(sms, "+CMS ERROR: 38", now_ms)
    outbox.enqueue("+84901234567", "Ho so dang xu ly.", Priority.REPLY, now_ms, kind="reply_status")
    keyring = Keyring(client, MASTER_KEY)
    keyring.create(ClientKind.DEPARTMENT, "tuphap", NOW - timedelta(days=30, microseconds=1))
    old = keyring.create(ClientKind.STATION, "quay-1", NOW - timedelta(days=9))
    keyring.revoke(old.key_id, NOW - timedelta(days=1, microseconds=5))
    registry = ModemRegistry(client)
    registry.publish_health(
        "m1",
        {
            "state": "up",
            "signal_dbm": -71,
            "operator": "Viettel",
            "registered": 1,
            "updated_at": NOW.isoformat(),
        },
    )
    registry.publish_health("sim2", {"state": "up", "port": "/tmp/sim/sim2", "last_error": ""})
    for k in (1, 2, 3):
        registry.note_quarantine_error("sim2", 21, k * 1000)
    registry.publish_health("sim3", {"state": "disabled", "port": "/tmp/sim/sim3"})
    registry.change("sim3", enabled=False)
    registry.count_sent("m1", NOW)
    Templates(client).save("reply_help", "Soan HS <ma ho so> gui {office}.", False)
    return Filled(codes[0], codes[1], codes[2], codes[3], failed)


def log_in(app: Flask, username: str) -> FlaskClient:
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


def every_page(filled: Filled) -> list[str]:
    """Every page of the dashboard, with the data above behind it."""
    return [
        "/admin/modems",
        "/admin/templates",
        "/admin/templates/reply_help",
        "/admin/templates/reply_status",
        "/admin/charts",
        "/admin/keys",
        "/admin/stations",
        "/admin/offices",
        "/admin/offices/main",
        "/admin/messages",
        "/admin/messages?state=failed",
        f"/admin/messages?dossier={filled.overdue}",
        "/admin/messages?phone=0901234567",
        "/admin/dossiers?q=0901234567",
        f"/admin/dossiers?q={filled.overdue}",
        f"/admin/dossiers/{filled.overdue}",
        f"/admin/dossiers/{filled.finished}",
        f"/admin/dossiers/{filled.at_risk}",
        f"/admin/dossiers/{filled.postponed}",
        "/admin/overdue",
        "/admin/province",
        "/admin/province?procedure=1.001776",
        "/admin/province/main",
        f"/admin/province/main/desk?name={quote(JUSTICE)}",
        "/admin/account",
        "/admin/khong-co-trang-nay",
    ]
