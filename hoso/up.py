"""`hoso up`: the whole system on one machine, on embedded defaults.

Starts the embedded Redis (unless ``HOSO_REDIS_URL`` names another), then each process of hoso as
a child, restarts a child that dies, and stops everything on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from config.settings import GatewaySettings, Settings
from gateway.core.dossier import Dossier, parse_registration
from gateway.core.times import VIETNAM
from gateway.store.dossiers import DossierStore
from hoso.redis_server import RedisServer, embedded

log = logging.getLogger(__name__)

RESTART_BACKOFF_MAX = 30.0


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = field(default=0.0)

    def start(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(self.argv, env=env, stdin=subprocess.DEVNULL)
        self.started_at = time.monotonic()
        log.info("up.started child=%s pid=%s", self.name, self.process.pid)


def public_url_of(settings: Settings, bind: str, env: dict[str, str]) -> str | None:
    """The address citizens reach the gateway `hoso up` starts on `bind`, when nobody named one
    (`gateway.public_url` left at its default, no HOSO_GATEWAY_PUBLIC_URL): otherwise a receipt
    printed by `hoso up --bind 127.0.0.1:9000` would send citizens to port 8080. None: keep
    what is configured."""
    if "HOSO_GATEWAY_PUBLIC_URL" in env:
        return None
    if settings.gateway.public_url != GatewaySettings().public_url:
        return None
    return f"http://{bind}"


def run_everything(settings: Settings, bind: str | None = None) -> int:
    env = dict(os.environ)
    server: RedisServer | None = None
    if not settings.redis.url:
        server = embedded(settings.redis)
        server.start()
        env["HOSO_REDIS_URL"] = server.url
    bind = bind or settings.gateway.bind
    public_url = public_url_of(settings, bind, env)
    if public_url is not None:  # receipts' QR codes and links lead to this gateway
        env["HOSO_GATEWAY_PUBLIC_URL"] = public_url
    hoso = [sys.executable, "-m", "hoso.cli"]
    children = [
        Child("gateway", [*hoso, "gateway", "--bind", bind]),
        Child("worker", [*hoso, "worker"]),
        Child("cron", [*hoso, "cron"]),
    ]
    sim_dir = Path(settings.redis.dir).parent / "sim"
    if settings.modems:
        children.append(Child("modem", [*hoso, "modem"]))
    else:  # no modem hardware configured: two emulated modems, as slow as real ones
        children.append(
            Child(
                "sim",
                [*hoso, "sim", "start", "--modems", "2", "--dir", str(sim_dir), "--latency", "2.5"],
            )
        )
        children.append(Child("modem", [*hoso, "modem", "--sim-dir", str(sim_dir)]))
    stopping = False

    def _stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:  # from the first child on: whatever fails, no process is left behind
        for child in children:
            child.start(env)
        _print_where(
            settings,
            env["HOSO_REDIS_URL"] if server else settings.redis.url,
            bind,
            None if settings.modems else sim_dir,
        )
        if server is not None and not settings.modems:
            _print_demo(demo_dossier(server), sim_dir)
        while not stopping:
            time.sleep(0.5)
            for child in children:
                if child.process is not None and child.process.poll() is not None and not stopping:
                    delay = min(RESTART_BACKOFF_MAX, 2.0**child.restarts)
                    log.warning(
                        "up.child_died child=%s code=%s restart_in=%.0fs",
                        child.name,
                        child.process.returncode,
                        delay,
                    )
                    time.sleep(delay)
                    child.restarts += 1
                    child.start(env)
    finally:
        for child in children:
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        for child in children:
            if child.process is not None:
                try:
                    child.process.wait(15)
                except subprocess.TimeoutExpired:
                    child.process.kill()
        if server is not None:
            server.stop()
    return 0


DEMO_PHONE = "0901234567"


def demo_dossier(server: RedisServer) -> Dossier:
    """A dossier to try the system with (embedded defaults only): registered once, then found."""
    now = datetime.now(UTC)
    code = f"000.00.20.H57-{now.astimezone(VIETNAM):%y%m%d}-0001"
    body: dict[str, object] = {
        "code": code,
        "procedure_code": "1.001776",
        "procedure_name": "Cấp bản sao trích lục hộ tịch",
        "phones": [DEMO_PHONE],
        "received_at": now.isoformat(),
        "due_at": (now + timedelta(days=3)).isoformat(),
        "applicant_name": "Người dùng thử",
    }
    store = DossierStore(server.client())
    existing = store.find(code)
    if existing is not None:
        return store.get(existing)
    return store.register(parse_registration(body), "demo", now).dossier


def hoso_command() -> str:
    """`hoso` as this terminal can run it: the bare name when the shell finds this very program,
    else its path (`make run` does not put `.venv/bin` on the PATH, so the banner's commands
    must name `.venv/bin/hoso` to work when copied)."""
    mine = Path(sys.executable).parent / "hoso"
    found = shutil.which("hoso")
    if found is not None and Path(found).resolve() == mine.resolve():
        return "hoso"
    if not mine.exists():
        return "hoso"
    try:
        return str(mine.relative_to(Path.cwd()))
    except ValueError:
        return str(mine)


def _print_demo(d: Dossier, sim_dir: Path) -> None:
    hoso = hoso_command()
    print(
        "\n".join(
            [
                f"demo dossier  {d.code}  short code {d.short_code}  secret {d.secret}",
                f"  text it as the citizen: {hoso} sim sms --dir {sim_dir} --modem m1 "
                f'--from {DEMO_PHONE} "HS {d.code}"',
                f"  the answer:             {hoso} sim sent --dir {sim_dir}",
            ]
        ),
        flush=True,
    )


def _print_where(settings: Settings, redis_url: str, bind: str, sim_dir: Path | None) -> None:
    base = f"http://{bind}"
    hoso = hoso_command()
    if sim_dir is None:
        modems = f"  modems       {len(settings.modems)} configured in {settings.source}"
    else:
        modems = (
            f"  modems       2 emulated in {sim_dir} (m1, m2; 2.5 s per SMS part)\n"
            f"               text one: {hoso} sim sms --dir {sim_dir} --modem m1 "
            '--from 0901234567 "HS <code>"\n'
            f"               see what went out: {hoso} sim sent --dir {sim_dir}"
        )
    print(
        "\n".join(
            [
                "hoso is up:",
                f"  citizens     {base}/   (Tra cuu ho so)",
                f"  dashboard    {base}/admin/"
                f"   (first account: {hoso} admin create-user <name> --role admin)",
                f"  gateway      health {base}/healthz, readiness {base}/readyz, {base}/metrics",
                f"  API v1       {base}/api/v1/openapi.json",
                f"  redis        {redis_url}",
                f"  config       {settings.source}",
                modems,
                f"  API keys     {hoso} keys create --department <id>, {hoso} keys list"
                "   (in another terminal)",
                "Ctrl-C stops everything.",
            ]
        ),
        flush=True,
    )
