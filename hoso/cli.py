"""The `hoso` command: one entry point, a subcommand per process or tool.

Each subcommand reads the settings once, configures logging once, and hands over to the `main`
of the process it names, or to the store operation it runs; processes never import each other.
The subcommands live in the module named after what they hold: `processes` (the commands that
run a process), `office` (keys, stations, offices, templates, accounts), `pool` (modems, routes) and
`upkeep` (jobs, upgrade steps, SMS and dossiers in bulk, receipts, check-config).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import redis

from config.logs import configure_logging
from hoso import office, pool, processes, province, upkeep

log = logging.getLogger("hoso")


def _sim(argv: list[str]) -> int:
    """`hoso sim ...` is parsed by the emulator's own parser, whose --help lists its commands
    (start, sms, sent, fault, modems) and each command's --help its options."""
    from modem.emulator.cli import main as sim_main

    code: int = sim_main(argv)
    return code


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hoso", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    processes.add_gateway(sub)
    processes.add_redis(sub)
    processes.add_up(sub)
    office.add_keys(sub)
    processes.add_worker(sub)
    processes.add_cron(sub)
    upkeep.add_jobs(sub)
    upkeep.add_notifications(sub)
    upkeep.add_messages(sub)
    upkeep.add_dossiers(sub)
    upkeep.add_receipt(sub)
    province.add_province(sub)
    processes.add_scanner(sub)
    office.add_stations(sub)
    office.add_offices(sub)
    processes.add_modem(sub)
    processes.add_smpp(sub)
    pool.add_routes(sub)
    upkeep.add_check_config(sub)
    pool.add_modems(sub)
    office.add_templates(sub)
    office.add_admin(sub)
    # Listed here for `hoso --help`; `main` hands `hoso sim ...` to the emulator's parser.
    sub.add_parser(
        "sim",
        help="the GSM modem emulator (start, sms, sent, fault, modems): hoso sim --help",
        add_help=False,
    )
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    configure_logging()
    if argv[:1] == ["sim"]:
        return _sim(argv[1:])
    args = parser().parse_args(argv)
    started = time.monotonic()
    try:
        code: int = args.func(args)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        print(f"hoso {args.command}: cannot reach Redis: {exc}", file=sys.stderr)
        return 1
    log.debug("hoso.exit command=%s seconds=%.1f", args.command, time.monotonic() - started)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
