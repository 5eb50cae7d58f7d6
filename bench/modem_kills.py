#!/usr/bin/env python3
"""Benchmark: kill -9 of the modem service mid-send, many times; duplicates counted on the air.

For each mode (status reports on, off): a redis-server with the shipped config (AOF, appendfsync
always), the GSM modem emulator (`python -m modem.emulator start --modems N --latency S`) and the
modem service (`python -m hoso.cli modem --sim-dir DIR`), all separate processes. The outbox is
filled with one SMS per recipient (every third one two parts long), then, `--kills` times: the
service is started, and as soon as a part is being handed to a modem (an SMS `submitting` in Redis,
its AT+CMGS running for the latency) it gets SIGKILL. At the end the service runs until every
SMS is submitted or delivered.

Counted on the emulator's ledger (what went over the air):

- parts on the air more than once (a part in doubt resent while the first copy had gone out);
- SMS reaching a citizen twice (any of its parts twice);
- parts in doubt after the kills and how the service settled each (the outbox's attempt log):
  `report` (its status report confirmed it), `resend` (no report within the wait: sent again),
  `earlier-resend` (without reports, a part already resent once).

Target (issue 13): with status reports 0 duplicates over 100 kills; without, at most one per part
in flight.

    .venv/bin/python bench/modem_kills.py [--kills 100] [--modems 4] [--latency 3]
                                          [--report-wait 10] [--modes on,off] [--keep DIR]
                                          [--run-seconds 0] [--seed 13]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.core.messages import Priority, SmsState
from gateway.store import keys
from gateway.store.modems import ModemRegistry
from gateway.store.outbox import Outbox
from hoso.redis_server import RedisServer
from modem.emulator.ledger import read_ledger

UNSETTLED = (SmsState.QUEUED, SmsState.CLAIMED, SmsState.SUBMITTING)


@dataclass
class Result:
    mode: str
    kills: int = 0
    messages: int = 0
    parts_in_doubt: int = 0
    settled: Counter[str] = field(default_factory=Counter)
    duplicate_parts: int = 0
    sms_twice: int = 0
    lost: int = 0
    seconds: float = 0.0
    settle_seconds: float = 0.0

    def line(self) -> str:
        how = ", ".join(f"{k} {v}" for k, v in sorted(self.settled.items())) or "-"
        return (
            f"| {self.mode} | {self.kills} | {self.messages} | {self.parts_in_doubt} | {how} | "
            f"{self.duplicate_parts} | {self.sms_twice} | {self.lost} | {self.seconds:.0f} s |"
        )


class Children:
    def __init__(self) -> None:
        self.children: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []

    def start(self, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        out = log.open("ab")
        proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        self.children.append((proc, out))
        return proc

    def stop_all(self) -> None:
        for proc, out in self.children:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            out.close()
        self.children.clear()


def run(mode: str, home: Path, args: argparse.Namespace) -> Result:
    result = Result(mode=mode, kills=args.kills)
    rng = random.Random(args.seed)
    home.mkdir(parents=True, exist_ok=True)
    server = RedisServer(home / "redis").start()
    children = Children()
    sim = home / "sim"
    env = dict(os.environ) | {
        "HOSO_REDIS_URL": server.url,
        "HOSO_CONFIG": str(home / "empty.toml"),
        "HOSO_POOL_REPORT_WAIT_SECONDS": str(args.report_wait),
    }
    (home / "empty.toml").write_text("", encoding="utf-8")
    python = sys.executable
    try:
        children.start(
            [
                *(python, "-m", "modem.emulator", "start", "--modems", str(args.modems)),
                *("--dir", str(sim), "--latency", str(args.latency), "--fresh"),
                *("--status-report-delay", "1.0" if mode == "on" else "none"),
            ],
            env,
            home / "sim.log",
        )
        deadline = time.monotonic() + 30
        while not all((sim / f"m{i}").is_symlink() for i in range(1, args.modems + 1)):
            if time.monotonic() > deadline:
                raise RuntimeError("the emulator did not start")
            time.sleep(0.05)
        client = server.client()
        registry = ModemRegistry(client)
        for i in range(1, args.modems + 1):
            registry.change(f"m{i}", per_minute=10_000, per_hour=100_000, per_day=1_000_000)
        outbox = Outbox(client)
        texts: dict[str, str] = {}
        ids: list[str] = []

        def top_up(want: int) -> None:
            """Keeps `want` SMS waiting in the shared queue: the modems never run dry."""
            now = int(time.time() * 1000)
            for _ in range(max(0, want - outbox.depth())):
                i = len(texts)
                to = f"+8490{i:07d}"
                texts[to] = f"Thong bao {i}: " + (
                    "ho so da duoc tiep nhan. " * 8 if i % 3 == 0 else "da xong."
                )
                ids.append(outbox.enqueue(to, texts[to], Priority.NOTIFICATION, now))

        started = time.monotonic()
        service_argv = [python, "-m", "hoso.cli", "modem", "--sim-dir", str(sim)]
        modems = [f"m{i}" for i in range(1, args.modems + 1)]

        def submitting(since_ms: int) -> bool:
            """A part being handed to a modem by this run of the service (not one in doubt
            since an earlier kill)."""
            flying = set().union(*(client.smembers(keys.outbox_inflight(m)) for m in modems))
            pipe = client.pipeline(transaction=False)
            for sid in flying:
                pipe.hmget(keys.sms(str(sid)), "state", "updated_ms")
            return any(
                state == SmsState.SUBMITTING.value and int(updated or 0) >= since_ms
                for state, updated in pipe.execute()
            )

        for kill in range(args.kills):
            top_up(4 * args.modems)
            since_ms = int(time.time() * 1000)
            service = children.start(service_argv, env, home / "modem.log")
            time.sleep(rng.uniform(0, args.run_seconds))  # then the next part being submitted
            deadline = time.monotonic() + 120
            while not submitting(since_ms):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"kill {kill + 1}: no part caught while being submitted")
                time.sleep(0.005)
            os.kill(service.pid, signal.SIGKILL)
            service.wait()
            elapsed = time.monotonic() - started
            print(f"{mode}: kill {kill + 1}/{args.kills} at {elapsed:.0f} s", flush=True)
        result.messages = len(ids)
        children.start(service_argv, env, home / "modem.log")
        settle_from = time.monotonic()
        deadline = settle_from + args.settle_timeout
        while any((s := outbox.get(sid)) is None or s.state in UNSETTLED for sid in ids):
            if time.monotonic() > deadline:
                raise RuntimeError("not every SMS was sent after the last restart")
            time.sleep(0.5)
        result.settle_seconds = time.monotonic() - settle_from
        result.seconds = time.monotonic() - started
        children.stop_all()

        for sid in ids:
            log = outbox.attempts(sid)
            result.parts_in_doubt += len({e["part"] for e in log if e["event"] == "fate_unknown"})
            for entry in log:
                if entry["event"] == "submitted" and entry.get("how", "+CMGS") != "+CMGS":
                    result.settled[str(entry["how"])] += 1
                if entry["event"] == "submitting" and entry.get("resend"):
                    result.settled["resend"] += 1
        parts = read_ledger(sim / "ledger.jsonl", kind="part")
        on_air = Counter((p.to, p.part, p.concat_ref) for p in parts)
        result.duplicate_parts = sum(n - 1 for n in on_air.values() if n > 1)
        result.sms_twice = len({to for (to, _, _), n in on_air.items() if n > 1})
        result.lost = len(set(texts) - {p.to for p in parts})
        return result
    finally:
        children.stop_all()
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--modems", type=int, default=4)
    parser.add_argument("--latency", type=float, default=3.0, help="seconds per SMS part")
    parser.add_argument("--report-wait", type=int, default=10, help="[pool] report_wait_seconds")
    parser.add_argument("--modes", default="on,off", help="status reports on, off, or both")
    parser.add_argument(
        "--run-seconds",
        type=float,
        default=0.0,
        help="after each start the service runs up to this long (uniform) before the kill",
    )
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--settle-timeout", type=float, default=600.0)
    parser.add_argument("--keep", type=Path, help="run in this directory and keep the logs")
    args = parser.parse_args()
    home = args.keep or Path(tempfile.mkdtemp(prefix="hoso-kills-"))
    results = []
    try:
        for mode in args.modes.split(","):
            results.append(run(mode, home / mode, args))
    finally:
        if args.keep is None:
            shutil.rmtree(home, ignore_errors=True)
    print()
    print(
        f"{args.modems} modems, {args.latency} s per part, report wait {args.report_wait} s, "
        f"kill -9 of `hoso modem` while a part is being submitted, after running up to "
        f"{args.run_seconds} s"
    )
    print()
    print(
        "| status reports | kills | SMS | parts in doubt | settled by | parts on the air twice "
        "| SMS twice | lost | time |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(r.line())
    bad = [r for r in results if r.lost or (r.mode == "on" and r.duplicate_parts)]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
