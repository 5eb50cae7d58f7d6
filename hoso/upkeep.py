"""`hoso jobs|notifications|messages|dossiers|receipt|check-config`: an operator's upkeep of what
is stored (failed jobs, upgrade steps, SMS and dossiers in bulk, a receipt printed again) and of
the configuration files."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.core.offices import DEFAULT_OFFICE
from hoso.wiring import Subcommands, configured, store_client


def _cmd_jobs(args: argparse.Namespace) -> int:
    from worker.main import failed_jobs, retry_jobs

    settings = configured()
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


def add_jobs(sub: Subcommands) -> None:
    jobs = sub.add_parser("jobs", help="failed jobs: list them, run them again")
    jsub = jobs.add_subparsers(dest="action", required=True)
    jsub.add_parser("failed", help="every failed job with its error")
    jretry = jsub.add_parser("retry", help="queue failed jobs again")
    jretry.add_argument("job_ids", nargs="*")
    jretry.add_argument("--all", action="store_true")
    jobs.set_defaults(func=_cmd_jobs)


def _cmd_notifications(args: argparse.Namespace) -> int:
    from worker.context import configure
    from worker.notifications import notifier

    settings = configured()
    configure(settings, store_client(settings))
    indexed = notifier().index_existing()
    print(f"{indexed} dossier(s) looked at; the open ones are indexed by appointment date")
    return 0


def add_notifications(sub: Subcommands) -> None:
    nt = sub.add_parser("notifications", help="notification engine maintenance")
    nsub = nt.add_subparsers(dest="action", required=True)
    nsub.add_parser(
        "reindex",
        help="index existing dossiers by appointment (an upgrade step; announces nothing past)",
    )
    nt.set_defaults(func=_cmd_notifications)


def _cmd_messages(args: argparse.Namespace) -> int:
    from hoso import bulk
    from hoso.progress import Progress

    settings = configured()
    client = store_client(settings)
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


def add_messages(sub: Subcommands) -> None:
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


def _cmd_dossiers(args: argparse.Namespace) -> int:
    from gateway.store.dossiers import DossierStore
    from gateway.store.offices import Offices
    from hoso import bulk
    from hoso.progress import Progress

    settings = configured()
    path = Path(args.file)
    fmt = args.format or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"hoso dossiers import: {path}: {exc}", file=sys.stderr)
        return 2
    rows = list(bulk.read_rows(text, fmt))
    store = DossierStore(store_client(settings))
    skew = timedelta(seconds=settings.gateway.clock_skew)
    offices = Offices.of(store_client(settings), settings.sms)
    if not offices.exists(args.office):
        print(f"hoso dossiers import: không có đơn vị {args.office}", file=sys.stderr)
        return 2
    report = bulk.import_dossiers(
        store, args.department, args.office, rows, datetime.now(UTC), Progress, skew
    )
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


def add_dossiers(sub: Subcommands) -> None:
    ds = sub.add_parser("dossiers", help="dossiers in bulk: import a department's export")
    dsub = ds.add_subparsers(dest="action", required=True)
    dimport = dsub.add_parser(
        "import",
        help="register dossiers from JSON Lines or CSV, checked like the API (progress bar)",
    )
    dimport.add_argument("file", help="one registration per line (.jsonl) or row (.csv)")
    dimport.add_argument("--department", required=True, help="the department they belong to")
    dimport.add_argument(
        "--office", default=DEFAULT_OFFICE, help=f"the office they belong to ({DEFAULT_OFFICE})"
    )
    dimport.add_argument("--format", choices=["jsonl", "csv"], help="default: by the extension")
    dimport.add_argument("-o", "--output", help="write code, short code and secret per dossier")
    ds.set_defaults(func=_cmd_dossiers)


def _cmd_receipt(args: argparse.Namespace) -> int:
    from gateway.core.office_contact import contact_of
    from gateway.core.tracking import tracking_url
    from gateway.receipts import render_receipt
    from gateway.store.dossiers import DossierStore
    from gateway.store.offices import Offices

    settings = configured()
    store = DossierStore(store_client(settings))
    code = store.find(args.code)
    if code is None:
        print(f"hoso receipt: no dossier {args.code}", file=sys.stderr)
        return 1
    dossier = store.get(code)
    offices = Offices.of(store_client(settings), settings.sms)
    office = contact_of(offices.get(dossier.office), settings.sms.number)
    made = render_receipt(
        dossier,
        width_mm=args.width,
        tracking_url=tracking_url(settings.gateway.public_url, dossier.short_code),
        office=office.name,
        sms_number=office.number,
        hotline=office.hotline,
        address=office.address,
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


def add_receipt(sub: Subcommands) -> None:
    rc = sub.add_parser("receipt", help="print a dossier's receipt to a file (PNG, SVG, HTML)")
    rc.add_argument("code", help="the dossier code or short code, typed any way")
    rc.add_argument("--format", choices=["png", "svg", "html"], default="png")
    rc.add_argument("--width", type=int, choices=[58, 80], default=80, help="paper width, mm")
    rc.add_argument("-o", "--output", help="the file (default: <short code>.<format>)")
    rc.set_defaults(func=_cmd_receipt)


def _cmd_check_config(args: argparse.Namespace) -> int:
    import os

    from config.check import check_file, default_file
    from config.check_station import check_station

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


def add_check_config(sub: Subcommands) -> None:
    chk = sub.add_parser("check-config", help="check a configuration file: every problem at once")
    chk.add_argument("file", nargs="?", help="the file (default: HOSO_CONFIG or config/hoso.toml)")
    chk.add_argument("--station", action="store_true", help="a counter station's file")
    chk.set_defaults(func=_cmd_check_config)
