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

from config.settings import AdminSettings, GatewaySettings, ModemSettings, Settings
from gateway.core.modem_limits import Limit, parse_limits
from gateway.store.modems import ModemRegistry
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
def running_service(bank: Bank, server: RedisServer) -> Iterator[ModemService]:
    service = ModemService(
        Settings(),
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
