"""`hoso gateway|redis|up|worker|cron|scanner|modem|smpp`: the commands that run a process. Each
reads the settings once and hands over to the `main` of the process it names, importing only that
process (processes never import each other)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from config.loader import ConfigError
from hoso.wiring import Subcommands, configured


def _cmd_gateway(args: argparse.Namespace) -> int:
    from gateway.main import serve

    settings = configured()
    if args.bind:
        settings = dataclasses.replace(
            settings, gateway=dataclasses.replace(settings.gateway, bind=args.bind)
        )
    if args.workers is not None:
        settings = dataclasses.replace(
            settings, gateway=dataclasses.replace(settings.gateway, workers=args.workers)
        )
    serve(settings)
    return 0


def add_gateway(sub: Subcommands) -> None:
    gw = sub.add_parser("gateway", help="serve the HTTP API and web pages (gunicorn)")
    gw.add_argument("--bind", help="HOST:PORT to listen on (default 127.0.0.1:8080)")
    gw.add_argument("--workers", type=int, help="worker processes (default: one per core)")
    gw.set_defaults(func=_cmd_gateway)


def _cmd_redis(_: argparse.Namespace) -> int:
    from hoso.redis_server import embedded

    server = embedded(configured().redis)
    return server.serve(ready=lambda s: print(f"redis: {s.url}", flush=True))


def add_redis(sub: Subcommands) -> None:
    rd = sub.add_parser("redis", help="run the embedded Redis (AOF, appendfsync always)")
    rd.set_defaults(func=_cmd_redis)


def _cmd_up(args: argparse.Namespace) -> int:
    from hoso.up import run_everything

    return run_everything(configured(), bind=args.bind)


def add_up(sub: Subcommands) -> None:
    up = sub.add_parser("up", help="run everything on embedded defaults")
    up.add_argument("--bind", help="where the gateway listens (default 127.0.0.1:8080)")
    up.set_defaults(func=_cmd_up)


def _cmd_worker(args: argparse.Namespace) -> int:
    from worker.main import main as worker_main

    return worker_main(configured(), burst=args.burst)


def add_worker(sub: Subcommands) -> None:
    wk = sub.add_parser("worker", help="run jobs: answer citizens' SMS, send notifications")
    wk.add_argument("--burst", action="store_true", help="stop when the queues are empty")
    wk.set_defaults(func=_cmd_worker)


def _cmd_cron(_: argparse.Namespace) -> int:
    from worker.cron import main as cron_main

    return cron_main(configured())


def add_cron(sub: Subcommands) -> None:
    cr = sub.add_parser("cron", help="enqueue the periodic jobs (run one per installation)")
    cr.set_defaults(func=_cmd_cron)


def _cmd_scanner(_: argparse.Namespace) -> int:
    from scanner.config import load_station_settings
    from scanner.main import main as scanner_main

    try:
        settings = load_station_settings()
    except ConfigError as exc:
        print(f"hoso scanner: configuration error: {exc}", file=sys.stderr)
        return 2
    return scanner_main(settings)


def add_scanner(sub: Subcommands) -> None:
    sc = sub.add_parser("scanner", help="a counter station: scans -> local spool -> gateway")
    sc.set_defaults(func=_cmd_scanner)


def _cmd_modem(args: argparse.Namespace) -> int:
    from modem.service import main as modem_main

    only = frozenset(args.modem) if args.modem else None
    return modem_main(configured(), Path(args.sim_dir) if args.sim_dir else None, only)


def add_modem(sub: Subcommands) -> None:
    md = sub.add_parser("modem", help="the modem service: drives this host's GSM modems")
    md.add_argument("--sim-dir", help="also drive every emulated modem of `hoso sim` in DIR")
    md.add_argument(
        "--modem",
        action="append",
        metavar="ID",
        help="drive only this modem (repeatable; default: every modem of the pool)",
    )
    md.set_defaults(func=_cmd_modem)


def _cmd_smpp(args: argparse.Namespace) -> int:
    from modem.smpp.main import main as smpp_main

    return smpp_main(configured(), args.link)


def add_smpp(sub: Subcommands) -> None:
    sm = sub.add_parser("smpp", help="a carrier link: SMS over SMPP through a carrier's SMSC")
    sm.add_argument("--link", required=True, metavar="ID", help="the id of its [[smpp]] table")
    sm.set_defaults(func=_cmd_smpp)
