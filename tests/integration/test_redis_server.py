"""`hoso redis`, the office's embedded Redis, as the real process systemd or a person runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import REDIS_SERVER


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting for its parent does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


@pytest.fixture
def hoso_redis(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], redis.Redis, int]]:
    """`hoso redis` in its own session, started as a shell or a unit starts it; the process,
    a client of its server, and the server's pid."""
    (tmp_path / "empty.toml").write_text("", encoding="utf-8")
    env = dict(os.environ) | {
        "HOSO_CONFIG": str(tmp_path / "empty.toml"),
        "HOSO_REDIS_DIR": str(tmp_path / "redis"),
        "HOSO_REDIS_SERVER": REDIS_SERVER,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "hoso.cli", "redis"],
        env=env,
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    server_pid = 0
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # printed once the server answers
        assert line.startswith("redis: unix://"), line
        client = redis.Redis(unix_socket_path=line.removeprefix("redis: unix://").strip())
        server_pid = int(client.info("server")["process_id"])
        yield process, client, server_pid
        client.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if server_pid and alive(server_pid):
            os.kill(server_pid, signal.SIGKILL)
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.slow
@pytest.mark.parametrize("sent", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_hoso_redis_stopped_by_a_signal_stops_its_server_cleanly(
    hoso_redis: tuple[subprocess.Popen[str], redis.Redis, int], sent: signal.Signals
) -> None:
    """kill (SIGTERM) outside systemd, a closed terminal, Ctrl-C: the server goes with it."""
    process, client, server_pid = hoso_redis
    client.set("recorded", "1")
    process.send_signal(sent)  # to `hoso redis` alone, not to its process group
    assert process.wait(30) == 0
    assert not alive(server_pid), "redis-server outlived hoso redis"
