"""The `hoso` command: one entry point, a subcommand per process or tool.

Each subcommand reads the settings once, configures logging once, and hands over to the `main`
of the process it names; processes never import each other.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis

from config.loader import ConfigError, load_settings
from config.logs import configure_logging
from config.settings import Settings

log = logging.getLogger("hoso")


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        print(f"hoso: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


def _cmd_gateway(args: argparse.Namespace) -> int:
    from gateway.main import serve

    settings = _settings()
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


def _cmd_redis(_: argparse.Namespace) -> int:
    from hoso.redis_server import embedded

    server = embedded(_settings().redis)
    return server.serve(ready=lambda s: print(f"redis: {s.url}", flush=True))


def _cmd_up(args: argparse.Namespace) -> int:
    from hoso.up import run_everything

    return run_everything(_settings(), bind=args.bind)


def _cmd_keys(args: argparse.Namespace) -> int:
    from hoso.keys import run

    return run(args, _settings())


def _cmd_worker(args: argparse.Namespace) -> int:
    from worker.main import main as worker_main

    return worker_main(_settings(), burst=args.burst)


def _cmd_cron(_: argparse.Namespace) -> int:
    from worker.cron import main as cron_main

    return cron_main(_settings())


def _cmd_jobs(args: argparse.Namespace) -> int:
    from worker.main import failed_jobs, retry_jobs

    settings = _settings()
    if args.action == "failed":
        rows = failed_jobs(settings)
        for queue, job, error in rows:
            print(f"{queue:14} {job:40} {error}")
        print(f"{len(rows)} failed job(s)")
        return 0
    if not args.all and not args.job_ids:
        print("hoso jobs retry: name job ids, or --all", file=sys.stderr)
        return 2
    count = retry_jobs(settings, None if args.all else args.job_ids)
    print(f"{count} job(s) queued again")
    return 0


def _cmd_notifications(args: argparse.Namespace) -> int:
    from gateway.http.app import connect_redis
    from worker.context import configure
    from worker.notifications import notifier

    settings = _settings()
    configure(settings, connect_redis(settings.redis.effective_url()))
    indexed = notifier().index_existing()
    print(f"{indexed} dossier(s) looked at; the open ones are indexed by appointment date")
    return 0


def _cmd_messages(args: argparse.Namespace) -> int:
    from gateway.http.app import connect_redis
    from hoso import bulk
    from hoso.progress import Progress

    settings = _settings()
    client = connect_redis(settings.redis.effective_url())
    if args.action == "reindex":
        count = bulk.reindex_messages(client, Progress)
        print(f"{count} SMS indexed by phone and dossier")
        return 0
    since_ms = 0
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            print(f"hoso messages resend-failed: --since {args.since}: not a date", file=sys.stderr)
            return 2
        since_ms = int((since if since.tzinfo else since.replace(tzinfo=UTC)).timestamp() * 1000)
    ids = bulk.failed_messages(client, since_ms, args.dossier or "", Progress)
    if args.dry_run or not ids:
        print(f"{len(ids)} failed SMS to resend" + (" (dry run: none queued)" if ids else ""))
        return 0
    done = bulk.resend_failed(client, ids, int(time.time() * 1000), Progress)
    for item in done:
        print(f"{item.old} -> {item.new}")
    print(f"{len(done)} failed SMS queued again as new SMS")
    return 0


def _cmd_dossiers(args: argparse.Namespace) -> int:
    from gateway.http.app import connect_redis
    from gateway.store.dossiers import DossierStore
    from hoso import bulk
    from hoso.progress import Progress

    settings = _settings()
    path = Path(args.file)
    fmt = args.format or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"hoso dossiers import: {path}: {exc}", file=sys.stderr)
        return 2
    rows = list(bulk.read_rows(text, fmt))
    store = DossierStore(connect_redis(settings.redis.effective_url()))
    skew = timedelta(seconds=settings.gateway.clock_skew)
    report = bulk.import_dossiers(store, args.department, rows, datetime.now(UTC), Progress, skew)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            for result in report.results:
                out.write(json.dumps(result, ensure_ascii=False) + "\n")
    for number, problem in report.errors:
        print(f"{path}:{number}: {problem}", file=sys.stderr)
    print(
        f"{report.created} dossier(s) registered, {report.existing} already there, "
        f"{len(report.errors)} row(s) refused"
        + (f"; codes and secrets in {args.output}" if args.output else "")
    )
    return 1 if report.errors else 0


def _cmd_receipt(args: argparse.Namespace) -> int:
    from gateway.core.tracking import tracking_url
    from gateway.http.app import connect_redis
    from gateway.receipts import render_receipt
    from gateway.store.dossiers import DossierStore

    settings = _settings()
    store = DossierStore(connect_redis(settings.redis.effective_url()))
    code = store.find(args.code)
    if code is None:
        print(f"hoso receipt: no dossier {args.code}", file=sys.stderr)
        return 1
    dossier = store.get(code)
    made = render_receipt(
        dossier,
        width_mm=args.width,
        tracking_url=tracking_url(settings.gateway.public_url, dossier.short_code),
        office=settings.sms.office,
        sms_number=settings.sms.number,
        printed_at=datetime.now(UTC),
    )
    out = args.output or f"{dossier.short_code}.{args.format}"
    data = (
        made.png()
        if args.format == "png"
        else (made.svg() if args.format == "svg" else made.html()).encode()
    )
    Path(out).write_bytes(data)
    print(f"{out}: receipt of {dossier.code} ({args.width} mm, {args.format})")
    return 0


def _cmd_scanner(_: argparse.Namespace) -> int:
    from scanner.config import load_station_settings
    from scanner.main import main as scanner_main

    try:
        settings = load_station_settings()
    except ConfigError as exc:
        print(f"hoso scanner: configuration error: {exc}", file=sys.stderr)
        return 2
    return scanner_main(settings)


def _cmd_stations(args: argparse.Namespace) -> int:
    from gateway.http.app import connect_redis
    from gateway.store.stations import Station, Stations

    settings = _settings()
    stations = Stations(connect_redis(settings.redis.effective_url()))
    if args.action == "list":
        for s in stations.all():
            implied = f" status={s.status}" if s.status is not None else ""
            allowed = f" allowed={s.allowed_hours}h" if s.allowed_hours is not None else ""
            print(f"{s.id:12} desk={s.desk!r}{implied}{allowed} {s.name}")
        return 0
    try:
        stations.save(
            Station(args.station, args.desk, args.name or "", args.status, args.allowed_hours)
        )
    except ValueError as exc:
        print(f"hoso stations: {exc}", file=sys.stderr)
        return 2
    print(f"{args.station}: scans there hand the paper to {args.desk!r}")
    return 0


def _cmd_modem(args: argparse.Namespace) -> int:
    from modem.service import main as modem_main

    only = frozenset(args.modem) if args.modem else None
    return modem_main(_settings(), Path(args.sim_dir) if args.sim_dir else None, only)


def _cmd_smpp(args: argparse.Namespace) -> int:
    from modem.smpp.main import main as smpp_main

    return smpp_main(_settings(), args.link)


def _cmd_routes(args: argparse.Namespace) -> int:
    from gateway.core.routes import RouteError, format_routes, queues
    from gateway.http.app import connect_redis
    from gateway.routing import Router

    settings = _settings()
    router = Router(connect_redis(settings.redis.effective_url()), settings)
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
        states = {via: "down" if router.is_down(via) else "up" for via in queues(shown.routes, "")}
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


def _cmd_check_config(args: argparse.Namespace) -> int:
    import os

    from config.check import check_file, check_station, default_file

    env = dict(os.environ)
    if args.station:
        from scanner.config import load_station_settings

        named = args.file or env.get("HOSO_STATION_CONFIG") or env.get("HOSO_CONFIG")
        if not named:
            print("hoso check-config: name the station's file", file=sys.stderr)
            return 2
        report = check_station(Path(named), env, load_station_settings)
    else:
        report = check_file(Path(args.file) if args.file else default_file(env), env)
    for problem in report.problems:
        print(problem.line())
    errors, warnings = len(report.errors()), len(report.warnings())
    if not report.ok:
        print(f"{report.source}: {errors} error(s), {warnings} warning(s)")
        return 1
    print(f"{report.source}: OK" + (f" ({warnings} warning(s))" if warnings else ""))
    for line in report.summary:
        print(f"  {line}")
    return 0


def _cmd_modems(args: argparse.Namespace) -> int:
    from gateway.http.app import connect_redis
    from gateway.store.modems import (
        OPERATOR_FIELDS,
        InvalidModemChange,
        ModemRegistry,
        UnknownModem,
        parse_text_changes,
    )

    settings = _settings()
    registry = ModemRegistry(connect_redis(settings.redis.effective_url()))
    if args.action == "list":
        pool = {m.id: m for m in registry.effective(settings.modems)}
        for modem in sorted(set(pool) | set(registry.known())):
            h = registry.health(modem)
            m = pool.get(modem)
            caps = f"{m.per_minute}/min {m.per_hour}/h {m.per_day}/day" if m else "-"
            quarantine = registry.quarantined(modem)
            print(
                f"{modem:8} {h.get('state', 'unknown'):12}"
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
    except (InvalidModemChange, UnknownModem) as exc:
        print(f"hoso modems: {exc}", file=sys.stderr)
        return 2
    print(f"{args.modem}: {changes} (applied live by the modem service)")
    return 0


def _cmd_templates(args: argparse.Namespace) -> int:
    from gateway.core.errors import CoreError
    from gateway.core.sms_text import fill, render, sample_values
    from gateway.http.app import connect_redis
    from gateway.store.templates import Templates

    settings = _settings()
    templates = Templates(connect_redis(settings.redis.effective_url()))
    try:
        if args.action == "list":
            for name, (template, edited) in templates.all().items():
                flags = ("edited" if edited else "default") + (
                    ", urgent" if template.urgent else ""
                )
                print(f"{name:30} ({flags})\n    {template.body}")
            return 0
        if args.action == "set":
            templates.save(args.name, args.body)
            print(f"{args.name}: saved")
        elif args.action == "reset":
            templates.reset(args.name)
            print(f"{args.name}: back to the default")
        template = templates.get(args.name)
        samples = sample_values(settings.sms.office, settings.sms.hotline) | dict(
            kv.split("=", 1) for kv in getattr(args, "values", []) or []
        )
        values = {k: v for k, v in samples.items() if k in template.placeholders}
        for accented in (False, True):
            shown = render(fill(template, values), accented)
            label = "accented if free" if accented else "default"
            print(f"[{label}: {shown.alphabet}, {shown.parts} part(s), {len(shown.text)} chars]")
            print(f"  {shown.text}")
    except (CoreError, KeyError) as exc:
        print(f"hoso templates: {exc}", file=sys.stderr)
        return 2
    return 0


def _cmd_admin(args: argparse.Namespace) -> int:
    """`hoso admin create-user NAME --role admin|viewer`: an account of the dashboard;
    `hoso admin set-password NAME`: a new password for it, which ends all its sessions."""
    import getpass

    from gateway.http.app import connect_redis
    from gateway.store.users import AdminUsers, Role, UserError

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"Mật khẩu cho {args.name}: ")
        if getpass.getpass("Nhập lại mật khẩu: ") != password:
            print("hoso admin: the two passwords differ; nothing was changed", file=sys.stderr)
            return 2
    settings = _settings()
    users = AdminUsers(connect_redis(settings.redis.effective_url()))
    try:
        if args.action == "set-password":
            users.set_password(args.name, password)
            print(f"{args.name}: new password set; every session of the account has ended")
            return 0
        user = users.create(args.name, password, Role(args.role), replace=args.replace)
    except UserError as exc:
        print(f"hoso admin: {exc}", file=sys.stderr)
        return 2
    print(f"{user.username}: account {'replaced' if args.replace else 'created'} ({user.role})")
    return 0


def _sim(argv: list[str]) -> int:
    """`hoso sim ...` is parsed by the emulator's own parser, whose --help lists its commands
    (start, sms, sent, fault, modems) and each command's --help its options."""
    from modem.emulator.cli import main as sim_main

    code: int = sim_main(argv)
    return code


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hoso", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    gw = sub.add_parser("gateway", help="serve the HTTP API and web pages (gunicorn)")
    gw.add_argument("--bind", help="HOST:PORT to listen on (default 127.0.0.1:8080)")
    gw.add_argument("--workers", type=int, help="worker processes (default: one per core)")
    gw.set_defaults(func=_cmd_gateway)

    rd = sub.add_parser("redis", help="run the embedded Redis (AOF, appendfsync always)")
    rd.set_defaults(func=_cmd_redis)

    up = sub.add_parser("up", help="run everything on embedded defaults")
    up.add_argument("--bind", help="where the gateway listens (default 127.0.0.1:8080)")
    up.set_defaults(func=_cmd_up)

    keys = sub.add_parser("keys", help="API credentials of departments and stations")
    ksub = keys.add_subparsers(dest="action", required=True)
    create = ksub.add_parser("create", help="mint a key id and secret")
    owner = create.add_mutually_exclusive_group(required=True)
    owner.add_argument("--department", help="department id")
    owner.add_argument("--station", help="scanner station id")
    create.add_argument("--json", action="store_true", help='print {"key_id": ..., "secret": ...}')
    klist = ksub.add_parser("list", help="every key: id, kind, owner, times, fingerprint")
    klist.add_argument("--json", action="store_true", help="one JSON object per key and line")
    revoke = ksub.add_parser("revoke", help="revoke a key at once and for good")
    revoke.add_argument("key_id")
    ksub.add_parser(
        "rotate-master",
        help="a new master key, every secret sealed again under it (rerun after a crash)",
    )
    ksub.add_parser("upgrade", help="seal the keys of hoso 0.2 again in the current format (once)")
    keys.set_defaults(func=_cmd_keys)

    wk = sub.add_parser("worker", help="run jobs: answer citizens' SMS, send notifications")
    wk.add_argument("--burst", action="store_true", help="stop when the queues are empty")
    wk.set_defaults(func=_cmd_worker)

    cr = sub.add_parser("cron", help="enqueue the periodic jobs (run one per installation)")
    cr.set_defaults(func=_cmd_cron)

    jobs = sub.add_parser("jobs", help="failed jobs: list them, run them again")
    jsub = jobs.add_subparsers(dest="action", required=True)
    jsub.add_parser("failed", help="every failed job with its error")
    jretry = jsub.add_parser("retry", help="queue failed jobs again")
    jretry.add_argument("job_ids", nargs="*")
    jretry.add_argument("--all", action="store_true")
    jobs.set_defaults(func=_cmd_jobs)

    nt = sub.add_parser("notifications", help="notification engine maintenance")
    nsub = nt.add_subparsers(dest="action", required=True)
    nsub.add_parser(
        "reindex",
        help="index existing dossiers by appointment (an upgrade step; announces nothing past)",
    )
    nt.set_defaults(func=_cmd_notifications)

    ms = sub.add_parser("messages", help="outbound SMS in bulk: resend failed ones, reindex")
    msub = ms.add_subparsers(dest="action", required=True)
    mresend = msub.add_parser(
        "resend-failed", help="queue a copy of every failed SMS not resent yet (progress bar)"
    )
    mresend.add_argument("--since", help="only SMS created from this date/time (ISO 8601)")
    mresend.add_argument("--dossier", help="only SMS about this dossier (its full code)")
    mresend.add_argument("--dry-run", action="store_true", help="count them, queue nothing")
    msub.add_parser(
        "reindex", help="index stored SMS by phone and dossier (an upgrade step; progress bar)"
    )
    ms.set_defaults(func=_cmd_messages)

    ds = sub.add_parser("dossiers", help="dossiers in bulk: import a department's export")
    dsub = ds.add_subparsers(dest="action", required=True)
    dimport = dsub.add_parser(
        "import",
        help="register dossiers from JSON Lines or CSV, checked like the API (progress bar)",
    )
    dimport.add_argument("file", help="one registration per line (.jsonl) or row (.csv)")
    dimport.add_argument("--department", required=True, help="the department they belong to")
    dimport.add_argument("--format", choices=["jsonl", "csv"], help="default: by the extension")
    dimport.add_argument("-o", "--output", help="write code, short code and secret per dossier")
    ds.set_defaults(func=_cmd_dossiers)

    rc = sub.add_parser("receipt", help="print a dossier's receipt to a file (PNG, SVG, HTML)")
    rc.add_argument("code", help="the dossier code or short code, typed any way")
    rc.add_argument("--format", choices=["png", "svg", "html"], default="png")
    rc.add_argument("--width", type=int, choices=[58, 80], default=80, help="paper width, mm")
    rc.add_argument("-o", "--output", help="the file (default: <short code>.<format>)")
    rc.set_defaults(func=_cmd_receipt)

    sc = sub.add_parser("scanner", help="a counter station: scans -> local spool -> gateway")
    sc.set_defaults(func=_cmd_scanner)

    st = sub.add_parser("stations", help="counter stations as the gateway knows them")
    stsub = st.add_subparsers(dest="action", required=True)
    stsub.add_parser("list", help="every configured station")
    stset = stsub.add_parser("set", help="the desk a station stands for")
    stset.add_argument("station")
    stset.add_argument("--desk", required=True, help='e.g. "Phòng Tư pháp"')
    stset.add_argument("--name", help="a label for people")
    stset.add_argument("--status", type=int, help="the status a scan there implies (1-10)")
    stset.add_argument("--allowed-hours", type=float, help="how long a dossier may stay there")
    st.set_defaults(func=_cmd_stations)

    md = sub.add_parser("modem", help="the modem service: drives this host's GSM modems")
    md.add_argument("--sim-dir", help="also drive every emulated modem of `hoso sim` in DIR")
    md.add_argument(
        "--modem",
        action="append",
        metavar="ID",
        help="drive only this modem (repeatable; default: every modem of the pool)",
    )
    md.set_defaults(func=_cmd_modem)

    sm = sub.add_parser("smpp", help="a carrier link: SMS over SMPP through a carrier's SMSC")
    sm.add_argument("--link", required=True, metavar="ID", help="the id of its [[smpp]] table")
    sm.set_defaults(func=_cmd_smpp)

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

    chk = sub.add_parser("check-config", help="check a configuration file: every problem at once")
    chk.add_argument("file", nargs="?", help="the file (default: HOSO_CONFIG or config/hoso.toml)")
    chk.add_argument("--station", action="store_true", help="a counter station's file")
    chk.set_defaults(func=_cmd_check_config)

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

    tpl = sub.add_parser("templates", help="SMS texts: list, edit, preview, reset")
    tsub = tpl.add_subparsers(dest="action", required=True)
    tsub.add_parser("list", help="every template, default or edited")
    tset = tsub.add_parser("set", help="edit a template (checked before it is saved)")
    tset.add_argument("name")
    tset.add_argument("body")
    tprev = tsub.add_parser("preview", help="the rendered SMS, its alphabet and part count")
    tprev.add_argument("name")
    tprev.add_argument("values", nargs="*", metavar="KEY=VALUE")
    treset = tsub.add_parser("reset", help="back to the shipped default")
    treset.add_argument("name")
    tpl.set_defaults(func=_cmd_templates)

    adm = sub.add_parser("admin", help="accounts of the administrators' dashboard")
    asub = adm.add_subparsers(dest="action", required=True)
    acreate = asub.add_parser("create-user", help="an account (asks for the password twice)")
    acreate.add_argument("name", help="the username (a-z, 0-9, '.', '_', '-')")
    acreate.add_argument("--role", choices=["admin", "viewer"], required=True)
    acreate.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin (scripts)"
    )
    acreate.add_argument(
        "--replace", action="store_true", help="set a new password and role on an existing account"
    )
    apass = asub.add_parser("set-password", help="a new password; ends all the account's sessions")
    apass.add_argument("name")
    apass.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin (scripts)"
    )
    adm.set_defaults(func=_cmd_admin)

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
