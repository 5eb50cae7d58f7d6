"""One dossier's life through a real `hoso gateway` process over HTTP on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import requests

from tests.e2e.conftest import Gateway, wait_until_healthy
from tests.factories import event_body, registration_body

DOSSIERS = "/api/v1/dossiers"


def test_a_department_registers_pushes_and_reads_over_http(gateway: Gateway) -> None:
    tuphap = gateway.department("tuphap")
    created = tuphap.post(DOSSIERS, registration_body(501))
    assert created.status == 201, created.text
    code = created.body["code"]
    pushed = tuphap.post(f"{DOSSIERS}/{code}/events", event_body("tp-1", 4, desk="Phòng Tư pháp"))
    assert pushed.status == 201, pushed.text
    again = tuphap.post(f"{DOSSIERS}/{code}/events", event_body("tp-1", 4, desk="Phòng Tư pháp"))
    assert (again.status, again.body) == (200, pushed.body)
    read = tuphap.get(f"{DOSSIERS}/{code}")
    assert read.status == 200
    assert read.body["status"] == {"code": 4, "label": "Đang xử lý"}
    assert read.body["holder"] == "Phòng Tư pháp"
    assert [h["event_id"] for h in read.body["history"]] == ["registered", "tp-1"]


def test_an_acknowledged_push_survives_kill_9_of_a_gateway_worker(gateway: Gateway) -> None:
    tuphap = gateway.department("tuphap")
    code = tuphap.post(DOSSIERS, registration_body(502)).body["code"]
    assert tuphap.post(f"{DOSSIERS}/{code}/events", event_body("k-1", 5)).status == 201
    # Kill every worker process of gunicorn with SIGKILL; the master starts new ones.
    children = subprocess.run(
        ["pgrep", "-P", str(gateway.process.pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    assert children
    for pid in children:
        os.kill(int(pid), signal.SIGKILL)
    wait_until_healthy(gateway.base, gateway.process)
    read = tuphap.get(f"{DOSSIERS}/{code}")
    assert read.status == 200
    assert read.body["status"]["code"] == 5


def test_readiness_follows_redis_and_recovers(gateway: Gateway) -> None:
    assert requests.get(gateway.base + "/readyz", timeout=5).status_code == 200
    gateway.redis.kill()
    try:
        down = requests.get(gateway.base + "/readyz", timeout=5)
        assert down.status_code == 503
        tuphap_key = gateway.hoso("keys", "create", "--department", "x", "--json")
        assert tuphap_key.returncode != 0  # the CLI says Redis is down instead of hanging
    finally:
        gateway.redis.start()
    assert requests.get(gateway.base + "/readyz", timeout=5).status_code == 200


def test_unknown_paths_are_problems_not_html(gateway: Gateway) -> None:
    r = requests.get(gateway.base + "/api/v1/nothing", timeout=5)
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("application/problem+json")


def test_administrators_change_the_modem_pool_live_from_the_command_line(gateway: Gateway) -> None:
    changed = gateway.hoso(
        "modems", "set", "m7", "port=/dev/ttyUSB7", "per_day=150", "enabled=false"
    )
    assert changed.returncode == 0, changed.stderr
    listed = gateway.hoso("modems", "list")
    assert listed.returncode == 0, listed.stderr
    line = next(x for x in listed.stdout.splitlines() if x.startswith("m7"))
    assert "150/day" in line
    refused = gateway.hoso("modems", "set", "m7", "per_day=many")
    assert refused.returncode == 2
    assert "whole number" in refused.stderr
    assert gateway.hoso("modems", "unquarantine", "m7").returncode == 0


def test_the_notification_index_can_be_rebuilt_for_an_upgrade(gateway: Gateway) -> None:
    tuphap = gateway.department("tuphap")
    assert tuphap.post(DOSSIERS, registration_body(503)).status == 201
    rebuilt = gateway.hoso("notifications", "reindex")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "dossier(s) looked at" in rebuilt.stdout


def test_hoso_receipt_writes_a_printable_receipt(gateway: Gateway, tmp_path: Path) -> None:
    tuphap = gateway.department("tuphap")
    created = tuphap.post(DOSSIERS, registration_body(504)).body
    out = tmp_path / "receipt.png"
    made = gateway.hoso("receipt", created["code"].lower(), "--width", "58", "-o", str(out))
    assert made.returncode == 0, made.stderr
    assert out.read_bytes().startswith(b"\x89PNG")
    assert gateway.hoso("receipt", "000.00.20.H57-240423-9999").returncode == 1
