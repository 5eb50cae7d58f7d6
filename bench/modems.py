#!/usr/bin/env python3
"""Benchmark: the modem pool — a real `hoso modem` process driving emulated modems.

For each pool size and AT+CMGS latency: starts a redis-server with the shipped config (AOF,
appendfsync always), the GSM modem emulator (`python -m modem.emulator start`) and the modem
service (`python -m hoso.cli modem --sim-dir DIR`) as separate processes, raises every modem's
send caps, pre-fills the outbox with single-part GSM-7 SMS to distinct numbers, and measures over
a steady-state window:

- messages per minute, from the emulator's ledger (kind "message" records, followed every 20 ms
  and stamped here: the ledger's own times have whole seconds only): per modem, whole send cycles
  from its first SMS in the window to its first SMS after it, summed over the modems;
- CPU seconds of the modem service per 1,000 messages (/proc/<pid>/stat utime + stime over the
  window, divided by the messages that went out in it);
- the modem service's max RSS (/proc/<pid>/status VmHWM);
- CPU use of the emulator and of Redis over the same window, to see what limits the figure.

Targets: >= 99 % of the ceiling (modems x 60 / latency) at 3 s with 16 modems; >= 600 SMS per
minute per modem at 0 s, scaling linearly to 16 modems.

    .venv/bin/python bench/modems.py [--pools 1,4,16] [--latencies 3,0] [--quick] [--keep]
                                     [--fsync always|everysec|no]   (not 'always': diagnosis only)
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
import threading
import time
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from pathlib import Path
from types import FrameType
from typing import IO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.core.messages import Priority
from gateway.store.modems import ModemRegistry
from gateway.store.outbox import Outbox
from hoso.redis_server import SHIPPED_CONF, RedisServer

TEXT = "Ho so 000.00.20.H57-240423-0001 da duoc tiep nhan"  # one GSM-7 part
TARGET_CEILING_SHARE = 0.99  # at 3 s, 16 modems
TARGET_PER_MODEM = 600.0  # SMS per minute per modem at 0 s
MATURE_CEILING = (0.58, 0.90)  # mature modem daemons at 3 s, share of the ceiling
MATURE_PER_MODEM = (26.0, 164.0)  # mature modem daemons at 0 s, SMS/min/modem
GUESS_PER_SECOND_0S = 150.0  # pre-fill for at most this many SMS/s per modem at 0 s...
GUESS_POOL_PER_SECOND_0S = 450.0  # ...and this many for the whole pool (2 cores)
CLK_TCK = os.sysconf("SC_CLK_TCK")
ROW = "{:>5} {:>7} {:>9} {:>10} {:>8} {:>14} {:>10} {:>8} {:>8} {:>8} {:>9}"


@dataclass
class Run:
    modems: int
    latency: float
    window_s: float = 0.0
    messages_in_window: int = 0
    per_minute: float = 0.0  # sum over modems of each one's steady rate
    per_minute_by_count: float = 0.0  # messages in the window / window length (cross-check)
    longest_gap_s: float = 0.0  # the longest time between two SMS of one modem in the window
    per_modem_per_minute: float = 0.0
    ceiling_per_minute: float | None = None
    share_of_ceiling: float | None = None
    vs_600_per_modem: float | None = None
    service_cpu_s_per_1000: float = 0.0
    service_cpu_share: float = 0.0  # of one core, over the window
    emulator_cpu_share: float = 0.0
    redis_cpu_share: float = 0.0
    bench_cpu_share: float = 0.0  # this script, following the ledger
    service_max_rss_mb: float = 0.0
    service_threads: int = 0
    service_stop_s: float = 0.0  # from SIGTERM to exit
    queued: int = 0
    left_in_queue: int = 0
    modems_sending: int = 0
    slowest_modem_per_minute: float = 0.0
    fastest_modem_per_minute: float = 0.0
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    notes: list[str] = field(default_factory=list)


# -- /proc ------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (its threads included), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def status_field(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


# -- processes --------------------------------------------------------------------------------


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


# -- the ledger -------------------------------------------------------------------------------


class LedgerTail(threading.Thread):
    """Follows the emulator's ledger and stamps each whole message with the time it appeared.

    The ledger's own "time" is the emulated modem's clock, which has whole seconds only (as a
    real modem's); reading the file every 20 ms times each message to about 20 ms instead.
    """

    POLL = 0.02

    def __init__(self, path: Path) -> None:
        super().__init__(name="ledger-tail", daemon=True)
        self.path = path
        self.times: dict[str, list[float]] = {}
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
                    self._take(lines, now)
                elif self.stopping.is_set():
                    return
                else:
                    time.sleep(self.POLL)

    def _take(self, lines: list[str], now: float) -> None:
        with self.lock:
            for line in lines:
                if '"kind": "message"' in line:
                    record = json.loads(line)
                    self.times.setdefault(record["modem"], []).append(now)

    def snapshot(self) -> dict[str, list[float]]:
        with self.lock:
            return {m: list(t) for m, t in self.times.items()}

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)


def wait_until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.2)
    raise RuntimeError(f"timed out ({timeout:.0f} s) waiting for {what}")


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# -- one run ----------------------------------------------------------------------------------


def redis_conf(home: Path, fsync: str) -> Path:
    """The shipped config, or (for a diagnosis of what limits the rate) a copy with another
    appendfsync policy."""
    if fsync == "always":
        return SHIPPED_CONF
    text = SHIPPED_CONF.read_text(encoding="utf-8").replace(
        "appendfsync always", f"appendfsync {fsync}"
    )
    conf = home / f"redis-{fsync}.conf"
    conf.write_text(text, encoding="utf-8")
    return conf


def one_run(
    home: Path,
    procs: Processes,
    modems: int,
    latency: float,
    window: float,
    warmup: float,
    conf: Path,
) -> Run:
    run = Run(modems=modems, latency=latency, load_before=os.getloadavg())
    tag = f"n{modems}-l{latency:g}"
    work = home / tag
    work.mkdir()
    server = RedisServer(work / "redis", conf=conf)
    try:
        server.start()
        return _measure(run, work, procs, server, window, warmup)
    finally:
        server.stop()


def _measure(
    run: Run, work: Path, procs: Processes, server: RedisServer, window: float, warmup: float
) -> Run:
    modems, latency = run.modems, run.latency
    admin = server.client()
    ids = [f"m{i + 1}" for i in range(modems)]
    registry = ModemRegistry(admin)
    for modem in ids:
        registry.change(modem, per_minute=10**6, per_hour=10**7, per_day=10**8)

    # Enough SMS to keep every modem busy until the window ends, whatever the warm-up takes.
    span = warmup + window + 20.0
    if latency > 0:
        queued = modems * (int(span / latency) + 5)
    else:
        queued = int(min(modems * GUESS_PER_SECOND_0S, GUESS_POOL_PER_SECOND_0S) * span)
    outbox = Outbox(admin)
    now_ms = int(time.time() * 1000)
    for n in range(queued):
        outbox.enqueue(f"+849{n:08d}", TEXT, Priority.NOTIFICATION, now_ms)
    run.queued = queued

    config = work / "empty.toml"
    config.write_text("", encoding="utf-8")
    env = dict(os.environ) | {"HOSO_REDIS_URL": server.url, "HOSO_CONFIG": str(config)}
    sim = work / "sim"
    emulator = procs.start(
        [
            sys.executable,
            "-m",
            "modem.emulator",
            "start",
            "--modems",
            str(modems),
            "--dir",
            str(sim),
            "--latency",
            str(latency),
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
    service = procs.start(
        [sys.executable, "-m", "hoso.cli", "modem", "--sim-dir", str(sim)],
        env,
        work / "service.log",
    )
    assert server.process is not None
    pids = {
        "service": service.pid,
        "emulator": emulator.pid,
        "redis": server.process.pid,
        "bench": os.getpid(),  # this script: following the ledger
    }

    def all_sending() -> bool:
        if service.poll() is not None:
            raise RuntimeError(f"the modem service exited:\n{tail(work / 'service.log')}")
        return len(ledger.snapshot()) == modems

    try:
        wait_until(all_sending, 60 + 2 * latency, "a first SMS from every modem")
        time.sleep(warmup)
        cpu0 = {k: cpu_seconds(pid) for k, pid in pids.items()}
        t0 = time.time()
        time.sleep(window)
        cpu1 = {k: cpu_seconds(pid) for k, pid in pids.items()}
        t1 = time.time()
        run.service_max_rss_mb = status_field(service.pid, "VmHWM") / 1024
        run.service_threads = status_field(service.pid, "Threads")
        run.left_in_queue = outbox.depth()

        def all_past_window() -> bool:
            times = ledger.snapshot()
            return all(times.get(m) and max(times[m]) >= t1 for m in ids)

        try:  # each modem's span ends at its first completion after the window
            wait_until(all_past_window, 2 * latency + 10, "a completion after the window")
        except RuntimeError as exc:
            run.notes.append(str(exc))
    finally:
        stopping = time.monotonic()
        procs.stop(service)
        run.service_stop_s = time.monotonic() - stopping
        procs.stop(emulator)
        ledger.stop()

    run.window_s = t1 - t0
    times = ledger.snapshot()
    rates = []
    count = 0
    for modem in ids:
        mine = sorted(times.get(modem, []))
        count += sum(1 for t in mine if t0 <= t < t1)
        # From a completion to a completion: whole send cycles, pauses inside them included.
        start = next((t for t in mine if t >= t0), None)
        end = next((t for t in mine if t >= t1), mine[-1] if mine else None)
        if start is None or end is None or end <= start:
            rates.append(0.0)
            continue
        cycles = [t for t in mine if start <= t <= end]
        rates.append((len(cycles) - 1) / (end - start) * 60)
        gaps = [b - a for a, b in pairwise(cycles)]
        run.longest_gap_s = max([run.longest_gap_s, *gaps])
    run.messages_in_window = count
    run.modems_sending = sum(1 for r in rates if r > 0)
    run.per_minute = sum(rates)
    run.per_minute_by_count = count / run.window_s * 60
    run.per_modem_per_minute = run.per_minute / modems
    run.slowest_modem_per_minute = min(rates)
    run.fastest_modem_per_minute = max(rates)
    if latency > 0:
        run.ceiling_per_minute = modems * 60 / latency
        run.share_of_ceiling = run.per_minute / run.ceiling_per_minute
    else:
        run.vs_600_per_modem = run.per_modem_per_minute / TARGET_PER_MODEM
    used = {k: cpu1[k] - cpu0[k] for k in pids}
    run.service_cpu_s_per_1000 = used["service"] / max(count, 1) * 1000
    run.service_cpu_share = used["service"] / run.window_s
    run.emulator_cpu_share = used["emulator"] / run.window_s
    run.redis_cpu_share = used["redis"] / run.window_s
    run.bench_cpu_share = used["bench"] / run.window_s
    run.load_after = os.getloadavg()
    if run.left_in_queue == 0:
        run.notes.append("the queue ran dry: the rate is a lower bound")
    if run.modems_sending < modems:
        run.notes.append(f"only {run.modems_sending} of {modems} modems sent in the window")
    quantum = modems * 60 / run.window_s  # one SMS per modem more or less in the window
    if abs(run.per_minute_by_count - run.per_minute) > 0.05 * run.per_minute + quantum:
        run.notes.append(
            f"count-based rate {run.per_minute_by_count:.1f}/min differs from the steady rate"
        )
    return run


# -- report -----------------------------------------------------------------------------------


def print_row(r: Run) -> None:
    if r.share_of_ceiling is not None:
        against = f"{r.share_of_ceiling:.1%} ceil"
    else:
        against = f"{r.vs_600_per_modem:.2f}x 600"
    print(
        ROW.format(
            r.modems,
            f"{r.latency:g} s",
            f"{r.per_minute:.1f}",
            f"{r.per_modem_per_minute:.1f}",
            f"{r.ceiling_per_minute:.0f}" if r.ceiling_per_minute else "-",
            against,
            f"{r.service_cpu_s_per_1000:.1f}",
            f"{r.service_max_rss_mb:.1f}",
            f"{r.service_cpu_share:.0%}",
            f"{r.emulator_cpu_share:.0%}",
            f"{r.redis_cpu_share:.0%}",
        ),
        flush=True,
    )
    for note in r.notes:
        print(f"      note: {note}", flush=True)


def print_ratios(results: list[Run]) -> None:
    print()
    print("against the targets:")
    at3 = [r for r in results if r.latency == 3 and r.share_of_ceiling is not None]
    for r in at3:
        share = r.share_of_ceiling or 0.0
        verdict = "met" if share >= TARGET_CEILING_SHARE else "NOT met"
        lo, hi = MATURE_CEILING
        print(
            f"  3 s, {r.modems:>2} modems: {share:.1%} of the ceiling "
            f"({r.per_minute:.1f} of {r.ceiling_per_minute:.0f}/min) = "
            f"{share / TARGET_CEILING_SHARE:.3f}x the 99 % target"
            f"{' (' + verdict + ')' if r.modems == 16 else ''}; "
            f"mature daemons {lo:.0%}-{hi:.0%}"
        )
    at0 = sorted((r for r in results if r.latency == 0), key=lambda r: r.modems)
    for r in at0:
        lo, hi = MATURE_PER_MODEM
        print(
            f"  0 s, {r.modems:>2} modems: {r.per_modem_per_minute:.1f} SMS/min/modem = "
            f"{r.per_modem_per_minute / TARGET_PER_MODEM:.2f}x the 600/min/modem target "
            f"({r.per_minute:.0f}/min for the pool); mature daemons {lo:.0f}-{hi:.0f}"
        )
    if len(at0) >= 2 and at0[0].per_modem_per_minute > 0:
        base = at0[0]
        for r in at0[1:]:
            scale = r.per_minute / (base.per_minute * r.modems / base.modems)
            print(
                f"  0 s scaling {base.modems} -> {r.modems} modems: {scale:.0%} of linear "
                f"({r.per_minute / base.per_minute:.2f}x the rate for "
                f"{r.modems / base.modems:.0f}x the modems)"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", default="1,4,16", help="modems per pool, comma-separated")
    parser.add_argument("--latencies", default="3,0", help="seconds per AT+CMGS part")
    parser.add_argument("--window-3s", type=float, default=75.0, help="window at latency > 0")
    parser.add_argument("--window-0s", type=float, default=20.0, help="window at latency 0")
    parser.add_argument("--quick", action="store_true", help="shorter windows (30 s and 8 s)")
    parser.add_argument(
        "--fsync",
        choices=["always", "everysec", "no"],
        default="always",
        help="Redis appendfsync: 'always' is the shipped config; others only to diagnose",
    )
    parser.add_argument("--keep", action="store_true", help="keep logs and ledgers")
    args = parser.parse_args()
    pools = [int(p) for p in args.pools.split(",")]
    latencies = [float(x) for x in args.latencies.split(",")]
    slow_window, fast_window = (30.0, 8.0) if args.quick else (args.window_3s, args.window_0s)

    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)  # also when started with SIGINT ignored (&)
    home = Path(tempfile.mkdtemp(prefix="hoso-bench-modems-"))
    if args.keep:
        print(f"keeping {home}")
    procs = Processes()
    results: list[Run] = []
    try:
        print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()} at the start")
        conf = redis_conf(home, args.fsync)
        shipped = " (the shipped config)" if args.fsync == "always" else " (NOT the shipped config)"
        print(f"redis: AOF, appendfsync {args.fsync}{shipped}; one fresh server per run")
        print(
            "emulator and modem service: separate processes on the same cores; "
            "status reports on (1 s)"
        )
        print(f"windows: {slow_window:.0f} s at latency > 0, {fast_window:.0f} s at 0 s")
        print()
        print(
            ROW.format(
                "pool",
                "latency",
                "msgs/min",
                "/modem/min",
                "ceiling",
                "vs target",
                "cpu s/1k",
                "RSS MB",
                "svc cpu",
                "emu cpu",
                "redis cpu",
            )
        )
        for latency in latencies:
            for modems in pools:
                window = slow_window if latency > 0 else fast_window
                warmup = 2 * latency + 3.0
                run = one_run(home, procs, modems, latency, window, warmup, conf)
                results.append(run)
                print_row(run)
        print_ratios(results)
        print(f"load average at the end: {os.getloadavg()}")
        print(
            json.dumps(
                {
                    "cores": os.cpu_count(),
                    "appendfsync": args.fsync,
                    "results": [asdict(r) for r in results],
                }
            )
        )
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
