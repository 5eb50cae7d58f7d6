#!/usr/bin/env python3
"""Benchmark: a citizen's SMS in -> the reply submitted over the air, the whole system as processes.

For each AT+CMGS latency: starts a redis-server with the shipped config (AOF, appendfsync
always), the GSM modem emulator (`python -m modem.emulator start`), the modem service (`python -m
hoso.cli modem --sim-dir DIR`) and 1-2 RQ workers (`python -m hoso.cli worker`), all separate
processes; registers one dossier per citizen (the dossier's phone is the sender, so the reply is
the full answer), then injects "hs <code>" through the emulator's control socket (one connection,
JSON lines) at a steady rate, round-robin over the modems, each from its own number.

Per message, on the host's one clock:

- injection: just before the control-socket request is written;
- the reply in the ledger: the emulator's own `time` of the "message" record (milliseconds,
  stamped when the emulated modem accepts the SMS), and, as a cross-check, the moment this script
  saw the line (it follows ledger.jsonl every 10 ms);
- where the time went: the inbound hash's `received_at` (the owner's inbox poll began), the RQ
  job's enqueued_at / started_at / ended_at, the reply SMS hash's created_ms (the job's clock) and
  submitted_ms (+CMGS read by the service).

With a latency > 0 the emulator's send time is the configured latency (a timer started when the
PDU is accepted), so "injection -> AT+CMGS accepted" is the ledger time minus the latency.

Target: median under 200 ms, p95 under 500 ms at 0 s.

    .venv/bin/python bench/replies.py [--latencies 0,3] [--workers 1] [--modems 2] [--keep]
                                      [--rate-0s 4] [--count-0s 200] [--rate-3s 0.5]
                                      [--count-3s 30]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import IO, Any, cast

import redis
from rq.job import Job

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.core.dossier import parse_registration
from gateway.store import keys
from gateway.store.dossiers import DossierStore
from gateway.store.modems import ModemRegistry
from gateway.store.queues import inbound_job_id
from hoso.redis_server import RedisServer
from modem.emulator.control import Connection

TARGET_P50_MS = 200.0
TARGET_P95_MS = 500.0
MATURE_P50_MS = 2100.0  # a well-known open-source gateway, 0-latency modem, this machine
CLK_TCK = os.sysconf("SC_CLK_TCK")
STAGES = (
    ("inject->poll", "injection -> the owner's inbox poll begins (received_at)"),
    ("poll->enqueued", "AT+CMGL, inbox.take (fsync), AT+CMGD, RQ enqueue"),
    ("enqueued->started", "RQ: BLPOP pickup, fork of the work horse, job bookkeeping"),
    ("started->queued", "the job until its reply is queued (created_ms)"),
    ("queued->submitted", "wake, claim, plan, submitting, AT+CMGS (+ latency), submitted"),
    ("submitted->ledger", "the service's clock vs the emulator's ledger stamp"),
)


@dataclass
class Run:
    latency: float
    workers: int
    modems: int
    rate: float
    idle_wait: float | None = None  # diagnosis: the owner's idle wait patched (not shipped)
    preimport: bool = False  # diagnosis: the worker imports worker.jobs before forking
    sent: int = 0
    answered: int = 0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    mean_ms: float = 0.0
    seen_p50_ms: float = 0.0  # from the moment this script saw the ledger line
    seen_p95_ms: float = 0.0
    to_cmgs_p50_ms: float | None = None  # injection -> AT+CMGS accepted (latency > 0)
    to_cmgs_p95_ms: float | None = None
    to_cmgs_p99_ms: float | None = None
    to_cmgs_max_ms: float | None = None
    stages_median_ms: dict[str, float] = field(default_factory=dict)  # of the median message
    stages_p50_ms: dict[str, float] = field(default_factory=dict)  # each stage's own median
    stages_p95_ms: dict[str, float] = field(default_factory=dict)
    inject_call_p50_ms: float = 0.0  # the control-socket request itself
    redis_commands_per_reply: float = 0.0  # every command in the window, idle polling included
    cpu_share: dict[str, float] = field(default_factory=dict)  # of one core, over the window
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    notes: list[str] = field(default_factory=list)


# -- helpers (as in bench/modems.py) ----------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / CLK_TCK


class Processes:
    """Every child this benchmark starts, stopped (terminate, wait, kill) whatever happens."""

    def __init__(self) -> None:
        self.children: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []

    def start(self, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        out = log.open("wb")
        proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        self.children.append((proc, out))
        return proc

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for p, out in list(self.children):
            if p is proc:
                out.close()
                self.children.remove((p, out))

    def stop_all(self) -> None:
        for proc, _ in list(reversed(self.children)):
            self.stop(proc)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out ({timeout:.0f} s) waiting for {what}")


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def epoch(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


# -- the ledger and the control socket --------------------------------------------------------


class LedgerTail(threading.Thread):
    """Follows ledger.jsonl every 10 ms: per recipient, the record's own time and when seen."""

    POLL = 0.01

    def __init__(self, path: Path) -> None:
        super().__init__(name="ledger-tail", daemon=True)
        self.path = path
        self.replies: dict[str, tuple[float, float]] = {}  # to -> (ledger time, seen)
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.path.exists() and not self.stopping.wait(self.POLL):
            pass
        buffer = ""
        with self.path.open(encoding="utf-8") as fh:
            while True:
                chunk = fh.read()
                now = time.time()
                if chunk:
                    buffer += chunk
                    *lines, buffer = buffer.split("\n")
                    with self.lock:
                        for line in lines:
                            if '"kind": "message"' in line:
                                record = json.loads(line)
                                stamped = datetime.fromisoformat(record["time"]).timestamp()
                                self.replies.setdefault(record["to"], (stamped, now))
                elif self.stopping.is_set():
                    return
                else:
                    time.sleep(self.POLL)

    def get(self, to: str) -> tuple[float, float] | None:
        with self.lock:
            return self.replies.get(to)

    def count(self) -> int:
        with self.lock:
            return len(self.replies)

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)


# -- one run ----------------------------------------------------------------------------------


def sender_of(n: int) -> str:
    return f"0901{n:06d}"


def e164_of(n: int) -> str:
    return f"+84901{n:06d}"


def register(store: DossierStore, count: int, start: int) -> list[str]:
    now = datetime.now(UTC)
    codes = []
    for n in range(start, start + count):
        body = {
            "code": f"000.00.20.H57-240501-{n:05d}",
            "procedure_code": "1.001776",
            "procedure_name": "Cấp bản sao trích lục hộ tịch",
            "phones": [sender_of(n)],
            "received_at": now.isoformat(),
            "due_at": (now + timedelta(days=10)).isoformat(),
            "applicant_name": "Nguyễn Văn An",
        }
        codes.append(store.register(parse_registration(body), "bench", now).dossier.code)
    return codes


def command_calls(client: redis.Redis) -> int:
    stats = cast(dict[str, dict[str, int]], client.info("commandstats"))
    return sum(v["calls"] for v in stats.values())


def patched(prelude: str) -> list[str]:
    """`hoso` with a line of Python run first (a diagnosis only, never the shipped code)."""
    code = f"import sys; {prelude}; from hoso.cli import main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-c", code]


def one_run(home: Path, procs: Processes, run: Run, count: int) -> Run:
    work = Path(tempfile.mkdtemp(prefix=f"l{run.latency:g}-w{run.workers}-", dir=home))
    server = RedisServer(work / "redis")
    try:
        server.start()
        return _measure(run, work, procs, server, count)
    finally:
        server.stop()


def _measure(run: Run, work: Path, procs: Processes, server: RedisServer, count: int) -> Run:
    admin = server.client()
    ids = [f"m{i + 1}" for i in range(run.modems)]
    registry = ModemRegistry(admin)
    for modem in ids:
        registry.change(modem, per_minute=10**6, per_hour=10**7, per_day=10**8)
    warm = len(ids)
    codes = register(DossierStore(admin), count + warm, 0)

    config = work / "empty.toml"
    config.write_text("", encoding="utf-8")
    env = dict(os.environ) | {
        "HOSO_REDIS_URL": server.url,
        "HOSO_CONFIG": str(config),
        "HOSO_SMS_PER_SENDER_PER_HOUR": "100000",  # distinct senders anyway
        "HOSO_SMS_DAILY_REPLY_BUDGET": "1000000",
    }
    sim = work / "sim"
    cli = [sys.executable, "-m", "hoso.cli"]
    emulator = procs.start(
        [
            sys.executable,
            "-m",
            "modem.emulator",
            "start",
            "--modems",
            str(run.modems),
            "--dir",
            str(sim),
            "--latency",
            str(run.latency),
            "--fresh",
        ],
        env,
        work / "emulator.log",
    )
    ledger = LedgerTail(sim / "ledger.jsonl")
    ledger.start()

    def ports_ready() -> bool:
        if emulator.poll() is not None:
            raise RuntimeError(f"the emulator exited:\n{tail(work / 'emulator.log')}")
        return (sim / "control.sock").exists() and all((sim / m).is_symlink() for m in ids)

    wait_until(ports_ready, 30, "the emulator's ports")
    service_cli = cli
    if run.idle_wait is not None:
        service_cli = patched(f"import modem.owner as o; o.IDLE_WAIT_SECONDS = {run.idle_wait!r}")
    worker_cli = patched("import worker.jobs") if run.preimport else cli
    service = procs.start([*service_cli, "modem", "--sim-dir", str(sim)], env, work / "service.log")
    workers = [
        procs.start([*worker_cli, "worker"], env, work / f"worker{i + 1}.log")
        for i in range(run.workers)
    ]
    assert server.process is not None
    pids = {"service": service.pid, "emulator": emulator.pid, "redis": server.process.pid}
    pids |= {f"worker{i + 1}": w.pid for i, w in enumerate(workers)}
    control: Connection | None = None
    injected: dict[int, tuple[float, float]] = {}  # n -> (before the call, after it)
    try:
        wait_until(
            lambda: all(registry.health(m).get("state") == "up" for m in ids),
            60,
            "the modems up",
        )
        control = Connection(sim)
        # Warm-up: one message per modem (first fork, imports, connections), not measured.
        for i, modem in enumerate(ids):
            control.sms(modem, sender_of(count + i), f"hs {codes[count + i]}")
        wait_until(lambda: ledger.count() >= warm, 60 + 3 * run.latency, "the warm-up replies")
        time.sleep(2.0)

        run.load_before = os.getloadavg()
        cpu0 = {k: cpu_seconds(pid) for k, pid in pids.items()}
        calls0 = command_calls(admin)
        t0 = time.time()
        # Poisson arrivals (seeded): a fixed period would lock in phase with the owner's loop.
        arrivals = random.Random(7)
        due = 0.0
        start = time.monotonic()
        for n in range(count):
            due += arrivals.expovariate(run.rate)
            delay = start + due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            before = time.time()
            control.sms(ids[n % len(ids)], sender_of(n), f"hs {codes[n]}")
            injected[n] = (before, time.time())
        run.sent = count
        try:
            wait_until(
                lambda: all(ledger.get(e164_of(n)) for n in range(count)),
                30 + 3 * run.latency,
                "every reply",
            )
        except RuntimeError as exc:
            run.notes.append(str(exc))
        t1 = time.time()
        cpu1 = {k: cpu_seconds(pid) for k, pid in pids.items()}
        calls1 = command_calls(admin)
        run.load_after = os.getloadavg()
    finally:
        if control is not None:
            control.close()
        for proc in [*workers, service, emulator]:
            procs.stop(proc)
        ledger.stop()

    run.cpu_share = {k: (cpu1[k] - cpu0[k]) / (t1 - t0) for k in pids}
    total: list[float] = []
    seen: list[float] = []
    to_cmgs: list[float] = []
    calls: list[float] = []
    rows: list[tuple[float, dict[str, float]]] = []
    rq = redis.Redis.from_url(server.url)
    for n in range(count):
        got = ledger.get(e164_of(n))
        if got is None:
            continue
        t_in, t_back = injected[n]
        stamped, saw = got
        total.append((stamped - t_in) * 1000)
        seen.append((saw - t_in) * 1000)
        calls.append((t_back - t_in) * 1000)
        if run.latency > 0:
            to_cmgs.append((stamped - run.latency - t_in) * 1000)
        stages = breakdown(admin, rq, e164_of(n), t_in, stamped)
        if stages:
            rows.append((stamped - t_in, stages))
    run.answered = len(total)
    if not total:
        run.notes.append("no replies")
        return run
    run.p50_ms = percentile(total, 50)
    run.p95_ms = percentile(total, 95)
    run.p99_ms = percentile(total, 99)
    run.max_ms = max(total)
    run.mean_ms = statistics.fmean(total)
    run.seen_p50_ms = percentile(seen, 50)
    run.seen_p95_ms = percentile(seen, 95)
    run.inject_call_p50_ms = percentile(calls, 50)
    run.redis_commands_per_reply = (calls1 - calls0) / max(run.answered, 1)
    if to_cmgs:
        run.to_cmgs_p50_ms = percentile(to_cmgs, 50)
        run.to_cmgs_p95_ms = percentile(to_cmgs, 95)
        run.to_cmgs_p99_ms = percentile(to_cmgs, 99)
        run.to_cmgs_max_ms = max(to_cmgs)
    if rows:
        rows.sort(key=lambda r: r[0])
        run.stages_median_ms = rows[len(rows) // 2][1]
        for name, _ in STAGES:
            values = [r[1][name] for r in rows if name in r[1]]
            run.stages_p50_ms[name] = percentile(values, 50)
            run.stages_p95_ms[name] = percentile(values, 95)
    if run.answered < run.sent:
        run.notes.append(f"{run.sent - run.answered} of {run.sent} not answered")
    return run


def breakdown(
    client: redis.Redis, rq: redis.Redis, to: str, t_in: float, stamped: float
) -> dict[str, float]:
    """Where the time of one message went, from the stored times (ms)."""
    message_id = find_inbound(client, to)
    if message_id is None:
        return {}
    inbound = cast(dict[str, str], client.hgetall(keys.inbound(message_id)))
    sms_id = client.get(keys.sms_dedupe(f"reply:{message_id}"))
    if sms_id is None:
        return {}
    sms = cast(dict[str, str], client.hgetall(keys.sms(str(sms_id))))
    job = Job.fetch(inbound_job_id(message_id), connection=rq)
    if not (job.enqueued_at and job.started_at and job.ended_at):
        return {}
    polled = datetime.fromisoformat(inbound["received_at"]).timestamp()
    enqueued = epoch(job.enqueued_at)
    started = epoch(job.started_at)
    queued = int(sms["created_ms"]) / 1000
    submitted = int(sms["submitted_ms"]) / 1000
    return {
        "inject->poll": (polled - t_in) * 1000,
        "poll->enqueued": (enqueued - polled) * 1000,
        "enqueued->started": (started - enqueued) * 1000,
        "started->queued": (queued - started) * 1000,
        "queued->submitted": (submitted - queued) * 1000,
        "submitted->ledger": (stamped - submitted) * 1000,
        "job ended (after queued)": (epoch(job.ended_at) - queued) * 1000,
    }


_INBOUND_BY_SENDER: dict[str, str] = {}


def find_inbound(client: redis.Redis, sender: str) -> str | None:
    if not _INBOUND_BY_SENDER:
        for key in client.scan_iter(match=keys.inbound_prefix() + "*", count=1000):
            name = str(key)
            message_id = name[len(keys.inbound_prefix()) :]
            who = client.hget(name, "sender")
            if who is not None:
                _INBOUND_BY_SENDER[str(who)] = message_id
    return _INBOUND_BY_SENDER.get(sender)


# -- report -----------------------------------------------------------------------------------


def print_run(r: Run) -> None:
    diagnosis = ""
    if r.idle_wait is not None:
        diagnosis += f" [DIAGNOSIS: owner idle wait {r.idle_wait:g} s]"
    if r.preimport:
        diagnosis += " [DIAGNOSIS: worker.jobs imported before the fork]"
    print(
        f"latency {r.latency:g} s, {r.modems} modems, {r.workers} worker(s), {r.rate:g} SMS/s "
        f"(Poisson): {r.answered}/{r.sent} answered{diagnosis}"
    )
    print(
        f"  inject -> reply in ledger (ledger time): p50 {r.p50_ms:.0f} ms, p95 {r.p95_ms:.0f}, "
        f"p99 {r.p99_ms:.0f}, max {r.max_ms:.0f}, mean {r.mean_ms:.0f}"
    )
    print(
        f"  same, stamped when this script saw the line: p50 {r.seen_p50_ms:.0f} ms, "
        f"p95 {r.seen_p95_ms:.0f}"
    )
    if r.to_cmgs_p50_ms is not None:
        print(
            f"  inject -> AT+CMGS accepted (ledger time - {r.latency:g} s): "
            f"p50 {r.to_cmgs_p50_ms:.0f} ms, p95 {r.to_cmgs_p95_ms:.0f}, "
            f"p99 {r.to_cmgs_p99_ms:.0f}, max {r.to_cmgs_max_ms:.0f}"
        )
    print("  stages (of the median message | each stage's p50 | p95), ms:")
    for name, what in STAGES:
        print(
            f"    {name:<20} {r.stages_median_ms.get(name, float('nan')):>7.0f} "
            f"{r.stages_p50_ms.get(name, float('nan')):>7.0f} "
            f"{r.stages_p95_ms.get(name, float('nan')):>7.0f}   {what}"
        )
    extra = r.stages_median_ms.get("job ended (after queued)")
    if extra is not None:
        print(f"    (the job's RQ ended_at came {extra:.0f} ms after its reply was queued)")
    print(
        f"  control-socket call p50 {r.inject_call_p50_ms:.1f} ms; Redis commands per reply "
        f"(all, idle polling included) {r.redis_commands_per_reply:.0f}"
    )
    shares = ", ".join(f"{k} {v:.0%}" for k, v in r.cpu_share.items())
    print(f"  CPU (of one core): {shares}")
    print(f"  load average {r.load_before} -> {r.load_after}")
    if r.latency == 0:
        verdict = "met" if r.p50_ms < TARGET_P50_MS and r.p95_ms < TARGET_P95_MS else "NOT met"
        print(
            f"  targets p50 < 200 ms, p95 < 500 ms: {verdict} "
            f"(p50 = {r.p50_ms / TARGET_P50_MS:.2f}x the budget, p95 = "
            f"{r.p95_ms / TARGET_P95_MS:.2f}x; {MATURE_P50_MS / r.p50_ms:.1f}x faster than "
            f"the 2.1 s median of a mature gateway)"
        )
    for note in r.notes:
        print(f"  note: {note}")
    print(flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latencies", default="0,3", help="seconds per AT+CMGS part")
    parser.add_argument("--workers", default="1", help="RQ workers, comma-separated runs: 1,2")
    parser.add_argument("--modems", type=int, default=2)
    parser.add_argument("--rate-0s", type=float, default=4.0, help="SMS/s injected at 0 s")
    parser.add_argument("--count-0s", type=int, default=200)
    parser.add_argument("--rate-3s", type=float, default=0.5, help="SMS/s injected at > 0 s")
    parser.add_argument("--count-3s", type=int, default=30)
    parser.add_argument(
        "--idle-wait",
        type=float,
        help="diagnosis only: patch the modem owner's idle wait (IDLE_WAIT_SECONDS, 0.5 s)",
    )
    parser.add_argument(
        "--preimport",
        action="store_true",
        help="diagnosis only: the worker imports worker.jobs before it forks work horses",
    )
    parser.add_argument("--keep", action="store_true", help="keep logs and ledgers")
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)
    home = Path(tempfile.mkdtemp(prefix="hoso-bench-replies-"))
    if args.keep:
        print(f"keeping {home}")
    procs = Processes()
    results: list[Run] = []
    try:
        print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()} at the start")
        print("redis: the shipped config (AOF, appendfsync always); one fresh server per run")
        print("emulator, modem service, worker(s), Redis: separate processes on the same cores")
        print()
        for latency in [float(x) for x in args.latencies.split(",")]:
            for workers in [int(w) for w in args.workers.split(",")]:
                rate = args.rate_0s if latency == 0 else args.rate_3s
                count = args.count_0s if latency == 0 else args.count_3s
                _INBOUND_BY_SENDER.clear()
                run = Run(
                    latency=latency,
                    workers=workers,
                    modems=args.modems,
                    rate=rate,
                    idle_wait=args.idle_wait,
                    preimport=args.preimport,
                )
                results.append(one_run(home, procs, run, count))
                print_run(run)
        print(f"load average at the end: {os.getloadavg()}")
        print(json.dumps({"cores": os.cpu_count(), "results": [asdict(r) for r in results]}))
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        procs.stop_all()
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
