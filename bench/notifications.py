#!/usr/bin/env python3
"""Benchmark: the notification engine — status changes -> notification SMS queued in the outbox.

Starts a redis-server with the shipped config (AOF, appendfsync always), registers N dossiers
(each with its own phone; the registration is itself a change: "received"), applies one notifying
status change to each (5, supplement requested, with a note; within the coalescing window, so the
two changes of a dossier make one notice), then times the notifier as the cron tick runs it:

- `Notifier.take_changes` until the change stream is drained (changes/s taken);
- `Notifier.release_due` with an injected clock past the coalescing window and outside quiet
  hours, until every notice is queued in the outbox (notifications/s queued);
- Redis commands per notification (INFO commandstats, the commands inside scripts included);
- the same with the work split across 2 processes (consumer group / leases share it), on a
  fresh server with the same data;
- for context: how long registering and applying took (the department API's store calls).

In-process, no modems: it measures the engine, not the sending.

    .venv/bin/python bench/notifications.py [--dossiers 10000] [--processes 1,2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import cast

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.settings import SmsSettings
from gateway.core.dossier import parse_registration
from gateway.core.events import parse_status_changed
from gateway.core.times import VIETNAM
from gateway.store.dossiers import DossierStore
from gateway.store.outbox import Outbox
from hoso.redis_server import RedisServer
from worker.notifier import Notifier

STATUS = 5  # supplement requested: notifies, carries a note
NOTE = "Bản sao CCCD có chứng thực"
TAKE_BATCH = 1000  # as the cron tick: take_changes(count=1000)
RELEASE_BATCH = 500  # release_due(limit=500)


@dataclass
class Run:
    dossiers: int
    processes: int
    register_s: float = 0.0
    apply_s: float = 0.0
    changes: int = 0
    take_s: float = 0.0
    notifications: int = 0
    release_s: float = 0.0
    changes_per_s: float = 0.0
    notifications_per_s: float = 0.0
    end_to_end_per_s: float = 0.0  # notifications / (take + release)
    commands_per_change_taken: float = 0.0
    commands_per_notification_released: float = 0.0
    commands_per_notification: float = 0.0  # take + release
    top_commands: dict[str, int] = field(default_factory=dict)
    redis_cpu_share: float = 0.0
    outbox_depth: int = 0
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    notes: list[str] = field(default_factory=list)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def office_hours() -> tuple[datetime, datetime]:
    """A clock for taking (tomorrow 10:00 in Vietnam) and one for releasing (10 minutes later):
    past the coalescing window, outside quiet hours, whatever the hour the benchmark runs."""
    local = datetime.now(VIETNAM) + timedelta(days=1)
    take = local.replace(hour=10, minute=0, second=0, microsecond=0).astimezone(UTC)
    return take, take + timedelta(minutes=10)


def notifier(client: redis.Redis, at: datetime, consumer: str) -> Notifier:
    return Notifier(
        client, Outbox(client), DossierStore(client), SmsSettings(), lambda: at, consumer=consumer
    )


def command_stats(client: redis.Redis) -> dict[str, int]:
    stats = cast(dict[str, dict[str, int]], client.info("commandstats"))
    return {k.removeprefix("cmdstat_"): v["calls"] for k, v in stats.items()}


def redis_cpu(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def load(client: redis.Redis, dossiers: int, run: Run) -> None:
    store = DossierStore(client)
    now = datetime.now(UTC)
    codes = []
    started = time.perf_counter()
    for n in range(dossiers):
        body = {
            "code": f"000.00.20.H57-240501-{n:05d}",
            "procedure_code": "1.001776",
            "procedure_name": "Cấp bản sao trích lục hộ tịch",
            "phones": [f"0901{n:06d}"],
            "received_at": now.isoformat(),
            "due_at": (now + timedelta(days=10)).isoformat(),
            "applicant_name": "Nguyễn Văn An",
        }
        codes.append(store.register(parse_registration(body), "bench", now).dossier.code)
    run.register_s = time.perf_counter() - started
    at = (now + timedelta(seconds=1)).isoformat()
    started = time.perf_counter()
    for n, code in enumerate(codes):
        event = {"event_id": f"e{n}", "status": STATUS, "at": at, "note": NOTE}
        store.apply(code, parse_status_changed(event, "bench"), "bench", now)
    run.apply_s = time.perf_counter() - started


def drain(client: redis.Redis, phase: str, consumer: str) -> int:
    take_at, release_at = office_hours()
    done = 0
    if phase == "take":
        n = notifier(client, take_at, consumer)
        while taken := n.take_changes(TAKE_BATCH):
            done += taken
    else:
        n = notifier(client, release_at, consumer)
        while sent := n.release_due(RELEASE_BATCH):
            done += sent
    return done


def child(url: str, phase: str, consumer: str, start_at: float) -> int:
    """One of several processes: waits for the common start, drains, prints what it did."""
    client = redis.Redis.from_url(url, decode_responses=True)
    client.ping()
    time.sleep(max(0.0, start_at - time.time()))
    started = time.time()
    done = drain(client, phase, consumer)
    print(json.dumps({"done": done, "started": started, "ended": time.time()}), flush=True)
    return 0


def phase_in_processes(url: str, phase: str, processes: int) -> tuple[int, float]:
    start_at = time.time() + 1.5  # every child connected and imported by then
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", phase, url, f"bench-{i}", str(start_at)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(processes)
    ]
    outs = []
    try:
        for c in children:
            out, _ = c.communicate(timeout=600)
            outs.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for c in children:
            if c.poll() is None:
                c.terminate()
                c.wait(10)
    return sum(o["done"] for o in outs), max(o["ended"] for o in outs) - start_at


def one_run(home: Path, dossiers: int, processes: int) -> Run:
    run = Run(dossiers=dossiers, processes=processes)
    server = RedisServer(Path(tempfile.mkdtemp(prefix=f"p{processes}-", dir=home)) / "redis")
    try:
        server.start()
        client = server.client()
        load(client, dossiers, run)
        run.load_before = os.getloadavg()
        phases: dict[str, tuple[int, float, dict[str, int]]] = {}
        cpu0 = redis_cpu(client)
        for phase in ("take", "release"):
            client.config_resetstat()
            if processes == 1:
                started = time.perf_counter()
                done = drain(client, phase, "bench-0")
                took = time.perf_counter() - started
            else:
                done, took = phase_in_processes(server.url, phase, processes)
            stats = command_stats(client)
            stats = {k: v - (1 if k == "config|resetstat" else 0) for k, v in stats.items()}
            stats.pop("info", None)
            stats.pop("config|resetstat", None)
            phases[phase] = (done, took, stats)
        run.redis_cpu_share = (redis_cpu(client) - cpu0) / (
            phases["take"][1] + phases["release"][1]
        )
        run.load_after = os.getloadavg()
        run.outbox_depth = Outbox(client).depth()
    finally:
        server.stop()
    run.changes, run.take_s, take_stats = phases["take"]
    run.notifications, run.release_s, release_stats = phases["release"]
    run.changes_per_s = run.changes / run.take_s
    run.notifications_per_s = run.notifications / run.release_s
    run.end_to_end_per_s = run.notifications / (run.take_s + run.release_s)
    take_calls = sum(take_stats.values())
    release_calls = sum(release_stats.values())
    run.commands_per_change_taken = take_calls / max(run.changes, 1)
    run.commands_per_notification_released = release_calls / max(run.notifications, 1)
    run.commands_per_notification = (take_calls + release_calls) / max(run.notifications, 1)
    merged: dict[str, int] = {}
    for stats in (take_stats, release_stats):
        for k, v in stats.items():
            merged[k] = merged.get(k, 0) + v
    run.top_commands = dict(sorted(merged.items(), key=lambda kv: -kv[1])[:12])
    if run.notifications != dossiers:
        run.notes.append(f"{run.notifications} notifications for {dossiers} dossiers")
    if run.outbox_depth != run.notifications:
        run.notes.append(f"outbox depth {run.outbox_depth} != {run.notifications} queued")
    return run


def print_run(r: Run) -> None:
    print(f"{r.processes} process(es), {r.dossiers:,} dossiers:")
    print(
        f"  API side (context): register {r.register_s:.1f} s "
        f"({r.dossiers / r.register_s:,.0f}/s), apply {r.apply_s:.1f} s "
        f"({r.dossiers / r.apply_s:,.0f}/s), one process, sequential"
    )
    print(
        f"  take_changes: {r.changes:,} changes in {r.take_s:.2f} s = "
        f"{r.changes_per_s:,.0f} changes/s; {r.commands_per_change_taken:.1f} Redis commands "
        "per change"
    )
    print(
        f"  release_due:  {r.notifications:,} SMS queued in {r.release_s:.2f} s = "
        f"{r.notifications_per_s:,.0f} notifications/s; "
        f"{r.commands_per_notification_released:.1f} Redis commands per notification"
    )
    print(
        f"  both: {r.end_to_end_per_s:,.0f} notifications/s end to end; "
        f"{r.commands_per_notification:.1f} Redis commands per notification; "
        f"Redis CPU {r.redis_cpu_share:.0%} of a core; outbox depth {r.outbox_depth:,}; "
        f"{1000 / r.end_to_end_per_s:.2f} ms per notification"
    )
    print(f"  commands: {r.top_commands}")
    print(f"  load average {r.load_before} -> {r.load_after}")
    for note in r.notes:
        print(f"  note: {note}")
    print(flush=True)


def main() -> int:
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        return child(sys.argv[3], sys.argv[2], sys.argv[4], float(sys.argv[5]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=10_000)
    parser.add_argument("--processes", default="1,2", help="comma-separated runs")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)
    home = Path(tempfile.mkdtemp(prefix="hoso-bench-notifications-"))
    results = []
    try:
        print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()} at the start")
        print("redis: the shipped config (AOF, appendfsync always); one fresh server per run")
        print(f"batches as the cron tick: take_changes({TAKE_BATCH}), release_due({RELEASE_BATCH})")
        print()
        for processes in [int(p) for p in args.processes.split(",")]:
            run = one_run(home, args.dossiers, processes)
            results.append(run)
            print_run(run)
        if len(results) >= 2:
            base = results[0]
            for r in results[1:]:
                print(
                    f"{r.processes} processes vs {base.processes}: take "
                    f"{r.changes_per_s / base.changes_per_s:.2f}x, release "
                    f"{r.notifications_per_s / base.notifications_per_s:.2f}x"
                )
        print(f"load average at the end: {os.getloadavg()}")
        print(json.dumps({"cores": os.cpu_count(), "results": [asdict(r) for r in results]}))
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
