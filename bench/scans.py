#!/usr/bin/env python3
"""Benchmark: scans and receipts — decoding camera frames, scan -> recorded, the station spool.

1. decode: zxing-cpp time per camera frame at 640x480, 1280x720 and 1920x1080. Each frame is a
   real receipt (`render_receipt`, 58 mm and 80 mm paper) lying on a desk in the frame, seen at
   a slant, slightly rotated, blurred, noisy and JPEG'd (seeded), as BGR (what a camera driver
   hands over). Decoded with our `decode_frame` (Code128 + QR Model 2 only, with its
   FixedThreshold retry) and, on the same frames, with zxing-cpp on all formats (its defaults)
   for comparison; median, p95, frames/s, the decode success rate, and frames/s with a thread
   pool of 2 (zxing-cpp releases the GIL).
2. latency: a redis-server (shipped config: AOF, appendfsync always) and a real `hoso gateway`
   on 127.0.0.1, a station key and `hoso stations set`, registered dossiers, and a real
   `hoso scanner` reading codes on stdin. Each short code written to its stdin (Poisson arrivals
   at a modest rate) is timed (a) until the station prints `OK <seq>` (spool commit: the beep)
   and (b) until the scan is in the dossier's history in Redis (`LINDEX <history> -1` polled
   every 1 ms; the entry's event id is `scan:<station>:<seq>`); the handoff record is read back
   through the API with a department key at the end as a cross-check.
3. spool: `Spool.add` commits per second on this disk (WAL, synchronous=FULL), single-threaded,
   which also builds a backlog of pending scans; then `Uploader.step()` drains that backlog into
   the real gateway (scans/s: how long an office's offline hour takes to replay).

    .venv/bin/python bench/scans.py [--parts decode,latency,spool] [--repeat 3] [--dossiers 6]
                                    [--scans 120] [--rate 3] [--backlog 2000] [--keep]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import numpy as np
import redis
import requests
import zxingcpp
from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.core.codes import fold, short_code
from gateway.core.dossier import Dossier, open_dossier, parse_registration
from gateway.core.signing import signed_headers
from gateway.core.times import parse_time
from gateway.receipts import decode_frame, render_receipt
from gateway.receipts.decode import validate
from gateway.store import keys
from gateway.store.dossiers import DossierStore
from hoso.redis_server import RedisServer
from scanner.spool import ScanState, Spool
from scanner.uploader import HttpReply, Uploader, UrllibTransport

RESOLUTIONS = ((640, 480), (1280, 720), (1920, 1080))
PAPERS = (58, 80)
ISSUED = datetime(2024, 4, 23, 1, 30, tzinfo=UTC)
DEPARTMENT = "bench"
DESK = "Phòng Tư pháp"
CLK_TCK = os.sysconf("SC_CLK_TCK")
WARMUP_SCANS = 5


# -- helpers ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank on the sorted values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, round(q / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def load() -> tuple[float, float, float]:
    one, five, fifteen = os.getloadavg()
    return (round(one, 2), round(five, 2), round(fifteen, 2))


def tree_cpu_seconds(root: int) -> float:
    """utime + stime of a process and all its descendants alive now (gunicorn and its workers)."""
    parents: dict[int, int] = {}
    stats: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        stats[pid] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += stats.get(pid, 0.0)
        todo.extend(child for child, parent in parents.items() if parent == pid)
    return total


def dossier_body(n: int) -> dict[str, Any]:
    return {
        "code": f"000.00.20.H57-240423-{n:04d}",
        "procedure_code": "1.001776",
        "procedure_name": "Cấp bản sao trích lục hộ tịch",
        "phones": ["0901234567"],
        "received_at": "2024-04-23T08:30:00+07:00",
        "due_at": "2024-04-26T17:00:00+07:00",
        "applicant_name": "Nguyễn Văn An",
    }


# -- 1. decoding camera frames ------------------------------------------------------------------


@dataclass
class Frame:
    paper: int
    code: str
    short: str
    pixels: np.ndarray  # BGR uint8 (H, W, 3)


def camera_frame(
    receipt: Image.Image, size: tuple[int, int], rng: np.random.Generator
) -> np.ndarray:
    """A receipt as a counter camera sees it: whole, 80-95 % of the frame height, on a desk,
    rotated a few degrees, seen at a slant, blurred, noisy, JPEG'd; BGR."""
    fw, fh = size
    desk = int(rng.integers(60, 120))
    grey = receipt.convert("L")
    height = round(fh * rng.uniform(0.80, 0.95))
    small = grey.resize(
        (round(grey.width * height / grey.height), height), Image.Resampling.LANCZOS
    )
    small = small.rotate(
        float(rng.uniform(-6, 6)), Image.Resampling.BILINEAR, expand=True, fillcolor=desk
    )
    canvas = Image.new("L", size, desk)
    x = int(rng.integers(0, max(1, fw - small.width)))
    y = max(0, (fh - small.height) // 2 + int(rng.integers(-fh // 40, fh // 40 + 1)))
    canvas.paste(small, (x, y))
    d = float(rng.uniform(0.04, 0.14)) * fw / 2
    quad = (-d, 0.0, 0.0, float(fh), float(fw), float(fh), fw + d, 0.0)
    if rng.random() < 0.5:  # tilted the other way: the near edge is the top
        quad = (0.0, 0.0, -d, float(fh), fw + d, float(fh), float(fw), 0.0)
    slanted = canvas.transform(
        size, Image.Transform.QUAD, quad, Image.Resampling.BILINEAR, fillcolor=desk
    ).filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 1.0))))
    a = np.asarray(slanted, dtype=np.float64)
    light = np.linspace(rng.uniform(0.85, 1.0), rng.uniform(0.85, 1.0), fw)[None, :]  # uneven
    a = np.clip(a * light + rng.normal(0, rng.uniform(3, 8), (fh, fw)), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(a, "L").save(out, format="JPEG", quality=int(rng.integers(75, 92)))
    decoded = np.asarray(Image.open(io.BytesIO(out.getvalue())).convert("L"))
    return np.ascontiguousarray(np.dstack([decoded] * 3))


def make_frames(count: int, size: tuple[int, int]) -> list[Frame]:
    frames = []
    for n in range(1, count + 1):
        d = open_dossier(parse_registration(dossier_body(n)), "h57", short_code(n * 7919), "AB23")
        for paper in PAPERS:
            receipt = render_receipt(
                d,
                width_mm=paper,
                tracking_url=f"https://tracuu.example.vn/hs/{d.short_code}",
                office="UBND phường Bến Nghé",
                sms_number="8077",
                printed_at=ISSUED,
            ).image()
            rng = np.random.default_rng([n, paper, size[0]])
            frames.append(Frame(paper, d.code, d.short_code, camera_frame(receipt, size, rng)))
    return frames


def ours(frame: Frame) -> tuple[bool, bool]:
    found = {(x.kind, x.text) for x in decode_frame(frame.pixels)}
    return ("full", frame.code) in found, ("short", fold(frame.short)) in found


def all_formats(frame: Frame) -> tuple[bool, bool]:
    found = set()
    for r in zxingcpp.read_barcodes(frame.pixels):  # every format, zxing-cpp's defaults
        checked = validate(r.text, r.format.name) if r.valid else None
        if checked is not None:
            found.add(checked)
    return ("full", frame.code) in found, ("short", fold(frame.short)) in found


@dataclass
class DecodeRow:
    resolution: str
    decoder: str
    frames: int
    decodes: int
    median_ms: float
    p95_ms: float
    frames_per_s: float
    both_rate: float  # frames where the QR and the Code128 were both read
    qr_rate: float
    code128_rate: float
    by_paper: dict[str, float] = field(default_factory=dict)  # both-codes rate per paper
    pool2_frames_per_s: float = 0.0
    pool2_scaling: float = 0.0


def time_decoder(
    name: str,
    resolution: str,
    frames: list[Frame],
    decoder: Callable[[Frame], tuple[bool, bool]],
    repeat: int,
) -> DecodeRow:
    decoder(frames[0])  # warm up (first call allocates)
    samples: list[float] = []
    results: list[tuple[bool, bool]] = []
    started = time.perf_counter()
    for _ in range(repeat):
        for frame in frames:
            t0 = time.perf_counter()
            ok = decoder(frame)
            samples.append(time.perf_counter() - t0)
            results.append(ok)
    wall = time.perf_counter() - started
    first = results[: len(frames)]
    both = [q and c for q, c in first]
    by_paper = {
        f"{paper}mm": sum(b for b, f in zip(both, frames, strict=True) if f.paper == paper)
        / sum(1 for f in frames if f.paper == paper)
        for paper in PAPERS
    }
    row = DecodeRow(
        resolution=resolution,
        decoder=name,
        frames=len(frames),
        decodes=len(samples),
        median_ms=statistics.median(samples) * 1000,
        p95_ms=pct(samples, 95) * 1000,
        frames_per_s=len(samples) / wall,
        both_rate=sum(both) / len(first),
        qr_rate=sum(q for q, _ in first) / len(first),
        code128_rate=sum(c for _, c in first) / len(first),
        by_paper=by_paper,
    )
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(decoder, frames[:2]))
        work = frames * repeat
        started = time.perf_counter()
        list(pool.map(decoder, work))
        row.pool2_frames_per_s = len(work) / (time.perf_counter() - started)
    row.pool2_scaling = row.pool2_frames_per_s / row.frames_per_s
    return row


def bench_decode(args: argparse.Namespace) -> dict[str, Any]:
    print("== 1. decoding camera frames (zxing-cpp, in this process) ==")
    rows: list[DecodeRow] = []
    before = load()
    row_fmt = "{:>10} {:<12} {:>6} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7} {:>9} {:>8}"
    print(
        row_fmt.format(
            "frame",
            "decoder",
            "frames",
            "p50 ms",
            "p95 ms",
            "frames/s",
            "both ok",
            "QR ok",
            "C128 ok",
            "pool2 f/s",
            "scaling",
        )
    )
    for size in RESOLUTIONS:
        resolution = f"{size[0]}x{size[1]}"
        frames = make_frames(args.dossiers, size)
        if args.save_frames:
            folder = Path(args.save_frames)
            folder.mkdir(parents=True, exist_ok=True)
            for i, f in enumerate(frames[:4]):
                Image.fromarray(f.pixels[:, :, 0], "L").save(folder / f"{resolution}-{i}.png")
        for name, decoder in (("decode_frame", ours), ("all formats", all_formats)):
            row = time_decoder(name, resolution, frames, decoder, args.repeat)
            rows.append(row)
            print(
                row_fmt.format(
                    resolution,
                    name,
                    row.frames,
                    f"{row.median_ms:.1f}",
                    f"{row.p95_ms:.1f}",
                    f"{row.frames_per_s:.1f}",
                    f"{row.both_rate:.0%}",
                    f"{row.qr_rate:.0%}",
                    f"{row.code128_rate:.0%}",
                    f"{row.pool2_frames_per_s:.1f}",
                    f"{row.pool2_scaling:.2f}x",
                )
            )
    print()
    for size in RESOLUTIONS:
        resolution = f"{size[0]}x{size[1]}"
        a, b = (r for r in rows if r.resolution == resolution)
        print(
            f"{resolution}: decode_frame / all formats: median {a.median_ms / b.median_ms:.2f}x,"
            f" p95 {a.p95_ms / b.p95_ms:.2f}x; both codes per paper {a.by_paper}"
        )
    after = load()
    print(f"load average before/after: {before} / {after}\n")
    return {"rows": [asdict(r) for r in rows], "load_before": before, "load_after": after}


# -- the gateway --------------------------------------------------------------------------------


class System:
    """A redis-server and a `hoso gateway` on 127.0.0.1, stopped whatever happens."""

    def __init__(self, home: Path, workers: int) -> None:
        self.home = home
        self.server = RedisServer(home / "redis").start()
        self.admin = self.server.client()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        (home / "empty.toml").write_text("", encoding="utf-8")
        self.env = dict(os.environ) | {
            "HOSO_REDIS_URL": self.server.url,
            "HOSO_SECURITY_MASTER_KEY_FILE": str(home / "master.key"),
            "HOSO_GATEWAY_RATE_PER_MINUTE": str(10**9),
            "HOSO_CONFIG": str(home / "empty.toml"),
        }
        self.children: list[tuple[subprocess.Popen[Any], IO[bytes] | None]] = []
        command = [sys.executable, "-m", "hoso.cli", "gateway", "--bind", f"127.0.0.1:{self.port}"]
        if workers:
            command += ["--workers", str(workers)]
        self.gateway = self.spawn(command, home / "gateway.log")
        deadline = time.monotonic() + 60
        while True:
            if self.gateway.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.gateway.returncode}")
            try:
                if requests.get(self.base + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gateway did not come up")
            time.sleep(0.1)

    def spawn(self, command: list[str], log: Path) -> subprocess.Popen[bytes]:
        out = log.open("wb")
        proc = subprocess.Popen(
            command, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )
        self.children.append((proc, out))
        return proc

    def track(self, proc: subprocess.Popen[Any]) -> None:
        self.children.append((proc, None))

    def hoso(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "hoso.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"hoso {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def key(self, *owner: str) -> dict[str, str]:
        return dict(json.loads(self.hoso("keys", "create", *owner, "--json")))

    def station(self, station_id: str) -> dict[str, str]:
        key = self.key("--station", station_id)
        self.hoso("stations", "set", station_id, "--desk", DESK, "--status", "4")
        return key

    def register(self, first: int, count: int) -> list[Dossier]:
        store = DossierStore(self.admin)
        return [
            store.register(
                parse_registration(dossier_body(n)), DEPARTMENT, datetime.now(UTC)
            ).dossier
            for n in range(first, first + count)
        ]

    def stop(self) -> None:
        for proc, out in reversed(self.children):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if out is not None:
                out.close()
        self.children.clear()
        self.server.stop()


def signed_get(system: System, key: dict[str, str], target: str) -> Any:
    headers = signed_headers(key["key_id"], key["secret"], "GET", target, b"", int(time.time()))
    answer = requests.get(system.base + target, headers=headers, timeout=10)
    answer.raise_for_status()
    return answer.json()


# -- 2. scan -> recorded ------------------------------------------------------------------------


def bench_latency(args: argparse.Namespace, system: System) -> dict[str, Any]:
    print("== 2. scan -> recorded: a real `hoso scanner` (stdin) and a real gateway ==")
    department = system.key("--department", DEPARTMENT)
    key = system.station("bench-1")
    total = WARMUP_SCANS + args.scans
    dossiers = system.register(1, total)
    env = system.env | {
        "HOSO_STATION_ID": "bench-1",
        "HOSO_STATION_KEY_ID": key["key_id"],
        "HOSO_STATION_SECRET": key["secret"],
        "HOSO_STATION_GATEWAY_URL": system.base,
        "HOSO_STATION_SOURCE": "stdin",
        "HOSO_STATION_SPOOL_PATH": str(system.home / "station-1.sqlite3"),
        "HOSO_STATION_BELL": "false",
        "HOSO_STATION_STAFF": "Minh",
    }
    err = (system.home / "scanner.log").open("wb")
    station = subprocess.Popen(
        [sys.executable, "-m", "hoso.cli", "scanner"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=err,
        text=True,
        bufsize=1,
    )
    system.track(station)
    assert station.stdin is not None
    assert station.stdout is not None
    stdout = station.stdout
    banner = stdout.readline()
    if not banner.startswith("SAN_SANG"):
        raise RuntimeError(f"scanner: {banner!r}")

    written: dict[int, float] = {}  # seq -> perf_counter when written
    written_wall: dict[int, float] = {}  # seq -> time.time() when written
    beeped: dict[int, float] = {}
    seen: dict[int, float] = {}
    recorded_at: dict[int, float] = {}
    other_lines: list[str] = []
    lock = threading.Lock()
    done = threading.Event()

    def read_feedback() -> None:
        for line in stdout:
            now = time.perf_counter()
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "OK" and parts[1].isdigit():
                with lock:
                    beeped[int(parts[1])] = now
            else:
                other_lines.append(line.rstrip())

    def watch_redis() -> None:
        client = redis.Redis.from_url(system.server.url, decode_responses=True)
        while not done.is_set():
            with lock:
                waiting = [s for s in written if s not in seen]
            if waiting:
                pipe = client.pipeline(transaction=False)
                for s in waiting:
                    pipe.lindex(keys.history(dossiers[s - 1].code), -1)
                entries = pipe.execute()
                now = time.perf_counter()
                for s, raw in zip(waiting, entries, strict=True):
                    if raw is None:
                        continue
                    entry = json.loads(raw)
                    if entry.get("event_id") == f"scan:bench-1:{s}":
                        seen[s] = now
                        recorded_at[s] = parse_time("recorded_at", entry["recorded_at"]).timestamp()
            time.sleep(0.001)

    readers = [
        threading.Thread(target=read_feedback, daemon=True),
        threading.Thread(target=watch_redis, daemon=True),
    ]
    for t in readers:
        t.start()
    rng = np.random.default_rng(11)
    before = load()
    cpu_gateway = tree_cpu_seconds(system.gateway.pid)
    cpu_station = tree_cpu_seconds(station.pid)
    started = time.perf_counter()
    next_at = started
    for i, d in enumerate(dossiers):
        seq = i + 1
        if seq == WARMUP_SCANS + 1:
            time.sleep(1.0)
            next_at = time.perf_counter()
            started = next_at
        delay = next_at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        with lock:
            written[seq] = time.perf_counter()
            written_wall[seq] = time.time()
        station.stdin.write(d.short_code.lower() + "\n")  # as a 1D scanner reads the Code128
        station.stdin.flush()
        if seq > WARMUP_SCANS:
            next_at += float(rng.exponential(1.0 / args.rate))
    deadline = time.monotonic() + 30
    while (len(seen) < total or len(beeped) < total) and time.monotonic() < deadline:
        time.sleep(0.05)
    window = time.perf_counter() - started
    cpu_gateway = tree_cpu_seconds(system.gateway.pid) - cpu_gateway
    cpu_station = tree_cpu_seconds(station.pid) - cpu_station
    after = load()
    done.set()
    station.stdin.close()
    try:
        station.wait(15)
    except subprocess.TimeoutExpired:
        station.terminate()
        station.wait(15)
    err.close()
    for t in readers:
        t.join(5)

    measured = range(WARMUP_SCANS + 1, total + 1)
    beep = [(beeped[s] - written[s]) * 1000 for s in measured if s in beeped]
    visible = [(seen[s] - written[s]) * 1000 for s in measured if s in seen]
    stamped = [(recorded_at[s] - written_wall[s]) * 1000 for s in measured if s in recorded_at]
    # the handoff record through the API, as a department reads it (a cross-check)
    checked = 0
    for d in dossiers[-3:]:
        record = signed_get(system, department, f"/api/v1/dossiers/{d.code}/handoffs")
        rows = record["handoffs"]
        checked += bool(rows) and rows[-1]["to_desk"] == DESK and rows[-1]["received_by"] == "Minh"

    def summary(values: list[float]) -> dict[str, float]:
        return {
            "n": len(values),
            "p50_ms": round(pct(values, 50), 2),
            "p95_ms": round(pct(values, 95), 2),
            "p99_ms": round(pct(values, 99), 2),
            "max_ms": round(max(values), 2) if values else float("nan"),
        }

    result = {
        "scans": args.scans,
        "rate_per_s": args.rate,
        "achieved_rate_per_s": round(args.scans / window, 2),
        "beep": summary(beep),
        "visible_in_redis": summary(visible),
        "gateway_recorded_at": summary(stamped),
        "missing_beeps": total - len(beeped),
        "missing_records": total - len(seen),
        "handoff_api_checked": f"{checked}/3",
        "other_lines": other_lines[:10],
        "gateway_cpu_share": round(cpu_gateway / window, 3),
        "station_cpu_share": round(cpu_station / window, 3),
        "load_before": before,
        "load_after": after,
    }
    row_fmt = "{:<44} {:>5} {:>8} {:>8} {:>8} {:>8}"
    print(f"{args.scans} scans at {args.rate}/s (Poisson), after {WARMUP_SCANS} warm-up scans")
    print(row_fmt.format("", "n", "p50 ms", "p95 ms", "p99 ms", "max ms"))
    for label, name in (
        ("(a) stdin -> OK printed (spool commit)", "beep"),
        ("(b) stdin -> in the dossier's history (Redis)", "visible_in_redis"),
        ("    stdin -> gateway's recorded_at (cross-check)", "gateway_recorded_at"),
    ):
        s = result[name]
        print(
            row_fmt.format(
                label,
                s["n"],
                f"{s['p50_ms']:.1f}",
                f"{s['p95_ms']:.1f}",
                f"{s['p99_ms']:.1f}",
                f"{s['max_ms']:.1f}",
            )
        )
    print(
        f"missing: {result['missing_beeps']} beeps, {result['missing_records']} records;"
        f" handoff record via the API: {checked}/3 as expected;"
        f" other station lines: {other_lines[:3]}"
    )
    print(
        f"CPU over the window: gateway {cpu_gateway / window:.1%} of a core,"
        f" station {cpu_station / window:.1%}; load average {before} / {after}\n"
    )
    return result


# -- 3. the station spool -----------------------------------------------------------------------


class TimedTransport(UrllibTransport):
    """The uploader's own transport, with the time spent in HTTP summed."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds = 0.0
        self.posts = 0

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> HttpReply:
        t0 = time.perf_counter()
        try:
            return super().post(url, body, headers)
        finally:
            self.seconds += time.perf_counter() - t0
            self.posts += 1


def fsync_times(path: Path, count: int) -> list[float]:
    """Seconds per 4 KiB write + fsync, appended to one file (what a WAL commit costs at least)."""
    block = b"x" * 4096
    times = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for _ in range(count):
            t0 = time.perf_counter()
            os.write(fd, block)
            os.fsync(fd)
            times.append(time.perf_counter() - t0)
    finally:
        os.close(fd)
        path.unlink()
    return times


def bench_spool(args: argparse.Namespace, system: System) -> dict[str, Any]:
    print("== 3. station spool: Spool.add commits, then the uploader drains the backlog ==")
    key = system.station("bench-2")
    dossiers = system.register(5001, args.backlog)
    path = system.home / "station-2.sqlite3"
    spool = Spool(path, "bench-2")
    before = load()
    offline_from = datetime.now(UTC) - timedelta(hours=1)
    step = 3600 / args.backlog
    adds: list[float] = []
    started = time.perf_counter()
    for i, d in enumerate(dossiers):
        t0 = time.perf_counter()
        spool.add(d.short_code, offline_from + timedelta(seconds=i * step), "Minh")
        adds.append(time.perf_counter() - t0)
    add_wall = time.perf_counter() - started
    print(
        f"Spool.add: {len(adds)} commits in {add_wall:.2f} s = {len(adds) / add_wall:.0f}/s;"
        f" p50 {pct(adds, 50) * 1000:.2f} ms, p99 {pct(adds, 99) * 1000:.2f} ms,"
        f" max {max(adds) * 1000:.2f} ms  (WAL, synchronous=FULL, {path.parent})"
    )

    fsyncs = fsync_times(system.home / "fsync.probe", 300)
    print(
        f"  for scale, write(4 KiB) + fsync on the same file system: p50"
        f" {pct(fsyncs, 50) * 1000:.2f} ms, p99 {pct(fsyncs, 99) * 1000:.2f} ms"
    )

    transport = TimedTransport()
    uploader = Uploader(spool, system.base, key["key_id"], key["secret"], time.time, transport)
    cpu_gateway = tree_cpu_seconds(system.gateway.pid)
    cpu_self = time.process_time()
    rounds = failed = 0
    started = time.perf_counter()
    while spool.count_pending() and failed < 3:
        result = uploader.step()
        rounds += 1
        failed += result.failed
    drain_wall = time.perf_counter() - started
    cpu_gateway = tree_cpu_seconds(system.gateway.pid) - cpu_gateway
    cpu_self = time.process_time() - cpu_self
    sent = spool.count(ScanState.SENT)
    rejected = spool.count(ScanState.REJECTED)
    pending = spool.count_pending()
    spool.close()
    after = load()
    rate = sent / drain_wall
    http_ms = transport.seconds / max(transport.posts, 1) * 1000
    other_ms = (drain_wall - transport.seconds) / max(transport.posts, 1) * 1000
    per_hour = 3600 / 10  # a busy office: a scan every 10 s all hour long at one station
    print(
        f"drain: {sent} sent, {rejected} rejected, {pending} left, in {drain_wall:.2f} s"
        f" = {rate:.0f} scans/s ({drain_wall / max(sent, 1) * 1000:.2f} ms a scan:"
        f" {http_ms:.2f} ms in the HTTP POST, {other_ms:.2f} ms in the spool and signing);"
        f" {rounds} rounds, {failed} failed"
    )
    print(
        f"  an offline hour of one busy station ({per_hour:.0f} scans) replays in"
        f" {per_hour / rate:.1f} s; {args.backlog} scans in {drain_wall:.1f} s"
    )
    print(
        f"  CPU over the drain: gateway {cpu_gateway / drain_wall:.1%} of a core,"
        f" uploader (this process) {cpu_self / drain_wall:.1%}; load average {before} / {after}\n"
    )
    return {
        "adds": len(adds),
        "adds_per_s": round(len(adds) / add_wall, 1),
        "add_p50_ms": round(pct(adds, 50) * 1000, 3),
        "add_p99_ms": round(pct(adds, 99) * 1000, 3),
        "add_max_ms": round(max(adds) * 1000, 3),
        "fsync_p50_ms": round(pct(fsyncs, 50) * 1000, 3),
        "fsync_p99_ms": round(pct(fsyncs, 99) * 1000, 3),
        "backlog": args.backlog,
        "sent": sent,
        "rejected": rejected,
        "left": pending,
        "drain_s": round(drain_wall, 2),
        "drain_scans_per_s": round(rate, 1),
        "http_ms_per_scan": round(http_ms, 3),
        "spool_and_signing_ms_per_scan": round(other_ms, 3),
        "gateway_cpu_share": round(cpu_gateway / drain_wall, 3),
        "uploader_cpu_share": round(cpu_self / drain_wall, 3),
        "load_before": before,
        "load_after": after,
    }


# -- main ---------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--parts", default="decode,latency,spool")
    parser.add_argument("--dossiers", type=int, default=6, help="receipts per paper width")
    parser.add_argument("--repeat", type=int, default=3, help="decodes of each frame")
    parser.add_argument("--scans", type=int, default=120)
    parser.add_argument("--rate", type=float, default=3.0, help="scans per second (Poisson)")
    parser.add_argument("--backlog", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=0, help="0: the gateway's default")
    parser.add_argument("--save-frames", default="", help="save a few frames (PNG) here")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, spools)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    print(
        f"machine: {os.cpu_count()} cores; load average {load()}; Python {sys.version.split()[0]}\n"
    )
    out: dict[str, Any] = {}
    if "decode" in parts:
        out["decode"] = bench_decode(args)
    if parts & {"latency", "spool"}:
        home = Path(tempfile.mkdtemp(prefix="hoso-bench-scans-"))
        system: System | None = None
        try:
            system = System(home, args.workers)
            print(f"gateway {system.base}, redis {system.server.url}, temp dir {home}\n")
            if "latency" in parts:
                out["latency"] = bench_latency(args, system)
            if "spool" in parts:
                out["spool"] = bench_spool(args, system)
        finally:
            if system is not None:
                system.stop()
            if args.keep:
                print(f"kept {home}")
            else:
                shutil.rmtree(home, ignore_errors=True)
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
