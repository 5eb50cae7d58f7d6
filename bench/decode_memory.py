#!/usr/bin/env python3
"""Benchmark: what a photo upload costs the gateway — memory per hostile upload, time per photo.

1. uploads: every hostile upload kind of the security tests (tests/security/hostile_images.py:
   the 1 x 50,000,000 PNG, the 7070 x 7070 JPEG, progressive and 200-scan JPEGs, PNG and WebP at
   and past the limits, EPS, TIFF, BMP, GIF) is POSTed to `/api/v1/decode` of a fresh real
   `hoso gateway` (gunicorn, 2 workers); printed: the answer, the time to it, and the peak
   resident memory increase of the worker that served it (VmHWM from /proc, reset just before
   with clear_refs; the request body included).
2. photo: phone photos of a real receipt (4000 x 3000 = 12 MP, 8000 x 6000 = 48 MP, JPEG) decoded
   in this machine's Python, each run in a fresh process: "before" decodes the JPEG at full size
   in colour and converts it to grey (what `decode_image` did before it used draft mode), "after"
   is `decode_image` (libjpeg decodes straight to grey, at 1/2 for the 48 MP photo). Median time
   of `--repeat` decodes and the process's peak memory increase; both read both codes.

    .venv/bin/python bench/decode_memory.py [--parts uploads,photo] [--repeat 5]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import requests
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.receipts import decode_image
from gateway.receipts.decode import _decode
from tests.e2e.conftest import running_gateway
from tests.security.hostile_images import HOSTILE, phone_photo, receipt_image
from tests.security.worker_memory import MIB, peak_increase

PHOTOS = {"12 MP (4000 x 3000)": ((4000, 3000), 88), "48 MP (8000 x 6000)": ((8000, 6000), 75)}


def bench_uploads() -> list[dict[str, Any]]:
    rows = []
    for kind, (build, content_type) in HOSTILE.items():
        data = build()
        with tempfile.TemporaryDirectory() as home, running_gateway(Path(home)) as gateway:
            warm = io.BytesIO()
            Image.new("RGB", (64, 64)).save(warm, format="JPEG")
            for _ in range(4):  # Pillow's plugins loaded in both workers
                requests.post(
                    gateway.base + "/api/v1/decode",
                    data=warm.getvalue(),
                    headers={"Content-Type": "image/jpeg"},
                    timeout=60,
                )
            with peak_increase(gateway.process.pid) as peaks:
                started = time.perf_counter()
                answer = requests.post(
                    gateway.base + "/api/v1/decode",
                    data=data,
                    headers={"Content-Type": content_type},
                    timeout=300,
                )
                seconds = time.perf_counter() - started
        problem = answer.json().get("type", "") if answer.status_code != 200 else ""
        row = {
            "kind": kind,
            "bytes": len(data),
            "status": answer.status_code,
            "type": problem.removeprefix("/problems/"),
            "ms": round(seconds * 1000),
            "peak_mib": round(peaks.largest / MIB, 1),
        }
        print(
            f"  {kind:<42} {len(data):>10,} B  {answer.status_code} {row['type']:<16}"
            f" {row['ms']:>6} ms  +{row['peak_mib']:>6.1f} MiB",
            flush=True,
        )
        rows.append(row)
    return rows


def full_size_grey(data: bytes) -> list[Any]:
    """The decode before draft mode: the whole JPEG in colour, then grey, then zxing-cpp."""
    with Image.open(io.BytesIO(data)) as opened:
        grey = opened.convert("L")
    return _decode(np.asarray(grey))


def child(mode: str, path: str, repeat: int) -> None:
    """Runs in a fresh process: times `repeat` decodes, prints JSON with the peak increase."""
    data = Path(path).read_bytes()
    decode = decode_image if mode == "after" else full_size_grey
    status = Path("/proc/self/status")

    def field(name: str) -> int:
        line = next(x for x in status.read_text().splitlines() if x.startswith(name + ":"))
        return int(line.split()[1]) * 1024

    decode_image(_tiny_jpeg())  # libraries loaded before the baseline
    base = field("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    times: list[float] = []
    found: list[Any] = []
    for _ in range(repeat):
        started = time.perf_counter()
        found = decode(data)
        times.append(time.perf_counter() - started)
    print(
        json.dumps(
            {
                "ms": round(statistics.median(times) * 1000, 1),
                "peak_mib": round((field("VmHWM") - base) / MIB, 1),
                "codes": sorted(d.kind for d in found),
            }
        )
    )


def _tiny_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32)).save(out, format="JPEG")
    return out.getvalue()


def bench_photo(repeat: int) -> list[dict[str, Any]]:
    receipt, _, _ = receipt_image()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (size, quality) in PHOTOS.items():
            path = Path(tmp) / "photo.jpg"
            path.write_bytes(phone_photo(receipt, size, quality))
            measured = {}
            for mode in ("before", "after"):
                done = subprocess.run(
                    [sys.executable, __file__, "--child", mode, str(path), "--repeat", str(repeat)],
                    capture_output=True,
                    text=True,
                    check=True,
                    timeout=600,
                )
                measured[mode] = json.loads(done.stdout.strip().splitlines()[-1])
            before, after = measured["before"], measured["after"]
            print(
                f"  {name}, {path.stat().st_size:,} B: before {before['ms']} ms"
                f" +{before['peak_mib']} MiB {before['codes']}; after {after['ms']} ms"
                f" +{after['peak_mib']} MiB {after['codes']};"
                f" {before['ms'] / after['ms']:.2f}x faster,"
                f" {before['peak_mib'] / max(after['peak_mib'], 0.1):.2f}x less memory",
                flush=True,
            )
            rows.append({"photo": name, "before": before, "after": after})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--parts", default="uploads,photo")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.repeat)
        return 0
    parts = args.parts.split(",")
    if "uploads" in parts:
        print("uploads to a real gateway: answer, time, peak memory of the serving worker")
        bench_uploads()
    if "photo" in parts:
        print(f"phone photos of a receipt, median of {args.repeat} decodes, fresh process each")
        bench_photo(args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
