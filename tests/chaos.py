"""Whole-system chaos: notifications and citizen queries through emulated modems while processes
are killed with SIGKILL, then an account of every message.

Every process of hoso runs as it does in production (`hoso gateway` under gunicorn, `hoso worker`
x2, `hoso cron`, `hoso modem --sim-dir`, redis-server with the shipped config: AOF, `appendfsync
always`), next to the GSM modem emulator (`hoso sim start`), which plays the network and keeps the
ledger of what went over the air. A harness restarts whatever dies, as systemd would (a small one
here: `hoso up`'s loop backs off exponentially and does not know Redis, the tests' fixtures stop
what they start).

The load: dossiers registered and moved to status 5 (supplement requested) through the signed
department API — the only notifying status in this run, so each accepted push is one notice — and
citizens' "HS <code>" SMS injected into the modems (each sender texts once). Meanwhile the killer
sends SIGKILL to the gunicorn master or one of its workers, an RQ worker, an RQ work horse (the
process a worker forks for each job), the modem service, or redis-server (restarted on the same
AOF). Then the system settles, everything stops, and the account says:

- lost: an accepted notice or a stored citizen SMS with no SMS to that number on the ledger;
- stuck: SMS queued / claimed / submitting, inbound SMS not handed over, RQ jobs queued, running
  or waiting for a retry, notices not released, change-stream entries not taken;
- duplicates: parts on the ledger more than once, each of which must be explained by the outbox's
  attempt log (`Outbox.attempts`): a resend of a part whose fate a kill left unknown;
- failed jobs, each explained by a kill while it ran.

`tests/e2e/test_chaos.py` runs the small profile; `bench/chaos.py` any size, with a report.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import redis
import requests
from rq import Queue

from gateway.core.messages import SmsState
from gateway.store import keys
from gateway.store.modems import ModemRegistry
from gateway.store.outbox import Outbox
from gateway.store.queues import ALL_QUEUES, INBOUND_QUEUE
from hoso.redis_server import SHIPPED_CONF, RedisServer
from modem.emulator.control import Connection
from modem.emulator.ledger import read_ledger
from tests.conftest import REDIS_SERVER
from tests.signing import DistinctSeconds, HttpClient, Signer

KINDS = ("gateway-master", "gateway-worker", "rq-worker", "job", "modem", "redis")
RESTART_DELAY = 0.3  # seconds between a death and the restart (systemd's RestartSec)
DOSSIER_PHONE = "0903{:06d}"  # one phone per dossier: its notice is the only SMS to it
QUERY_PHONE = "0913{:06d}"  # one sender per query: the reply is the only SMS to it
NOTE = "Ban sao CCCD co chung thuc"
UNSETTLED = (SmsState.QUEUED, SmsState.CLAIMED, SmsState.SUBMITTING)


@dataclass(frozen=True)
class Profile:
    messages: int  # notices + queries, about half each
    kills: int
    seed: int
    modems: int = 4
    latency: float = 0.1  # the emulated modems' seconds per AT+CMGS part
    load_seconds: float = 30.0  # the load and the kills are spread over this long
    settle_timeout: float = 150.0
    workers: int = 2  # RQ workers
    gateway_workers: int = 2


def seed_for_run() -> tuple[int, bool]:
    """A fixed seed under CI (reproducible), a random one elsewhere; (seed, fixed)."""
    if os.environ.get("CHAOS_SEED"):
        return int(os.environ["CHAOS_SEED"]), True
    if os.environ.get("CI"):
        return 20261127, True
    return random.SystemRandom().randrange(1, 10**9), False


def e164(local: str) -> str:
    return "+84" + local[1:]


# -- the harness: start, watch, restart ----------------------------------------------------------


@dataclass
class Kill:
    at: float  # unix time
    kind: str
    pid: int
    in_flight: tuple[str, ...]  # outbound SMS claimed or being submitted at that moment
    detail: str = ""


@dataclass
class Supervised:
    name: str
    argv: list[str]
    log: IO[bytes]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    pids: list[int] = field(default_factory=list)

    def start(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            self.argv, env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log
        )
        self.pids.append(self.process.pid)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def children_of(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


class Harness:
    """The processes of one installation, restarted when they die (Redis included)."""

    def __init__(self, home: Path, profile: Profile) -> None:
        self.home = home
        self.profile = profile
        # The shipped config, copied: a server rewrites the file it was started with (CONFIG
        # REWRITE, e.g. when Sentinel reconfigures it), and the run must not see another's edits.
        conf = home / "redis.conf"
        shutil.copyfile(SHIPPED_CONF, conf)
        text = conf.read_text(encoding="utf-8")
        assert "appendfsync always" in text, "config/redis.conf"
        assert "replicaof" not in text, "config/redis.conf"
        self.redis = RedisServer(home / "redis", conf=conf, binary=REDIS_SERVER)
        self.sim = home / "sim"
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        (home / "empty.toml").write_text("", encoding="utf-8")
        self.env = dict(os.environ) | {
            "HOSO_REDIS_URL": self.redis.url,
            "HOSO_CONFIG": str(home / "empty.toml"),
            "HOSO_SECURITY_MASTER_KEY_FILE": str(home / "master.key"),
            "HOSO_GATEWAY_RATE_PER_MINUTE": "10000000",
            "HOSO_SMS_NOTIFY_STATUSES": "5",
            "HOSO_SMS_COALESCE_SECONDS": "1",
            "HOSO_SMS_QUIET_START": "00:00",  # no quiet hours: the run may be at any hour
            "HOSO_SMS_QUIET_END": "00:00",
            "HOSO_SMS_DAILY_REPLY_BUDGET": "10000000",
            "PYTHONUNBUFFERED": "1",
        }
        self.lock = threading.RLock()  # kills and restarts never interleave
        self.stopping = threading.Event()
        self.children: dict[str, Supervised] = {}
        self.redis_restarts = 0
        self.redis_pids: list[int] = []
        self.kills: list[Kill] = []
        self._killed: set[int] = set()
        self._logs: list[IO[bytes]] = []
        self._emulator: subprocess.Popen[bytes] | None = None
        self._watcher = threading.Thread(target=self._watch, name="chaos-harness", daemon=True)

    def client(self) -> redis.Redis:
        return self.redis.client(socket_timeout=5, socket_connect_timeout=2)

    def _log(self, name: str) -> IO[bytes]:
        out = (self.home / f"{name}.log").open("ab")
        self._logs.append(out)
        return out

    def hoso(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "hoso.cli", *args]

    def start(self) -> None:
        self.redis.start()
        assert self.redis.process is not None
        self.redis_pids.append(self.redis.process.pid)
        p = self.profile
        self._emulator = subprocess.Popen(
            self.hoso(
                "sim", "start", "--modems", str(p.modems), "--dir", str(self.sim),
                "--latency", str(p.latency), "--fresh", "--status-report-delay", "0.5",
                "--seed", str(p.seed),
            ),
            env=self.env, stdin=subprocess.DEVNULL, stdout=self._log("sim"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        client = self.client()
        registry = ModemRegistry(client)
        for i in range(1, p.modems + 1):
            registry.change(f"m{i}", per_minute=100_000, per_hour=1_000_000, per_day=10_000_000)
        commands = {
            "gateway": self.hoso(
                "gateway", "--bind", f"127.0.0.1:{self.port}", "--workers", str(p.gateway_workers)
            ),
            "modem": self.hoso("modem", "--sim-dir", str(self.sim)),
            "cron": self.hoso("cron"),
        } | {f"worker{i + 1}": self.hoso("worker") for i in range(p.workers)}
        _wait(
            lambda: all((self.sim / f"m{i}").is_symlink() for i in range(1, p.modems + 1)),
            20,
            "the emulator did not start",
        )
        for name, argv in commands.items():
            child = Supervised(name, argv, self._log(name))
            child.start(self.env)
            self.children[name] = child
        self._watcher.start()
        _wait(self._healthy, 60, "the gateway did not come up")
        _wait(
            lambda: all(
                registry.health(f"m{i}").get("state") == "up" for i in range(1, p.modems + 1)
            ),
            60,
            "the modems did not come up",
        )
        client.close()

    def _healthy(self) -> bool:
        try:
            return requests.get(self.base + "/readyz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def _watch(self) -> None:
        while not self.stopping.wait(0.1):
            with self.lock:
                if self.stopping.is_set():
                    return
                if self.redis.process is not None and self.redis.process.poll() is not None:
                    time.sleep(RESTART_DELAY)
                    self.redis.start()  # the same directory: the same AOF
                    assert self.redis.process is not None
                    self.redis_pids.append(self.redis.process.pid)
                    self.redis_restarts += 1
                for child in self.children.values():
                    if not child.alive():
                        time.sleep(RESTART_DELAY)
                        child.start(self.env)
                        child.restarts += 1

    def _redis_up(self) -> bool:
        return self.redis.process is not None and self.redis.process.poll() is None

    def all_up(self) -> bool:
        with self.lock:
            return self._redis_up() and all(c.alive() for c in self.children.values())

    def ledger_path(self) -> Path:
        return self.sim / "ledger.jsonl"

    def stop(self) -> None:
        self.stopping.set()
        with self.lock:
            for child in self.children.values():
                if child.alive():
                    assert child.process is not None
                    child.process.terminate()
            for child in self.children.values():
                if child.process is not None:
                    try:
                        child.process.wait(30)
                    except subprocess.TimeoutExpired:
                        child.process.kill()
                        child.process.wait()
                    for pid in children_of(child.pid):  # orphans of a killed master, if any
                        _signal(pid, signal.SIGKILL)
            if self._emulator is not None:
                self._emulator.terminate()
                try:
                    self._emulator.wait(15)
                except subprocess.TimeoutExpired:
                    self._emulator.kill()
                    self._emulator.wait()
            self.redis.stop()
        for out in self._logs:
            out.close()

    # -- the killer ------------------------------------------------------------------------

    def kill(self, kind: str, rng: random.Random) -> Kill | None:
        """SIGKILL of one process of `kind`; None when none was found within 5 s. The modem
        service and Redis are killed, if it happens within 2 s, while a part is being submitted
        (the moment that leaves its fate unknown); work horses live for milliseconds, so they
        are looked for every millisecond."""
        began = time.monotonic()
        while time.monotonic() - began < 5:
            with self.lock:
                pid = self._target(kind, rng, patient=time.monotonic() - began < 2)
                if pid is not None:
                    return self._kill(kind, pid)
            time.sleep(0.001 if kind == "job" else 0.01)
        return None

    def _target(self, kind: str, rng: random.Random, patient: bool) -> int | None:
        if kind in ("modem", "redis") and patient and not self._submitting():
            return None
        if kind == "redis":
            process = self.redis.process
            return process.pid if process is not None and process.poll() is None else None
        if kind == "modem":
            return self.children["modem"].pid if self.children["modem"].alive() else None
        if kind == "gateway-master":
            return self.children["gateway"].pid if self.children["gateway"].alive() else None
        workers = sorted(n for n in self.children if n.startswith("worker"))
        if kind == "rq-worker":
            alive = [self.children[n].pid for n in workers if self.children[n].alive()]
            return rng.choice(alive) if alive else None
        if kind == "gateway-worker":
            found = children_of(self.children["gateway"].pid)
        elif kind == "job":
            found = [h for n in workers for h in children_of(self.children[n].pid)]
        else:
            raise ValueError(kind)
        found = [pid for pid in found if pid not in self._killed]  # dying, not yet reaped
        return rng.choice(found) if found else None

    def _submitting(self) -> bool:
        try:
            client = self.client()
            ids = self._in_flight()
            pipe = client.pipeline(transaction=False)
            for i in ids:
                pipe.hget(keys.sms(i), "state")
            states = pipe.execute()
            client.close()
        except redis.RedisError:
            return False
        return SmsState.SUBMITTING.value in states

    def _kill(self, kind: str, pid: int) -> Kill:
        in_flight = self._in_flight()
        at = time.time()
        _signal(pid, signal.SIGKILL)
        self._killed.add(pid)
        for process in [self.redis.process, *(c.process for c in self.children.values())]:
            if process is not None and process.pid == pid:
                process.wait(10)  # reaped: the watcher sees it dead, the killer never kills twice
        kill = Kill(at, kind, pid, in_flight)
        self.kills.append(kill)
        return kill

    def _in_flight(self) -> tuple[str, ...]:
        try:
            client = self.client()
            pipe = client.pipeline(transaction=False)
            for i in range(1, self.profile.modems + 1):
                pipe.smembers(keys.outbox_inflight(f"m{i}"))
            found = sorted({str(x) for members in pipe.execute() for x in members}, key=int)
            client.close()
            return tuple(found)
        except redis.RedisError:
            return ()  # Redis is down: nothing can be claimed or marked submitting right now


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.1)


# -- the load ------------------------------------------------------------------------------------


@dataclass
class Load:
    """What the system accepted: number -> when (unix time)."""

    notices: dict[str, float] = field(default_factory=dict)
    queries: dict[str, float] = field(default_factory=dict)
    api_retries: int = 0
    not_stored: int = 0  # injections a full SIM refused (tried again, as an SMSC does)


def department(harness: Harness) -> HttpClient:
    made = subprocess.run(
        harness.hoso("keys", "create", "--department", "chaos", "--json"),
        env=harness.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    key = json.loads(made.stdout)
    return HttpClient(harness.base, Signer(key["key_id"], key["secret"], DistinctSeconds()))


def dossier_code(n: int) -> str:
    return f"000.00.20.H57-261127-{n:05d}"


def _until_accepted(api: HttpClient, target: str, body: dict[str, Any], load: Load) -> None:
    """A department's client: retried (signed again) until the gateway answers 2xx."""
    while True:
        try:
            answer = api.post(target, body)
        except requests.RequestException:
            answer = None
        if answer is not None and 200 <= answer.status < 300:
            return
        if answer is not None and answer.status in (400, 404, 409, 413, 422):
            raise AssertionError(f"{target}: {answer.status} {answer.text}")
        load.api_retries += 1  # a connection error, a 5xx, or a 401 for a re-used second
        time.sleep(0.2)


def push_dossiers(api: HttpClient, numbers: range, pace: Callable[[int], None], load: Load) -> None:
    now = datetime.now(UTC)
    for n in numbers:
        pace(n)
        phone = DOSSIER_PHONE.format(n)
        code = dossier_code(n)
        _until_accepted(
            api,
            "/api/v1/dossiers",
            {
                "code": code,
                "procedure_code": "1.001776",
                "procedure_name": "Cấp bản sao trích lục hộ tịch",
                "phones": [phone],
                "received_at": now.isoformat(),
                "due_at": (now + timedelta(days=10)).isoformat(),
            },
            load,
        )
        at = (now + timedelta(seconds=1)).isoformat()
        body = {"event_id": f"chaos-{n}", "status": 5, "at": at, "note": NOTE}
        _until_accepted(api, f"/api/v1/dossiers/{code}/events", body, load)
        load.notices[e164(phone)] = time.time()


def stored(answer: dict[str, Any]) -> bool:
    """Every part of an injected SMS was stored on the modem (else the network tries again)."""
    return all(i is not None for i in answer["indexes"])


def text_queries(
    control: Connection, numbers: range, dossiers: int, modems: int, pace: Callable[[int], None],
    load: Load,
) -> None:  # fmt: skip
    for n in numbers:
        pace(n)
        sender = QUERY_PHONE.format(n)
        modem = f"m{n % modems + 1}"
        while not stored(control.sms(modem, sender, f"HS {dossier_code(n % max(dossiers, 1))}")):
            load.not_stored += 1
            time.sleep(0.5)
        load.queries[e164(sender)] = time.time()


# -- settling and the account ----------------------------------------------------------------


def unsettled(client: redis.Redis, rq_client: redis.Redis) -> dict[str, int]:
    """What is still to be done, by kind (empty when the system has settled)."""
    found: Counter[str] = Counter()
    last = int(client.get(keys.sms_counter()) or 0)
    pipe = client.pipeline(transaction=False)
    for i in range(1, last + 1):
        pipe.hget(keys.sms(str(i)), "state")
    for state in pipe.execute():
        if state in {s.value for s in UNSETTLED}:
            found[f"sms {state}"] += 1
    found["inbound not handed over"] = int(client.llen(keys.inbound_pending()))
    for name in ALL_QUEUES:
        queue = Queue(name, connection=rq_client)
        found[f"{name} queued"] = queue.count if name == INBOUND_QUEUE else 0
        found[f"{name} running"] = len(queue.started_job_registry) if name == INBOUND_QUEUE else 0
        found[f"{name} waiting for a retry"] = len(queue.scheduled_job_registry)
    found["notices not released"] = int(client.zcard(keys.notices_due()))
    try:
        groups = client.xinfo_groups(keys.changes())
    except redis.ResponseError:
        groups = []
    for g in groups:
        found["changes not taken"] += int(g.get("lag") or 0) + int(g.get("pending") or 0)
    return {k: v for k, v in found.items() if v}


@dataclass
class Duplicate:
    to: str
    part: int
    copies: int
    explanation: str  # '' when the attempt log does not explain it


@dataclass
class Account:
    profile: Profile
    load: Load
    kills: list[Kill]
    restarts: dict[str, int]
    lost: list[str]
    stuck: dict[str, int]
    duplicates: list[Duplicate]
    in_flight_at_kills: int
    failed_jobs: list[tuple[str, str, str]]  # job id, error, explanation ('' if none)
    enqueued_twice: list[str]
    unexpected: list[str]  # numbers on the ledger that nobody was owed
    load_s: float
    settle_s: float
    total_s: float
    messages_on_air: int

    @property
    def unexplained(self) -> list[Duplicate]:
        return [d for d in self.duplicates if not d.explanation]

    def problems(self) -> list[str]:
        out = []
        if self.lost:
            out.append(f"lost {len(self.lost)}: {self.lost[:10]}")
        if self.stuck:
            out.append(f"stuck: {self.stuck}")
        if self.unexplained:
            out.append(f"unexplained duplicates: {self.unexplained[:10]}")
        extra = sum(d.copies - 1 for d in self.duplicates)
        if extra > self.in_flight_at_kills:
            out.append(f"{extra} extra copies > {self.in_flight_at_kills} in flight at kills")
        if self.enqueued_twice:
            out.append(f"queued twice: {self.enqueued_twice[:10]}")
        if self.unexpected:
            out.append(f"SMS to numbers nobody was owed: {self.unexpected[:10]}")
        unexplained_jobs = [j for j in self.failed_jobs if not j[2]]
        if unexplained_jobs:
            out.append(f"failed jobs not explained by a kill: {unexplained_jobs[:5]}")
        return out

    def report(self) -> str:
        p = self.profile
        kinds = Counter(k.kind for k in self.kills)
        accepted = len(self.load.notices) + len(self.load.queries)
        extra = sum(d.copies - 1 for d in self.duplicates)
        lines = [
            f"chaos run: seed {p.seed}, {p.modems} modems at {p.latency:g} s per part, "
            f"{p.workers} RQ workers, {p.gateway_workers} gateway workers",
            f"messages      {accepted} accepted: {len(self.load.notices)} notices "
            f"(status pushes through the signed API), {len(self.load.queries)} citizen queries "
            f"(SMS stored on a modem); {self.messages_on_air} whole SMS on the air",
            f"kills         {len(self.kills)}: "
            + ", ".join(f"{k} {kinds[k]}" for k in KINDS if kinds[k]),
            "restarts      " + ", ".join(f"{n} {c}" for n, c in sorted(self.restarts.items())),
            f"lost          {len(self.lost)}",
            f"stuck         {sum(self.stuck.values())} {self.stuck or ''}".rstrip(),
            f"duplicates    {extra} extra part(s) on the air, in {len(self.duplicates)} "
            f"message(s); in flight at the kills: {self.in_flight_at_kills}; "
            f"unexplained: {len(self.unexplained)}",
        ]
        lines += [
            f"  {d.to} part {d.part + 1} x{d.copies}: {d.explanation}" for d in self.duplicates
        ]
        lines.append(f"failed jobs   {len(self.failed_jobs)}")
        lines += [f"  {job}: {err} -- {why or 'UNEXPLAINED'}" for job, err, why in self.failed_jobs]
        lines += [
            f"API retries   {self.load.api_retries} (connection refused, 503 while Redis was "
            f"down, re-signed); SIM full, injected again: {self.load.not_stored}",
            f"time          load {self.load_s:.1f} s, settle {self.settle_s:.1f} s after the last "
            f"kill and the last message, total {self.total_s:.1f} s",
            f"throughput    {accepted / max(self.load_s + self.settle_s, 1e-9):.1f} messages/s "
            "from the first message to settled",
        ]
        return "\n".join(lines)


def explain_duplicate(attempts: list[dict[str, Any]], part: int, kills: list[Kill]) -> str:
    """A resend of `part` after an attempt whose outcome was never recorded, and the kill between
    them that left it unknown: the modem service that was submitting it, or Redis."""
    whys = []
    open_attempt: dict[str, Any] | None = None
    for a in attempts:
        if a.get("part") != part:
            continue
        if a["event"] == "submitting":
            if open_attempt is not None and a.get("resend"):
                began, resent = open_attempt["at"] / 1000, a["at"] / 1000
                pid = str(open_attempt.get("by", "")).split(":")[1:2]
                kill = next(
                    (
                        k
                        for k in kills
                        if began - 0.5 <= k.at <= resent
                        and (k.kind == "redis" or (k.kind == "modem" and [str(k.pid)] == pid))
                    ),
                    None,
                )
                if kill is None:
                    return ""
                whys.append(
                    f"submitting by {open_attempt.get('by')} at {_hms(began)}, "
                    f"{kill.kind} pid {kill.pid} killed at {_hms(kill.at)}, "
                    f"resent by {a.get('by')} at {_hms(resent)}"
                )
            open_attempt = a
        elif a["event"] in ("submitted", "refused"):
            open_attempt = None
    return "; ".join(whys)


def explain_failed_job(started: float | None, ended: float | None, kills: list[Kill]) -> str:
    lo = (started or 0) - 1
    hi = (ended or time.time()) + 1
    near = [k for k in kills if lo <= k.at <= hi and k.kind in ("rq-worker", "job", "redis")]
    return ", ".join(f"{k.kind} pid {k.pid} killed at {_hms(k.at)}" for k in near)


def _hms(t: float) -> str:
    return datetime.fromtimestamp(t).strftime("%H:%M:%S.%f")[:-3]


def account(harness: Harness, load: Load, times: tuple[float, float, float]) -> Account:
    client = harness.client()
    outbox = Outbox(client)
    records = read_ledger(harness.ledger_path(), kind=None)
    parts: Counter[tuple[str, int]] = Counter(
        (r.to, r.part - 1) for r in records if r.kind == "part"
    )
    on_air = {r.to for r in records if r.kind == "message"}
    owed = set(load.notices) | set(load.queries)
    lost = sorted(n for n in owed if n not in on_air)
    duplicates, enqueued_twice = [], []
    for (to, part), copies in sorted(parts.items()):
        if copies < 2:
            continue
        ids = outbox.ids_for(phone=to)
        attempts = [a for i in ids for a in outbox.attempts(i)]
        duplicates.append(
            Duplicate(to, part, copies, explain_duplicate(attempts, part, harness.kills))
        )
    for to in sorted(owed):
        if len(outbox.ids_for(phone=to)) > 1:
            enqueued_twice.append(to)
    rq_client = redis.Redis.from_url(harness.redis.url)
    failed = []
    for name in ALL_QUEUES:
        queue = Queue(name, connection=rq_client)
        for job_id in queue.failed_job_registry.get_job_ids():
            job = queue.fetch_job(job_id)
            if job is None:
                continue
            result = job.latest_result()
            error = ((result.exc_string if result else "") or "").strip().splitlines()[-1:]
            started = job.started_at.timestamp() if job.started_at else None
            ended = job.ended_at.timestamp() if job.ended_at else None
            why = explain_failed_job(started, ended, harness.kills)
            failed.append((job_id, error[0] if error else "", why))
    stuck = unsettled(client, rq_client)
    client.close()
    rq_client.close()
    restarts = {n: c.restarts for n, c in harness.children.items()} | {
        "redis": harness.redis_restarts
    }
    began, load_done, settled = times
    in_flight = sum(len(k.in_flight) for k in harness.kills)
    return Account(
        profile=harness.profile,
        load=load,
        kills=list(harness.kills),
        restarts=restarts,
        lost=lost,
        stuck=stuck,
        duplicates=duplicates,
        in_flight_at_kills=in_flight,
        failed_jobs=failed,
        enqueued_twice=enqueued_twice,
        unexpected=sorted(on_air - owed),
        load_s=load_done - began,
        settle_s=settled - load_done,
        total_s=settled - began,
        messages_on_air=sum(1 for r in records if r.kind == "message"),
    )


# -- one run ---------------------------------------------------------------------------------------


def kill_plan(profile: Profile, rng: random.Random) -> list[tuple[float, str]]:
    """When (seconds into the load) and what to kill: every kind once, in a random order at
    random times within the first 60% of the load (what `run` does when a kind has no process
    to kill at its time leaves room to try it again), then kinds at random over the whole load."""
    kinds = list(KINDS)
    rng.shuffle(kinds)
    once = [(rng.uniform(0.05, 0.6) * profile.load_seconds, k) for k in kinds]
    more = [
        (rng.uniform(0.05, 0.95) * profile.load_seconds, rng.choice(KINDS))
        for _ in range(profile.kills - len(KINDS))
    ]
    return sorted(once[: profile.kills] + more)


def kill_on_plan(
    harness: Harness,
    plan: list[tuple[float, str]],
    began: float,
    load_running: Callable[[], bool],
    rng: random.Random,
    say: Callable[[str], None],
) -> None:
    """Kills as planned. A kind of the plan that had no process to kill at its time (gunicorn
    between two workers, no job running) is owed: tried again before each later kill, and after
    the last one for as long as the load runs, so that every kind of the plan is killed."""
    owed: list[str] = []

    def attempt(kind: str) -> None:
        kill = harness.kill(kind, rng)
        say(
            f"chaos: +{time.time() - began:5.1f} s kill {kind}"
            + (f" pid {kill.pid}, in flight {len(kill.in_flight)}" if kill else ": none found")
        )
        if kill is not None and kind in owed:
            owed.remove(kind)
        elif kill is None and kind not in owed and kind not in {k.kind for k in harness.kills}:
            owed.append(kind)

    for at, kind in plan:
        wait = began + at - time.time()
        if wait > 0:
            time.sleep(wait)
        for again in list(owed):
            attempt(again)
        attempt(kind)
    while owed and load_running():
        attempt(owed[0])


def run(profile: Profile, home: Path, say: Callable[[str], None] = print) -> Account:
    rng = random.Random(profile.seed)
    harness = Harness(home, profile)
    started = time.time()
    try:
        harness.start()
        api = department(harness)
        control = Connection(harness.sim)
        load = Load()
        dossiers = profile.messages // 2
        queries = profile.messages - dossiers
        say(f"chaos: seed {profile.seed}; system up in {time.time() - started:.1f} s; load starts")
        began = time.time()

        def pacer(count: int) -> Callable[[int], None]:
            step = profile.load_seconds / max(count, 1)

            def pace(n: int) -> None:
                wait = began + n * step - time.time()
                if wait > 0:
                    time.sleep(wait)

            return pace

        threads = [
            threading.Thread(
                target=push_dossiers, args=(api, range(0, dossiers, 2), pacer(dossiers), load)
            ),
            threading.Thread(
                target=push_dossiers, args=(api, range(1, dossiers, 2), pacer(dossiers), load)
            ),
            threading.Thread(
                target=text_queries,
                args=(control, range(queries), dossiers, profile.modems, pacer(queries), load),
            ),
        ]
        for t in threads:
            t.daemon = True
            t.start()
        kill_on_plan(
            harness,
            kill_plan(profile, rng),
            began,
            lambda: any(t.is_alive() for t in threads),
            rng,
            say,
        )
        for t in threads:
            t.join()
        load_done = time.time()
        control.close()
        say(f"chaos: load done in {load_done - began:.1f} s; settling")
        client = harness.client()
        rq_client = redis.Redis.from_url(harness.redis.url)
        deadline = time.monotonic() + profile.settle_timeout
        owed = set(load.notices) | set(load.queries)
        left: dict[str, int] | str = {}
        while time.monotonic() < deadline:
            try:
                if harness.all_up():
                    left = unsettled(client, rq_client)
                    on_air = {r.to for r in read_ledger(harness.ledger_path())}
                    missing = len(owed - on_air)
                    if missing:
                        left = left | {"owed, not on the air yet": missing}
                    if not left:
                        break
            except redis.RedisError as exc:
                left = f"redis: {exc}"
            time.sleep(0.5)
        settled = time.time()
        say(f"chaos: settled in {settled - load_done:.1f} s" if not left else f"chaos: {left}")
        client.close()
        rq_client.close()
        result = account(harness, load, (began, load_done, settled))
    finally:
        harness.stop()
    return result


__all__ = ["KINDS", "Account", "Profile", "run", "seed_for_run"]


def by_kind(kills: list[Kill]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for k in kills:
        counts[k.kind] += 1
    return dict(counts)
