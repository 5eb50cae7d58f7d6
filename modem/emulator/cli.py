"""`hoso sim ...`: run emulated modems and drive a running emulator from another process."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from types import FrameType

from config.logs import configure_logging
from gateway.core.times import shown_time
from modem.emulator.bank import LEDGER_FILE, Bank
from modem.emulator.control import FAULTS, ControlError, request
from modem.emulator.ledger import read_ledger
from modem.emulator.profiles import PROFILES, UnknownProfile, profile_named
from modem.emulator.state import DeviceConfig, UrcMode

log = logging.getLogger(__name__)

DEFAULT_DIR = "var/sim"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hoso sim", description="Emulated GSM modems on ptys.")
    sub = parser.add_subparsers(dest="command", required=True)

    start = sub.add_parser("start", help="run emulated modems until SIGINT/SIGTERM")
    start.add_argument("--modems", type=int, default=2, help="number of modems (ids m1..mN)")
    start.add_argument("--ids", help="comma-separated modem ids instead of m1..mN")
    start.add_argument("--dir", default=DEFAULT_DIR)
    start.add_argument("--latency", type=float, default=0.0, help="seconds per AT+CMGS part")
    start.add_argument("--mode", choices=["pdu-only", "pdu-text"], default="pdu-text")
    start.add_argument("--urc-mode", choices=[m.value for m in UrcMode], default="realistic")
    start.add_argument(
        "--status-report-delay", default="1.0", help="seconds, or 'none' for no status reports"
    )
    start.add_argument("--seed", type=int)
    start.add_argument("--fresh", action="store_true", help="start with an empty ledger")
    start.add_argument(
        "--profile",
        action="append",
        default=[],
        metavar="[ID=]NAME",
        help="model profile of every modem, or of one (repeat); `hoso sim profiles` lists them",
    )

    sms = sub.add_parser("sms", help="inject a citizen's SMS into a running emulator")
    sms.add_argument("--dir", default=DEFAULT_DIR)
    sms.add_argument("--modem", required=True)
    sms.add_argument("--from", dest="sender", required=True)
    sms.add_argument("text", nargs="+")

    sent = sub.add_parser("sent", help="list what was submitted over the air")
    sent.add_argument("--dir", default=DEFAULT_DIR)
    sent.add_argument("--modem")
    sent.add_argument("--json", action="store_true", help="one JSON object per line")
    sent.add_argument("--parts", action="store_true", help="every part, not whole messages")

    fault = sub.add_parser(
        "fault", help="switch a fault on a running modem", epilog="; ".join(FAULTS)
    )
    fault.add_argument("--dir", default=DEFAULT_DIR)
    fault.add_argument("--modem", required=True)
    fault.add_argument("fault")
    fault.add_argument("args", nargs="*")

    modems = sub.add_parser("modems", help="list the running emulator's modems")
    modems.add_argument("--dir", default=DEFAULT_DIR)

    sub.add_parser("profiles", help="list the model profiles (modem families)")
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.command == "profiles":
        for profile in PROFILES.values():
            print(f"{profile.name:18} {profile.family}")
        return 0
    if args.command == "start":
        configure_logging(fmt="%(levelname)s %(message)s")
        return _start(args)
    try:
        if args.command == "sms":
            answer = request(
                Path(args.dir),
                {
                    "op": "sms",
                    "modem": args.modem,
                    "from": args.sender,
                    "text": " ".join(args.text),
                },
            )
            print(json.dumps({"modem": args.modem, "indexes": answer["indexes"]}))
            return 0
        if args.command == "fault":
            request(
                Path(args.dir),
                {"op": "fault", "modem": args.modem, "fault": args.fault, "args": args.args},
            )
            return 0
        if args.command == "modems":
            for modem_id, path in request(Path(args.dir), {"op": "modems"})["modems"].items():
                print(f"{modem_id} {path}")
            return 0
    except ControlError as exc:
        print(f"hoso sim: {exc}", file=sys.stderr)
        return 1
    return _sent(args)


def _sent(args: argparse.Namespace) -> int:
    records = read_ledger(
        Path(args.dir) / LEDGER_FILE, args.modem, "part" if args.parts else "message"
    )
    for r in records:
        if args.json:
            print(json.dumps(asdict(r), ensure_ascii=False))
        else:  # for a person: the local time as Vietnamese offices write it
            when = shown_time(datetime.fromisoformat(r.time))
            print(f"{when} {r.modem} {r.to} [{r.parts}] {r.text}")
    return 0


def _start(args: argparse.Namespace) -> int:
    ids = args.ids.split(",") if args.ids else args.modems
    delay = None if args.status_report_delay == "none" else float(args.status_report_delay)
    names = args.ids.split(",") if args.ids else [f"m{i + 1}" for i in range(args.modems)]
    profiles: dict[str, str] = {}
    for spec in args.profile:
        modem_id, _, name = spec.rpartition("=")
        try:
            profile_named(name)
        except UnknownProfile as exc:
            print(f"hoso sim: unknown profile {exc}", file=sys.stderr)
            return 2
        profiles.update({modem_id: name} if modem_id else dict.fromkeys(names, name))
    config = DeviceConfig(pdu_only=args.mode == "pdu-only")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    bank = Bank(
        args.dir,
        ids,
        latency=args.latency,
        urc_mode=args.urc_mode,
        status_report_delay=delay,
        config=config,
        seed=args.seed,
        fresh_ledger=args.fresh,
        profiles=profiles,
    )
    with bank:
        for modem_id in bank.ids:
            port = bank.port(modem_id)
            print(f"{modem_id} {port} -> {port.resolve()}", flush=True)
        print(f"control {bank.dir / 'control.sock'}", flush=True)
        print(f"ledger {bank.dir / LEDGER_FILE}", flush=True)
        while not stop.wait(0.5):
            pass
    return 0
