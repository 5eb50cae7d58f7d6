"""`hoso up`, what the README's first command runs: embedded Redis and gateway, stopped cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.e2e.conftest import free_port


def test_hoso_up_runs_the_system_on_embedded_defaults_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOSO_")}
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
        while b"Ctrl-C" not in banner:
            line = up.stdout.readline()
            assert line, "hoso up ended before it was up"
            banner += line
        text = banner.decode()
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
        assert (tmp_path / "var" / "redis" / "appendonly.aof").exists()
    finally:
        up.send_signal(signal.SIGTERM)
        code = up.wait(30)
        log.close()
        if up.stdout:
            up.stdout.close()
    assert code == 0
    assert not (tmp_path / "var" / "redis" / "redis.sock").exists()  # Redis shut down too
