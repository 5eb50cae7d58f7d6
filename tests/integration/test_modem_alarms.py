"""What a modem cannot do and what it leaves waiting reaches people: the pool page (Vietnamese)
and /metrics, with the real modem service driving emulated modems over ptys."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from config.settings import AdminSettings, GatewaySettings, ModemSettings, PoolSettings, Settings
from gateway.core.messages import Priority, SmsState
from gateway.core.modem_limits import Limit, parse_limits
from gateway.store.modems import ModemRegistry
from gateway.store.outbox import Outbox
from gateway.store.users import AdminUsers, Role
from hoso.redis_server import RedisServer
from modem.device import Device
from modem.emulator.bank import Bank
from modem.emulator.state import DeviceConfig
from modem.service import ModemService

pytestmark = pytest.mark.timeout(90)

T = TypeVar("T")
ADMIN, PASSWORD = "quantri", "mat-khau-dung-1"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def eventually(check: Callable[[], T | None], timeout: float = 30.0, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def quick_device(settings: ModemSettings) -> Device:
    return Device(
        settings.port, settings.baudrate, settings.pin, command_timeout=2.0, send_timeout=3.0
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        gateway=replace(GatewaySettings(), rate_per_minute=1000),
        admin=AdminSettings(session_key_file=str(tmp_path / "keys" / "session.key")),
    )


@pytest.fixture
def admin(app: Flask, redis_client: redis.Redis) -> FlaskClient:
    AdminUsers(redis_client).create(ADMIN, PASSWORD, Role.ADMIN)
    client = app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    token = CSRF_FIELD.search(page)
    assert token is not None
    client.post(
        "/admin/login",
        data={"username": ADMIN, "password": PASSWORD, "csrf_token": token.group(1)},
    )
    return client


@contextlib.contextmanager
def running_service(
    bank: Bank, server: RedisServer, settings: Settings | None = None
) -> Iterator[ModemService]:
    service = ModemService(
        settings or Settings(),
        server.client(),
        redis.Redis(unix_socket_path=str(server.socket)),
        sim_dir=bank.dir,
        make_device=quick_device,
    )
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        service.stop()
        thread.join(30)


def metric(app: Flask, name: str, **labels: str) -> float | None:
    text = app.test_client().get("/metrics").get_data(as_text=True)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


def test_a_modem_that_stays_down_with_sms_on_its_sim_raises_the_alarm(
    tmp_path: Path,
    redis_server: RedisServer,
    redis_client: redis.Redis,
    app: Flask,
    admin: FlaskClient,
) -> None:
    """The modem answers and its SIM holds three citizens' SMS, but it refuses PDU mode: hoso
    cannot read them. Not a silent loss: the page warns, the metric says how many wait."""
    with Bank(tmp_path / "sim", ["m1"], config=DeviceConfig(text_only=True)) as bank:
        for n in range(3):
            bank.inject_sms("m1", f"+8490100000{n}", f"HS 000.00.20.H57-240423-000{n}")
        with running_service(bank, redis_server):
            registry = ModemRegistry(redis_client)

            def waiting() -> dict[str, str] | None:
                h = registry.health("m1")
                return h if h.get("state") == "down" and h.get("sim_waiting") == "3" else None

            health = eventually(waiting, what="m1 down with 3 SMS waiting")
            assert Limit.NO_PDU in parse_limits(health["limits"])
            assert "PDU" in health["last_error"]
            assert metric(app, "hoso_modem_sim_waiting", modem="m1") == 3
            assert metric(app, "hoso_modem_up", modem="m1") == 0
            assert metric(app, "hoso_modem_limitation", modem="m1", limitation="no_pdu") == 1
            page = admin.get("/admin/modems").get_data(as_text=True)
            assert "3 tin nhắn đang chờ trên SIM của modem không hoạt động" in page
            assert "Không hỗ trợ chế độ PDU: không dùng được modem này" in page
        assert bank.device("m1").storage.memories["SM"].used == 3  # still there, not lost


@pytest.mark.slow
def test_a_modem_that_refuses_an_optional_command_works_and_the_page_says_what_it_cannot_do(
    tmp_path: Path,
    redis_server: RedisServer,
    redis_client: redis.Redis,
    app: Flask,
    admin: FlaskClient,
) -> None:
    """The Wavecom Fastrack of the issue: AT+CPIN? without OK, two-memory +CPMS, AT+CVHU=0
    refused. It comes up, takes in the 30 SMS waiting on its SIM, and the refusal is listed."""
    with Bank(tmp_path / "sim", ["wavecom"], profiles="wavecom-fastrack") as bank:
        for n in range(30):
            bank.inject_sms("wavecom", f"+849020{n:05d}", f"HS {n}")
        with running_service(bank, redis_server):
            registry = ModemRegistry(redis_client)
            eventually(lambda: registry.health("wavecom").get("state") == "up", what="up")
            sim = bank.device("wavecom").storage.memories["SM"]
            eventually(lambda: sim.used == 0, what="the 30 SMS taken in")
            assert parse_limits(registry.health("wavecom")["limits"]) == (Limit.NO_HANGUP,)
            page = admin.get("/admin/modems").get_data(as_text=True)
            assert "Không đặt được cách ngắt cuộc gọi (AT+CVHU=0)" in page
            assert "không hoạt động" not in page


@pytest.mark.slow
def test_a_sim_that_runs_dry_mid_run_raises_the_alarm_and_its_replies_leave_elsewhere(
    tmp_path: Path,
    redis_server: RedisServer,
    redis_client: redis.Redis,
    app: Flask,
    admin: FlaskClient,
) -> None:
    """m1's prepaid SIM pays two SMS (350 đ each out of 1,000 đ); the third is refused with
    +CMS ERROR: 21. The owner reads the balance (*101#, "TK goc la 300d."): no credit, not a
    barred SIM. The refused reply and the ones waiting for m1 leave through m2; nothing fails,
    m1 is not quarantined, and the page and the metrics say the SIM is dry."""
    with Bank(tmp_path / "sim", ["m1", "m2"], status_report_delay=0.2) as bank:
        bank.set_balance("m1", 1000, price=350)
        bank.set_balance("m2", 500_000, price=350)
        registry = ModemRegistry(redis_client)
        for modem in bank.ids:
            registry.change(modem, per_minute=10_000, per_hour=100_000, per_day=1_000_000)
        # Replies wait for m1 however long it takes (no reply wait): m1 itself must meet the
        # refusal, whatever the load of the machine running the test.
        replies_wait = Settings(pool=PoolSettings(reply_wait_seconds=3600))
        with running_service(bank, redis_server, replies_wait):
            eventually(
                lambda: all(registry.health(m).get("state") == "up" for m in bank.ids), what="up"
            )
            outbox = Outbox(redis_client)
            now = int(time.time() * 1000)
            ids = [
                outbox.enqueue(f"+8490300000{n}", f"Tra loi {n}", Priority.REPLY, now, via="m1")
                for n in range(6)
            ]

            def all_out() -> bool:
                return all(
                    (s := outbox.get(i)) is not None
                    and s.state in (SmsState.SUBMITTED, SmsState.DELIVERED)
                    for i in ids
                )

            eventually(all_out, what="every reply sent")
            by_modem = [s.modem for s in bank.sent()]
            assert by_modem.count("m1") == 2
            assert by_modem.count("m2") == 4
            assert registry.quarantined("m1") is None
            assert registry.health("m1")["no_credit"] == "1"
            assert registry.balance("m1")["vnd"] == "300"
            assert metric(app, "hoso_modem_no_credit", modem="m1") == 1
            assert metric(app, "hoso_modem_no_credit", modem="m2") == 0
            assert metric(app, "hoso_modem_balance_vnd", modem="m1") == 300
            assert metric(app, "hoso_modem_balance_low", modem="m1") == 1
            refused = metric(
                app, "hoso_modem_send_errors_total", modem="m1", **{"class": "no_credit"}
            )
            assert refused is not None
            assert refused >= 1
            page = admin.get("/admin/modems").get_data(as_text=True)
            assert "SIM hết tiền: gửi bị từ chối, tin nhắn chuyển sang modem khác" in page
            assert "Số dư SIM: <strong>300 đ</strong>" in page
            later = outbox.enqueue(
                "+84903000009", "Sau khi het tien", Priority.REPLY, now, via="m1"
            )
            eventually(
                lambda: (s := outbox.get(later)) is not None and s.modem == "m2",
                what="a new reply for m1 taken by m2",
            )
