"""`hoso up`, what the README's first command runs: embedded Redis and gateway, stopped cleanly."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, cast

import pytest
import redis
import requests

from config.settings import GatewaySettings, RedisSettings, Settings
from gateway.core.signing import signed_headers
from gateway.store.modems import ModemRegistry
from hoso import up as up_module
from hoso.redis_server import RedisServer, redis_server_binary
from tests.conftest import REDIS_SERVER
from tests.e2e.conftest import free_port


def test_hoso_up_runs_the_system_on_embedded_defaults_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOSO_")}
    if REDIS_SERVER:
        env["HOSO_REDIS_SERVER"] = REDIS_SERVER  # the server this run of the suite is about
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    log = (tmp_path / "up.log").open("wb")
    up = subprocess.Popen(
        [sys.executable, "-m", "hoso.cli", "up", "--bind", f"127.0.0.1:{port}"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
    )
    try:
        assert up.stdout is not None
        banner = b""
        while b"demo dossier" not in banner:
            line = up.stdout.readline()
            assert line, "hoso up ended before it was up"
            banner += line
        text = banner.decode()
        demo = re.search(r"demo dossier  (\S+)", text)
        assert demo is not None
        demo_code = demo.group(1)
        assert f"http://127.0.0.1:{port}/" in text
        assert f"unix://{tmp_path}/var/redis/redis.sock" in text
        deadline = time.monotonic() + 30
        ready = None
        while time.monotonic() < deadline:
            try:
                ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        assert ready is not None
        assert ready.status_code == 200
        # The demo's receipt leads citizens to this gateway, not to the default port.
        made = subprocess.run(
            [sys.executable, "-m", "hoso.cli", "keys", "create", "--department", "demo", "--json"],
            cwd=tmp_path,
            env=env | {"HOSO_REDIS_URL": f"unix://{tmp_path}/var/redis/redis.sock"},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        key = json.loads(made.stdout)
        target = f"/api/v1/dossiers/{demo_code}/receipt?format=html"
        headers = signed_headers(key["key_id"], key["secret"], "GET", target, b"", int(time.time()))
        receipt = requests.get(f"http://127.0.0.1:{port}{target}", headers=headers, timeout=30)
        assert receipt.status_code == 200, receipt.text
        assert f"http://127.0.0.1:{port}/?" in receipt.text
        # Redis 7 and Valkey keep the AOF as a directory: a manifest and its files.
        assert (tmp_path / "var" / "redis" / "appendonlydir" / "appendonly.aof.manifest").exists()
        # Two emulated modems driven by the modem service; a citizen's SMS ...
        socket_path = str(tmp_path / "var" / "redis" / "redis.sock")
        client = redis.Redis(unix_socket_path=socket_path)  # bytes, as RQ wants
        registry = ModemRegistry(redis.Redis(unix_socket_path=socket_path, decode_responses=True))
        deadline = time.monotonic() + 30
        while not all(registry.health(m).get("state") == "up" for m in ("m1", "m2")):
            assert time.monotonic() < deadline, "the emulated modems did not come up"
            time.sleep(0.2)
        injected = subprocess.run(
            [
                sys.executable,
                "-m",
                "hoso.cli",
                "sim",
                "sms",
                "--dir",
                "var/sim",
                "--modem",
                "m1",
                "--from",
                "0901234567",
                f"HS {demo_code}",
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert injected.returncode == 0, injected.stderr
        # ... answered by the worker, through the modem service, back over the air.
        while True:
            sent = subprocess.run(
                [sys.executable, "-m", "hoso.cli", "sim", "sent", "--dir", "var/sim", "--json"],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            ).stdout
            answers = [json.loads(x) for x in sent.splitlines()]
            mine = [a["text"] for a in answers if a["to"] == "+84901234567"]
            if mine:
                assert demo_code in mine[0]
                assert "Duoc tiep nhan" in mine[0]  # the full answer: the demo's own phone
                break
            assert time.monotonic() < deadline + 60, "the citizen got no answer"
            time.sleep(0.5)
        client.close()
    finally:
        up.send_signal(signal.SIGTERM)
        code = up.wait(30)
        log.close()
        if up.stdout:
            up.stdout.close()
    assert code == 0
    assert not (tmp_path / "var" / "redis" / "redis.sock").exists()  # Redis shut down too


def test_hoso_up_leaves_no_process_behind_when_it_fails_after_starting_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[subprocess.Popen[bytes]] = []

    class Recorded(subprocess.Popen):  # type: ignore[type-arg]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            started.append(self)

    def no_demo(server: RedisServer) -> None:
        raise RuntimeError("the demo dossier cannot be registered")

    monkeypatch.setattr(subprocess, "Popen", Recorded)  # hoso up's children and redis-server
    monkeypatch.setattr(up_module, "demo_dossier", no_demo)
    settings = Settings(
        redis=RedisSettings(dir=str(tmp_path / "var" / "redis"), server=REDIS_SERVER),
        gateway=GatewaySettings(bind=f"127.0.0.1:{free_port()}"),
    )
    with pytest.raises(RuntimeError, match="demo dossier"):
        up_module.run_everything(settings)
    argvs = [[str(a) for a in cast(list[object], p.args)] for p in started]
    assert argvs[0][0] == redis_server_binary(REDIS_SERVER)
    assert [a[3] for a in argvs[1:]] == ["gateway", "worker", "cron", "sim", "modem"]
    assert all(p.poll() is not None for p in started)  # each stopped and waited for
    assert not (tmp_path / "var" / "redis" / "redis.sock").exists()  # Redis stopped too
