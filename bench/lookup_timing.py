#!/usr/bin/env python3
"""Benchmark: does the lookup page take longer for a code that exists than for one that does not?

A stranger who times `POST /` could otherwise enumerate codes: the page shows the same words for
an unknown code and for an existing code with a wrong secret, but if only the second one reads the
dossier from Redis it answers a round trip later. This script measures that difference.

It starts a redis-server with the shipped config (AOF, appendfsync always) on its Unix socket,
registers `--dossiers` dossiers, and drives the real app (`gateway.http.app.create_app`, the
lookup blueprint and everything it wires) in this process through WSGI, so that what is timed is
the page's own work and Redis, not the noise of a TCP stack and a load generator. Each request
looks up, with a wrong 8-character secret, either an existing code or an unknown one (same length,
same format), in a shuffled order, from its own address (the per-address rate limit is not what is
measured). Timed with `perf_counter_ns` around the WSGI call.

Printed: per kind, the median, the 10 %-trimmed mean and the p90 in µs, the difference of the
medians and of the trimmed means (existing - unknown) with a bootstrap 95 % interval, and the
Redis commands per request (`INFO commandstats`, commands inside Lua scripts included).

    .venv/bin/python bench/lookup_timing.py [--requests 4000] [--dossiers 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.settings import GatewaySettings, Settings
from gateway.core.dossier import parse_registration
from gateway.http.app import create_app
from gateway.store.dossiers import DossierStore
from hoso.redis_server import RedisServer

MASTER_KEY = bytes(range(32))
WRONG_SECRET = "ABCDEFGH"  # the secret alphabet has no I: never a dossier's secret


def code_of(n: int) -> str:
    return f"000.00.20.H57-240423-{n:06d}"


def register(client: redis.Redis, count: int) -> list[str]:
    store = DossierStore(client)
    now = datetime.now(UTC)
    codes = []
    for n in range(count):
        reg = parse_registration(
            {
                "code": code_of(n),
                "procedure_code": "1.001776",
                "procedure_name": "Cấp bản sao trích lục hộ tịch",
                "phones": ["0901234567"],
                "received_at": "2024-04-23T08:30:00+07:00",
                "due_at": "2024-04-26T17:00:00+07:00",
                "applicant_name": "Nguyễn Văn An",
            }
        )
        codes.append(store.register(reg, "tuphap", now).dossier.code)
    return codes


def commands(client: redis.Redis) -> int:
    stats = client.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info")


def trimmed_mean(values: list[float], cut: float = 0.1) -> float:
    ordered = sorted(values)
    k = int(len(ordered) * cut)
    return statistics.fmean(ordered[k : len(ordered) - k])


def bootstrap(
    a: list[float], b: list[float], stat: object, rounds: int = 400
) -> tuple[float, float]:
    rnd = random.Random(7)
    diffs = []
    for _ in range(rounds):
        ra = [rnd.choice(a) for _ in a]
        rb = [rnd.choice(b) for _ in b]
        diffs.append(stat(ra) - stat(rb))  # type: ignore[operator]
    diffs.sort()
    return diffs[int(rounds * 0.025)], diffs[int(rounds * 0.975)]


def run(client: redis.Redis, codes: list[str], requests: int, seed: int) -> None:
    settings = Settings(gateway=replace(GatewaySettings(), rate_per_minute=10**9))
    app = create_app(settings, client, MASTER_KEY)
    web = app.test_client()
    rnd = random.Random(seed)
    unknown = [code_of(n) for n in range(len(codes), len(codes) + requests)]
    plan = [("existing", rnd.choice(codes)) for _ in range(requests)]
    plan += [("unknown", c) for c in unknown]
    rnd.shuffle(plan)
    times: dict[str, list[float]] = {"existing": [], "unknown": []}
    counted: dict[str, int] = {}
    for i, code in enumerate([codes[0], unknown[0]] * 50):  # warm up
        environ = {"REMOTE_ADDR": f"192.168.0.{i}"}
        web.post("/", data={"ma": code, "bi_mat": WRONG_SECRET}, environ_base=environ)
    for kind, code in (("existing", codes[1]), ("unknown", unknown[1])):
        before = commands(client)
        web.post("/", data={"ma": code, "bi_mat": WRONG_SECRET}, environ_base={"REMOTE_ADDR": "c"})
        counted[kind] = commands(client) - before
    for i, (kind, code) in enumerate(plan):
        environ = {"REMOTE_ADDR": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"}
        data = {"ma": code, "bi_mat": WRONG_SECRET}
        start = time.perf_counter_ns()
        answer = web.post("/", data=data, environ_base=environ)
        elapsed = time.perf_counter_ns() - start
        assert answer.status_code == 200, answer.status_code
        times[kind].append(elapsed / 1000)
    ex, un = times["existing"], times["unknown"]
    print(f"  {'kind':<9} {'median µs':>10} {'trimmed µs':>11} {'p90 µs':>8} {'commands':>9}")
    for kind in ("existing", "unknown"):
        t = times[kind]
        p90 = statistics.quantiles(t, n=10)[-1]
        print(
            f"  {kind:<9} {statistics.median(t):>10.1f} {trimmed_mean(t):>11.1f} {p90:>8.1f} "
            f"{counted[kind]:>9}"
        )
    d_med = statistics.median(ex) - statistics.median(un)
    d_trim = trimmed_mean(ex) - trimmed_mean(un)
    lo_m, hi_m = bootstrap(ex, un, statistics.median)
    lo_t, hi_t = bootstrap(ex, un, trimmed_mean)
    print(
        f"  existing - unknown: median {d_med:+.1f} µs [{lo_m:+.1f}, {hi_m:+.1f}], "
        f"trimmed mean {d_trim:+.1f} µs [{lo_t:+.1f}, {hi_t:+.1f}] (95 % bootstrap)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=4000, help="per kind")
    parser.add_argument("--dossiers", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="hoso-lookup-bench-") as home,
        RedisServer(Path(home) / "redis") as server,
    ):
        client = server.client()
        codes = register(client, args.dossiers)
        print(f"{args.dossiers} dossiers, {args.requests} lookups of each kind per run")
        for r in range(args.repeat):
            print(f"run {r + 1}")
            run(client, codes, args.requests, seed=r)


if __name__ == "__main__":
    main()
