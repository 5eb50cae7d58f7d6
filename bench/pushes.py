#!/usr/bin/env python3
"""Benchmark: signed, idempotent status pushes through a real `hoso gateway` process.

Starts a redis-server with the shipped config (AOF, appendfsync always) and `hoso gateway`
(gunicorn) on 127.0.0.1, registers dossiers, pre-signs unique status pushes (each with its own
event id and Idempotency-Key: a signature is accepted only once), and drives them with `wrk` at
a few concurrency levels. Prints requests/s, p50/p90/p99 latency, errors and Redis commands per
push, and the ratios to the targets (>= 1,000 pushes/s, p99 < 50 ms, no errors).

    .venv/bin/python bench/pushes.py [--connections 8,32,64] [--duration 8] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.core.dossier import parse_registration
from gateway.core.signing import signed_headers
from gateway.store.dossiers import DossierStore
from hoso.redis_server import RedisServer

HERE = Path(__file__).resolve().parent
TARGET_RATE = 1000.0
TARGET_P99_MS = 50.0
ROW = "{:>5} {:>9} {:>7} {:>7} {:>7} {:>6} {:>9} {:>9}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def command_calls(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


def write_requests(
    folder: Path,
    threads: int,
    count: int,
    host: str,
    key_id: str,
    secret: str,
    codes: list[str],
    start: int,
) -> None:
    now = int(time.time())
    base = datetime(2024, 5, 1, tzinfo=UTC)
    per_thread = count // threads
    n = start
    for t in range(threads):
        with (folder / f"requests-{t}.txt").open("w", encoding="utf-8") as f:
            for _ in range(per_thread):
                n += 1
                code = codes[n % len(codes)]
                target = f"/api/v1/dossiers/{code}/events"
                body = json.dumps(
                    {
                        "event_id": f"bench-{n}",
                        "status": 4,
                        "at": (base + timedelta(milliseconds=n)).isoformat(),
                        "desk": f"Phòng {n % 7}",
                    },
                    ensure_ascii=False,
                ).encode()
                headers = signed_headers(key_id, secret, "POST", target, body, now)
                lines = [
                    f"POST {target} HTTP/1.1",
                    f"Host: {host}",
                    "Content-Type: application/json",
                    f"Content-Length: {len(body)}",
                    f"Idempotency-Key: bench-{n}",
                    *(f"{k}: {v}" for k, v in headers.items()),
                ]
                f.write("\r\n".join(lines) + "\r\n\r\n" + body.decode() + "\n%%\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", default="8,32,64")
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--workers", type=int, default=0, help="0: the gateway's default")
    parser.add_argument("--threads", type=int, default=2, help="gthread threads per worker")
    parser.add_argument("--dossiers", type=int, default=2000)
    parser.add_argument("--max-rate", type=int, default=6000, help="pre-signed requests per second")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench: needs wrk (Debian package wrk): sh systemd/install-debian-packages.sh bench")
        return 2

    home = Path(tempfile.mkdtemp(prefix="hoso-bench-"))
    server = RedisServer(home / "redis").start()
    admin = server.client()
    port = free_port()
    env = dict(os.environ) | {
        "HOSO_REDIS_URL": server.url,
        "HOSO_SECURITY_MASTER_KEY_FILE": str(home / "master.key"),
        "HOSO_GATEWAY_RATE_PER_MINUTE": str(10**9),
        "HOSO_GATEWAY_THREADS": str(args.threads),
        "HOSO_CONFIG": str(home / "empty.toml"),
    }
    (home / "empty.toml").write_text("", encoding="utf-8")
    log = (home / "gateway.log").open("wb")
    gateway = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hoso.cli",
            "gateway",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
        ],
        env=env,
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        made = subprocess.run(
            [sys.executable, "-m", "hoso.cli", "keys", "create", "--department", "bench", "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        key = json.loads(made.stdout)
        store = DossierStore(admin)
        codes = []
        for i in range(args.dossiers):
            body = {
                "code": f"000.00.20.H57-240501-{i:05d}",
                "procedure_code": "1.001776",
                "procedure_name": "Cấp bản sao trích lục hộ tịch",
                "phones": ["0901234567"],
                "received_at": "2024-05-01T08:00:00+07:00",
                "due_at": "2024-05-08T17:00:00+07:00",
            }
            codes.append(
                store.register(parse_registration(body), "bench", datetime.now(UTC)).dossier.code
            )

        workers = args.workers or 2 * (os.cpu_count() or 1)
        print(f"gateway: {workers} gunicorn workers x {args.threads} threads")
        print("redis: AOF, appendfsync always")
        print(f"machine: {os.cpu_count()} cores; load generator wrk -t2 on the same machine")
        print()
        print(
            ROW.format(
                "conns",
                "pushes/s",
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "errors",
                "cmds/push",
                "vs 1000/s",
            )
        )
        results = []
        start = 0
        for conns in [int(c) for c in args.connections.split(",")]:
            folder = home / f"c{conns}"
            folder.mkdir()
            count = args.max_rate * args.duration
            write_requests(
                folder, 2, count, f"127.0.0.1:{port}", key["key_id"], key["secret"], codes, start
            )
            start += count
            before = command_calls(admin)
            result_file = folder / "result.json"
            subprocess.run(
                [
                    "wrk",
                    "-t2",
                    f"-c{conns}",
                    f"-d{args.duration}s",
                    "--latency",
                    "-s",
                    str(HERE / "pushes.lua"),
                    base,
                    "--",
                    str(folder),
                ],
                env=dict(os.environ, WRK_RESULT=str(result_file)),
                check=True,
                capture_output=True,
            )
            after = command_calls(admin)
            r = json.loads(result_file.read_text())
            pushes = r["requests"] - r["exhausted"]
            rate = pushes / (r["duration_us"] / 1e6)
            commands = (
                sum(after.values())
                - sum(before.values())
                - (after.get("info", 0) - before.get("info", 0))
            )
            errors = r["non2xx"] + r["socket_errors"]
            row = {
                "connections": conns,
                "pushes_per_s": round(rate),
                "p50_ms": r["p50_us"] / 1000,
                "p90_ms": r["p90_us"] / 1000,
                "p99_ms": r["p99_us"] / 1000,
                "errors": errors,
                "exhausted": r["exhausted"],
                "redis_commands_per_push": commands / max(pushes, 1),
                "evalsha_per_push": (after.get("evalsha", 0) - before.get("evalsha", 0))
                / max(pushes, 1),
            }
            results.append(row)
            print(
                ROW.format(
                    conns,
                    f"{rate:.0f}",
                    f"{row['p50_ms']:.1f}",
                    f"{row['p90_ms']:.1f}",
                    f"{row['p99_ms']:.1f}",
                    errors,
                    f"{row['redis_commands_per_push']:.1f}",
                    f"{rate / TARGET_RATE:.2f}x",
                )
            )
            if r["exhausted"]:
                print(f"      (ran out of pre-signed requests {r['exhausted']} times)")
        within = [x for x in results if x["p99_ms"] < TARGET_P99_MS] or results
        best = max(within, key=lambda x: x["pushes_per_s"])
        rate_ratio = best["pushes_per_s"] / TARGET_RATE
        p99_ratio = best["p99_ms"] / TARGET_P99_MS
        print()
        print(f"best within the p99 budget: {best['connections']} connections")
        print(f"  {best['pushes_per_s']} pushes/s = {rate_ratio:.2f}x the 1,000/s target")
        print(f"  p99 {best['p99_ms']:.1f} ms = {p99_ratio:.2f}x the 50 ms budget")
        print(f"  errors {best['errors']}")
        print(json.dumps({"results": results}))
        return 0
    finally:
        gateway.terminate()
        gateway.wait(15)
        log.close()
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
