"""`hoso modems|routes`: the modem pool and the routing rules, listed and changed live through the
operations the dashboard uses (`ModemRegistry.apply_change`, `RouteRules.change`)."""

from __future__ import annotations

import argparse
import json
import sys

from hoso.wiring import Subcommands, configured, store_client


def _cmd_routes(args: argparse.Namespace) -> int:
    from gateway.core.routes import MessageKind, RouteError, format_routes
    from gateway.routing import Router

    settings = configured()
    router = Router(store_client(settings), settings)
    links = [link.id for link in settings.smpp]
    try:
        if args.action == "set":
            rule = router.rules.change(args.office, args.kind, args.routes, links)
            print(f"{rule.office} {rule.kind.value}: {format_routes(rule.routes)} (live now)")
            return 0
        if args.action == "reset":
            dropped = router.rules.reset(args.office, args.kind)
            print(
                f"{args.office} {args.kind}: "
                + ("back to the configuration" if dropped else "no live rule")
            )
            return 0
    except RouteError as exc:
        print(f"hoso routes: {exc}", file=sys.stderr)
        return 2
    rows = []
    for shown in router.rules.shown():
        kind = "notice" if shown.kind is MessageKind.NOTIFICATION else "reply"
        vias = router.candidates(kind, "", shown.office)  # an office's "modems": its own pool...
        states = {via: "down" if router.is_down(via) else "up" for via in vias}
        rows.append(
            {
                "office": shown.office,
                "kind": shown.kind.value,
                "routes": [str(r) for r in shown.routes],
                "source": shown.source,
                "down": sorted(via or "modems" for via, state in states.items() if state == "down"),
            }
        )
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return 0
    for row in rows:
        down = f"  down now: {', '.join(row['down'])}" if row["down"] else ""
        routes = ", ".join(row["routes"])
        print(f"{row['office']:8} {row['kind']:13} {routes:40} ({row['source']}){down}")
    return 0


def add_routes(sub: Subcommands) -> None:
    rt = sub.add_parser("routes", help="routing rules: which way replies and notifications leave")
    rsub = rt.add_subparsers(dest="action", required=True)
    rlist = rsub.add_parser("list", help="every rule in force, where it comes from, what is down")
    rlist.add_argument("--json", action="store_true", help="one JSON object per rule")
    rset = rsub.add_parser("set", help='a rule, live, e.g. notification "link:brand, modems"')
    rset.add_argument("kind", choices=["reply", "notification"])
    rset.add_argument("routes", help="origin, modems, modem:<id>, link:<id>, in order")
    rset.add_argument("--office", default="*", help="the office it is for (default '*': any)")
    rreset = rsub.add_parser("reset", help="drop the live rule: back to the configuration")
    rreset.add_argument("kind", choices=["reply", "notification"])
    rreset.add_argument("--office", default="*")
    rt.set_defaults(func=_cmd_routes)


def _cmd_modems(args: argparse.Namespace) -> int:
    from gateway.core.modem_changes import (
        OPERATOR_FIELDS,
        InvalidModemChange,
        parse_text_changes,
    )
    from gateway.core.office_routes import modem_pool
    from gateway.store.modems import ModemNotInPool, ModemRegistry
    from gateway.store.outbox import Outbox

    settings = configured()
    registry = ModemRegistry(store_client(settings))
    outbox = Outbox(store_client(settings))
    if args.action == "list":
        pool = {m.id: m for m in registry.effective(settings.modems)}
        for modem in sorted(set(pool) | set(registry.known())):
            h = registry.health(modem)
            m = pool.get(modem)
            caps = f"{m.per_minute}/min {m.per_hour}/h {m.per_day}/day" if m else "-"
            office = (m.office if m else "") or "shared"
            if m and m.office:  # what waits for the office's modems (none up: it stays there)
                office += f" office_queue={outbox.depth(modem_pool(m.office))}"
            quarantine = registry.quarantined(modem)
            print(
                f"{modem:8} {h.get('state', 'unknown'):12} office={office}"
                f" signal={h.get('signal_dbm') or '-':>4}dBm"
                f" operator={h.get('operator') or '-':10} sent_today={h.get('sent_today', '0'):>4}"
                f" caps={caps} queue={h.get('queue', '0')}"
                + (f" quarantined: {quarantine}" if quarantine else "")
                + (f" last_error: {h['last_error']}" if h.get("last_error") else "")
            )
        return 0
    if args.action == "unquarantine":
        registry.release_quarantine(args.modem)
        print(f"{args.modem}: released from quarantine")
        return 0
    if args.action == "reset":
        dropped = registry.reset(args.modem)
        print(f"{args.modem}: " + ("back to the config file" if dropped else "no live changes"))
        return 0
    if args.action == "forget":
        if any(m.id == args.modem for m in settings.modems):
            print(f"hoso modems: {args.modem} is in {settings.source}: remove it there first")
            return 1
        if not registry.forget(args.modem):
            print(f"hoso modems: a modem service still drives {args.modem}; stop it first")
            return 1
        print(f"{args.modem}: forgotten (no longer listed, its counters removed)")
        return 0
    texts = dict(a.partition("=")[::2] for a in args.changes)
    if not all("=" in a for a in args.changes):
        print("hoso modems: expected KEY=VALUE, e.g. enabled=false per_day=200", file=sys.stderr)
        return 2
    try:  # the dashboard's operation and checks, with the operator's fields (port, pin...)
        changes = registry.apply_change(
            args.modem, parse_text_changes(texts), settings.modems, OPERATOR_FIELDS
        )
    except (InvalidModemChange, ModemNotInPool) as exc:
        print(f"hoso modems: {exc}", file=sys.stderr)
        return 2
    print(f"{args.modem}: {changes} (applied live by the modem service)")
    return 0


def add_modems(sub: Subcommands) -> None:
    pool = sub.add_parser("modems", help="the modem pool: list, change live, unquarantine")
    psub = pool.add_subparsers(dest="action", required=True)
    psub.add_parser("list", help="every modem with its health, caps and queue")
    pset = psub.add_parser("set", help="change a modem live, e.g. enabled=false per_day=200")
    pset.add_argument("modem")
    pset.add_argument("changes", nargs="+", metavar="KEY=VALUE")
    punq = psub.add_parser("unquarantine", help="let a quarantined SIM send again")
    punq.add_argument("modem")
    preset = psub.add_parser("reset", help="drop the live changes: back to the config file")
    preset.add_argument("modem")
    pforget = psub.add_parser("forget", help="a modem out of service for good: unlist it")
    pforget.add_argument("modem")
    pool.set_defaults(func=_cmd_modems)
