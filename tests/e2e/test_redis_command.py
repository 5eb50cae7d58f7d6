"""`hoso redis` as a process: stopped with SIGTERM (not only Ctrl-C), it stops its redis-server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.split(") ", 1)[1][0] != "Z"  # a zombie is gone


def test_sigterm_to_hoso_redis_stops_its_redis_server_too(tmp_path: Path) -> None:
    config = tmp_path / "hoso.toml"
    config.write_text(f'[redis]\ndir = "{tmp_path / "redis"}"\n', encoding="utf-8")
    env = dict(os.environ) | {"HOSO_CONFIG": str(config)}
    hoso = subprocess.Popen(
        [sys.executable, "-m", "hoso.cli", "redis"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert hoso.stdout is not None
        assert hoso.stdout.readline().startswith("redis: unix://")  # started and answering
        children = Path(f"/proc/{hoso.pid}/task/{hoso.pid}/children").read_text().split()
        [child] = [int(pid) for pid in children]
        hoso.send_signal(signal.SIGTERM)
        assert hoso.wait(30) == 0
        deadline = time.monotonic() + 20
        while alive(child):
            assert time.monotonic() < deadline, "redis-server left running"
            time.sleep(0.05)
    finally:
        if hoso.poll() is None:
            hoso.kill()
            hoso.wait()
        if hoso.stdout is not None:
            hoso.stdout.close()
