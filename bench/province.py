#!/usr/bin/env python3
"""Benchmark: a province on one Redis — memory, the leaders' province and office views, and a
citizen's SMS lookup, as offices and dossiers grow.

Per run (one per --offices x --dossiers), a fresh redis-server with the shipped config
(`config/redis.conf`; AOF and RDB snapshots switched off for the load with CONFIG SET: they do
not change the memory measured and would write gigabytes), filled through the store's own
functions only — `Offices.set`, `DossierStore.register` and `DossierStore.apply` (the Lua
scripts that keep the dossier, its history, its event ids, the indexes and the service index's
figures) and `ModemRegistry.publish_health` / `count_sent` for the modems — by `--jobs`
processes, each registering its share of the dossiers and moving each along its life (scans at
desks, processing, sometimes a missing paper, done, returned: `--events` events a dossier on
average, counting the registration; the newest dossiers are still open, some past their
appointment). Dossiers are spread over the last 120 days, procedures over 60 (each office
handles 40), 6 desks an office, one phone a dossier.

Then it measures:
- Redis `used_memory` (and the dataset's share), bytes per dossier, and where they go: the
  MEMORY USAGE of the keys of a sample of dossiers (hash, history, event ids, phone set) and of
  the shared keys (lookup table, open index, change stream, service index's figures);
- the province page (`GET /admin/province`), an office's page and a desk's page, rendered by the
  real app (`create_app`) through the Flask test client in this process, logged in as a viewer:
  p50 and p95 of `--samples` requests each (random offices and desks), and the CSV;
- a citizen's SMS lookup on the worker's path (`worker.jobs.look_up`, `decide`, `compose`: the
  dossier and its history read, the reply text made), p50 and p95 over 2,000 random codes.

    .venv/bin/python bench/province.py [--dossiers 10000,100000] [--offices 150] [--events 10]
                                       [--modems 300] [--jobs 2] [--samples 40]
                                       [--listpack-value N] [--server /usr/bin/redis-server]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.settings import AdminSettings, GatewaySettings, Settings
from gateway.core.dossier import parse_registration
from gateway.core.events import StatusChanged
from gateway.core.offices import DEFAULT_OFFICE
from gateway.core.replies import decide
from gateway.core.service_index import FINISHED
from gateway.core.sms_syntax import parse
from gateway.core.status import Status
from gateway.http.app import create_app
from gateway.store import keys
from gateway.store.dossiers import DossierStore
from gateway.store.modems import ModemRegistry
from gateway.store.offices import Offices
from gateway.store.province import ProvinceFigures
from gateway.store.users import AdminUsers, Role
from hoso.redis_server import RedisServer, redis_server_binary, server_version
from worker.context import configure
from worker.jobs import compose, look_up

MASTER_KEY = bytes(range(32))
PASSWORD = "mat-khau-bench-1"
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
SPREAD_DAYS = 120
DESKS = (
    "Bộ phận một cửa",
    "Phòng Tư pháp - Hộ tịch",
    "Phòng Tài nguyên và Môi trường",
    "Phòng Kinh tế - Hạ tầng",
    "Lãnh đạo UBND",
    "Bộ phận trả kết quả",
)
KINDS = (
    ("Cấp bản sao trích lục hộ tịch", 1),
    ("Đăng ký khai sinh", 3),
    ("Đăng ký kết hôn", 5),
    ("Chứng thực bản sao từ bản chính giấy tờ, văn bản", 1),
    ("Cấp giấy chứng nhận quyền sử dụng đất, quyền sở hữu nhà ở và tài sản gắn liền với đất", 30),
    ("Đăng ký thành lập hộ kinh doanh", 3),
    ("Cấp giấy phép xây dựng nhà ở riêng lẻ", 15),
    ("Đăng ký thường trú", 7),
    ("Xác nhận tình trạng hôn nhân", 3),
    ("Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất", 10),
)  # fmt: skip
PROCEDURES = tuple(
    (f"1.00{4000 + i}", f"{name}{'' if i < len(KINDS) else f' (mẫu {i // len(KINDS)})'}", days)
    for i, (name, days) in enumerate(KINDS[i % len(KINDS)] for i in range(60))
)
STAFF = ("Nguyễn Thị Lan", "Trần Văn Bình", "Lê Thị Hoa", "Phạm Minh Đức")


def office_id(i: int) -> str:
    return f"dv-{i:03d}"


def office_procedures(office: int) -> list[tuple[str, str, int]]:
    return random.Random(office).sample(PROCEDURES, 40)


def dossier_code(office: int, n: int) -> str:
    return f"000.{office % 100:02d}.{office // 100:02d}.H57-261201-{n:06d}"


# -- the load ----------------------------------------------------------------------------------


def life(n: int, offices: int, events: int) -> tuple[int, dict[str, Any], list[StatusChanged]]:
    """Dossier n: its office, its registration body, and the events of its life so far."""
    rnd = random.Random(n)
    office = n % offices
    procedure, name, days = rnd.choice(office_procedures(office))
    received = NOW - timedelta(days=rnd.uniform(0, SPREAD_DAYS))
    due = received + timedelta(days=days)
    body = {
        "code": dossier_code(office, n),
        "procedure_code": procedure,
        "procedure_name": name,
        "phones": [f"09{rnd.randrange(10**8):08d}"],
        "received_at": received.isoformat(),
        "due_at": due.isoformat(),
        "applicant_name": rnd.choice(STAFF),
    }
    # A life of about `events` - 1 steps over about the time allowed (a fifth of them late).
    pace = days * 86400 * rnd.uniform(0.3, 1.4) / max(events - 1, 1)
    at = received
    desk = DESKS[rnd.randrange(1, 5)]
    plan: list[tuple[Status | None, str | None, str | None]] = [
        (None, DESKS[0], None),
        (Status.PROCESSING, desk, "Đã chuyển hồ sơ cho phòng chuyên môn"),
        (None, desk, None),
    ]
    if rnd.random() < 0.2:
        plan += [(Status.SUPPLEMENT_REQUESTED, desk, "Bổ sung bản sao CCCD"),
                 (Status.PROCESSING, desk, None)]  # fmt: skip
    while len(plan) < events - 4:
        plan.append((None, rnd.choice(DESKS[1:5]), None))
    plan += [
        (None, DESKS[4], "Trình lãnh đạo ký"),
        (Status.DONE, DESKS[5], "Đã có kết quả"),
        (Status.RETURNED, DESKS[5], None),
    ]
    evs = []
    for i, (status, where, note) in enumerate(plan):
        at += timedelta(seconds=pace * rnd.uniform(0.5, 1.5))
        if at > NOW:
            break
        scan = status is None
        evs.append(
            StatusChanged(
                event_id=f"scan:quay-{office}-{i}:{n}" if scan else f"ev-{n}-{i}",
                status=status,
                at=at,
                source=f"station:quay-{office}-{i}" if scan else "tuphap",
                note=note,
                desk=where,
                staff=rnd.choice(STAFF) if scan else None,
            )
        )
    return office, body, evs


def load_share(url: str, start: int, stop: int, offices: int, events: int) -> int:
    client = redis.Redis.from_url(url, decode_responses=True)
    store = DossierStore(client)
    applied = 0
    for n in range(start, stop):
        office, body, evs = life(n, offices, events)
        reg = parse_registration(body)
        store.register(reg, "tuphap", reg.received_at, office_id(office))
        for ev in evs:
            store.apply(reg.code, ev, "tuphap", ev.at)
            applied += 1
    client.close()
    return applied


def load(
    server: RedisServer, offices: int, dossiers: int, events: int, modems: int, jobs: int
) -> int:
    client = server.client()
    registry = Offices.of(client, Settings().sms)
    for i in range(offices):
        registry.set(office_id(i), {"name": f"UBND phường/xã số {i + 1}"})
    health = ModemRegistry(client)
    for m in range(modems):
        modem = f"m{m:03d}"
        health.publish_health(
            modem,
            {"state": "up", "signal_dbm": -60 - m % 40, "operator": "Viettel", "registered": 1,
             "port": f"/dev/serial/by-id/usb-SIMCOM-{m:03d}-if02", "updated_at": NOW.isoformat()},
        )  # fmt: skip
        health.count_sent(modem, NOW)
    cuts = [dossiers * k // jobs for k in range(jobs + 1)]
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        done = pool.starmap(
            load_share,
            [(server.url, cuts[k], cuts[k + 1], offices, events) for k in range(jobs)],
        )
    return sum(done) + dossiers


# -- the measures ------------------------------------------------------------------------------


def memory(
    client: redis.Redis, dossiers: int, offices: int, sample: int = 2000
) -> dict[str, float]:
    """used_memory, the keys of a sample of dossiers, the shared keys, and two what-ifs: the
    event ids of settled dossiers gone (an expiry once settled), the history compressed."""
    info = client.info("memory")
    rnd = random.Random(1)
    per: dict[str, list[int]] = {"hash": [], "history": [], "event ids": [], "phone set": []}
    settled_ids: list[int] = []
    history_json: list[int] = []
    history_zlib: list[int] = []
    for n in rnd.sample(range(dossiers), min(sample, dossiers)):
        code = dossier_code(n % offices, n)
        phone = json.loads(str(client.hget(keys.dossier(code), "phones") or '[""]'))[0]
        for kind, key in (
            ("hash", keys.dossier(code)),
            ("history", keys.history(code)),
            ("event ids", keys.event_ids(code)),
            ("phone set", keys.phone(phone)),
        ):
            per[kind].append(int(client.memory_usage(key) or 0))  # fmt: skip
        if int(client.hget(keys.dossier(code), "status") or 0) in FINISHED:
            settled_ids.append(per["event ids"][-1])
        blob = json.dumps(client.lrange(keys.history(code), 0, -1), ensure_ascii=False).encode()
        history_json.append(len(blob))
        history_zlib.append(len(zlib.compress(blob, 6)))
    shared = {
        "lookup": client.memory_usage(keys.lookup()) or 0,
        "open index": client.memory_usage(keys.open_by_due()) or 0,
        "changes stream": client.memory_usage(keys.changes()) or 0,
    }
    figures = 0
    for key in client.scan_iter(match=keys.province_prefix() + "*", count=1000):
        figures += int(client.memory_usage(key) or 0)
    taken = len(per["hash"])
    out = {
        "used_memory": float(info["used_memory"]),
        "dataset": float(info.get("used_memory_dataset", 0)),
        "figures": float(figures),
    }
    out |= {k: float(v) for k, v in shared.items()}
    out |= {f"{k} (each)": statistics.fmean(v) for k, v in per.items()}
    out["settled share"] = len(settled_ids) / taken
    out["event ids settled (each)"] = sum(settled_ids) / taken
    out["history JSON (each)"] = statistics.fmean(history_json)
    out["history zlib (each)"] = statistics.fmean(history_zlib)
    encodings = {
        kind: client.object("encoding", key)
        for kind, key in (("hash", keys.dossier(dossier_code(0, 0))),
                          ("event ids", keys.event_ids(dossier_code(0, 0))),
                          ("history", keys.history(dossier_code(0, 0))))
    }  # fmt: skip
    print(f"    encodings: {encodings}")
    return out


def timed(fn: Any, samples: int) -> tuple[float, float]:
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]


def pages(
    client: redis.Redis, offices: int, samples: int, home: Path
) -> dict[str, tuple[float, float]]:
    settings = Settings(
        gateway=replace(GatewaySettings(), rate_per_minute=10**9),
        admin=AdminSettings(session_key_file=str(home / "session.key")),
    )
    app = create_app(settings, client, MASTER_KEY, NOW.timestamp)
    AdminUsers(client).create("lanhdao", PASSWORD, Role.VIEWER)
    web = app.test_client()
    form = web.get("/admin/login").get_data(as_text=True)
    token = form.split('name="csrf_token" value="')[1].split('"')[0]
    web.post(
        "/admin/login", data={"username": "lanhdao", "password": PASSWORD, "csrf_token": token}
    )
    rnd = random.Random(2)
    figures = ProvinceFigures(client)

    def get(path: str) -> None:
        answer = web.get(path)
        assert answer.status_code == 200, (path, answer.status_code)

    def office_page() -> None:
        get(f"/admin/province/{office_id(rnd.randrange(offices))}")

    def desk_page() -> None:
        office = office_id(rnd.randrange(offices))
        desk = rnd.choice(sorted(figures.desks(office)))
        get(f"/admin/province/{office}/desk?name={quote_plus(desk)}")

    get("/admin/province")  # warm up
    return {
        "province page": timed(lambda: get("/admin/province"), samples),
        "province CSV": timed(lambda: get("/admin/province?format=csv"), max(5, samples // 4)),
        "office page": timed(office_page, samples),
        "desk page": timed(desk_page, samples),
    }


def sms_lookup(client: redis.Redis, dossiers: int, offices: int) -> tuple[float, float]:
    ctx = configure(Settings(), client, lambda: NOW)
    store = DossierStore(client)
    rnd = random.Random(3)
    codes = [dossier_code(n % offices, n) for n in rnd.sample(range(dossiers), min(2000, dossiers))]
    short = [store.get(c).short_code for c in codes]
    texts = iter([f"HS {s}" for s in short] * 2)
    sender = "+84901234567"

    def one() -> None:  # as worker/jobs.py answers: the dossier's office signs
        command = parse(next(texts))
        asked = look_up(ctx, command, sender)
        office = ctx.offices.get(asked.dossier.office if asked.dossier else DEFAULT_OFFICE)
        compose(ctx, decide(command, sender, asked), office)

    return timed(one, len(codes))


def run(offices: int, dossiers: int, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="hoso-province-bench-") as home:
        server = RedisServer(Path(home) / "redis", binary=args.server).start()
        try:
            client = server.client()
            client.config_set("appendonly", "no")
            client.config_set("save", "")
            if args.listpack_value:  # else as config/redis.conf has it
                client.config_set("hash-max-listpack-value", str(args.listpack_value))
            listpack = client.config_get("*-max-listpack-*")
            print("  " + ", ".join(f"{k} {v}" for k, v in sorted(listpack.items())))
            empty = int(client.info("memory")["used_memory"])
            started = time.monotonic()
            changes = load(server, offices, dossiers, args.events, args.modems, args.jobs)
            took = time.monotonic() - started
            print(
                f"  {offices} offices, {dossiers:,} dossiers, {changes:,} changes "
                f"({changes / dossiers:.1f} a dossier) loaded in {took:.0f} s "
                f"({changes / took:,.0f}/s, {args.jobs} processes)",
                flush=True,
            )
            used = memory(client, dossiers, offices)
            per = (used["used_memory"] - empty) / dossiers
            print(
                f"    used_memory {used['used_memory'] / 2**20:,.1f} MiB "
                f"(dataset {used['dataset'] / 2**20:,.1f} MiB), {per:,.0f} B a dossier; "
                f"at 1,000,000: {per * 1e6 / 2**30:.2f} GiB"
            )
            for k, v in used.items():
                if k in ("used_memory", "dataset", "settled share"):
                    continue
                each = "each" in k
                print(f"    {k:<26} {v if each else v / 2**20:>10,.1f} {'B' if each else 'MiB'}")
            saved_ids = used["event ids settled (each)"]
            saved_history = used["history (each)"] - used["history zlib (each)"]
            both = (per - saved_ids - saved_history) * 1e6 / 2**30
            print(
                f"    settled: {100 * used['settled share']:.0f} %; what if their event ids "
                f"expired: -{saved_ids:,.0f} B a dossier; histories kept compressed (zlib): "
                f"-{saved_history:,.0f} B; both: {both:.2f} GiB at 1,000,000"
            )
            for name, (p50, p95) in pages(client, offices, args.samples, Path(home)).items():
                print(f"    {name:<20} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms")
            p50, p95 = sms_lookup(client, dossiers, offices)
            print(f"    {'SMS lookup':<20} p50 {p50:8.2f} ms   p95 {p95:8.2f} ms", flush=True)
            sys.stdout.flush()
        finally:
            server.stop(timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dossiers", default="10000,100000", help="comma-separated sizes")
    parser.add_argument("--offices", default="150", help="comma-separated counts")
    parser.add_argument("--events", type=int, default=10, help="a dossier's changes, about")
    parser.add_argument("--modems", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=2, help="loading processes")
    parser.add_argument("--samples", type=int, default=40, help="requests per page")
    parser.add_argument(
        "--listpack-value", type=int, default=0, help="hash-max-listpack-value (0: the config's)"
    )
    parser.add_argument(
        "--server", default="", help="redis-server binary (default: the one bundled with hoso)"
    )
    args = parser.parse_args()
    print(server_version(redis_server_binary(args.server)))
    for offices in (int(o) for o in args.offices.split(",")):
        for dossiers in (int(d) for d in args.dossiers.split(",")):
            run(offices, dossiers, args)


if __name__ == "__main__":
    main()
