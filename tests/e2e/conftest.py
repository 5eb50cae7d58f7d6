"""Whole processes: a real `hoso gateway` (gunicorn) on 127.0.0.1 with its own redis-server."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from hoso.redis_server import RedisServer
from tests.conftest import REDIS_SERVER
from tests.signing import DistinctSeconds, HttpClient, Signer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Gateway:
    base: str
    env: dict[str, str]
    redis: RedisServer
    process: subprocess.Popen[bytes]

    def hoso(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hoso.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def department(self, name: str) -> HttpClient:
        made = self.hoso("keys", "create", "--department", name, "--json")
        assert made.returncode == 0, made.stderr
        key = json.loads(made.stdout)
        return HttpClient(self.base, Signer(key["key_id"], key["secret"], DistinctSeconds()))


def wait_until_healthy(base: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gateway exited with {process.returncode}")
        try:
            if requests.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise RuntimeError("gateway did not come up")


def wait_for_workers(
    log: Path, process: subprocess.Popen[bytes], count: int, timeout: float = 120
) -> None:
    """Until the gateway's log says `count` workers are ready (`gateway.worker_ready`)."""
    deadline = time.monotonic() + timeout
    while log.read_text(errors="replace").count("gateway.worker_ready") < count:
        if process.poll() is not None:
            raise RuntimeError(f"gateway exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"fewer than {count} gateway workers came up")
        time.sleep(0.1)


@contextlib.contextmanager
def running_gateway(home: Path, **settings: str) -> Iterator[Gateway]:
    """A `hoso gateway` process (2 workers) on its own Redis; `settings` are extra
    HOSO_<SECTION>_<KEY> variables, e.g. HOSO_ADMIN_REFRESH_SECONDS="1"."""
    server = RedisServer(home / "redis", binary=REDIS_SERVER).start()
    port = free_port()
    env = (
        dict(os.environ)
        | {
            "HOSO_REDIS_URL": server.url,
            "HOSO_SECURITY_MASTER_KEY_FILE": str(home / "master.key"),
            "HOSO_GATEWAY_RATE_PER_MINUTE": "100000",
            "HOSO_GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{port}",  # printed on receipts
            "HOSO_CONFIG": str(home / "none.toml"),
        }
        | settings
    )
    (home / "none.toml").write_text("", encoding="utf-8")
    log = (home / "gateway.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hoso.cli",
            "gateway",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, process)
        # and every worker: one answers /healthz while the other may still be loading the app
        # (on a loaded machine gunicorn has replaced such a worker mid-test)
        wait_for_workers(home / "gateway.log", process, 2)
        yield Gateway(base, env, server, process)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        server.stop()
        log.close()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("gateway")) as running:
        yield running


__all__ = ["Gateway", "Path"]
