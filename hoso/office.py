"""`hoso keys|stations|offices|templates|admin`: what an office sets up and changes, each through
the one validated operation the dashboard and the admin API use too (`Keyring.create`,
`Stations.set`, `Offices.set`, `Templates.save`/`reset`, `AdminUsers`)."""

from __future__ import annotations

import argparse
import sys

from gateway.core.offices import DEFAULT_OFFICE
from hoso.wiring import Subcommands, configured, store_client


def _cmd_keys(args: argparse.Namespace) -> int:
    from hoso.keys import run

    return run(args, configured())


def add_keys(sub: Subcommands) -> None:
    keys = sub.add_parser("keys", help="API credentials of departments and stations")
    ksub = keys.add_subparsers(dest="action", required=True)
    create = ksub.add_parser("create", help="mint a key id and secret")
    owner = create.add_mutually_exclusive_group(required=True)
    owner.add_argument("--department", help="department id")
    owner.add_argument("--station", help="scanner station id")
    create.add_argument(
        "--office", default=DEFAULT_OFFICE, help=f"the office it belongs to ({DEFAULT_OFFICE})"
    )
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


def _cmd_stations(args: argparse.Namespace) -> int:
    from gateway.core.stations import InvalidStation
    from gateway.store.offices import Offices
    from gateway.store.stations import Stations

    settings = configured()
    client = store_client(settings)
    stations = Stations(client)
    if args.action == "list":
        for s in stations.all():
            implied = f" status={s.status}" if s.status is not None else ""
            allowed = f" allowed={s.allowed_hours}h" if s.allowed_hours is not None else ""
            print(f"{s.id:12} {s.office:12} desk={s.desk!r}{implied}{allowed} {s.name}")
        return 0
    fields = {
        "id": args.station,
        "desk": args.desk,
        "name": args.name or "",
        "status": args.status,
        "allowed_hours": args.allowed_hours,
    }
    if not Offices.of(client, settings.sms).exists(args.office):
        print(f"hoso stations: không có đơn vị {args.office}", file=sys.stderr)
        return 2
    try:  # the dashboard's operation and checks
        stations.set(fields, args.office)
    except InvalidStation as exc:
        print(f"hoso stations: {exc}", file=sys.stderr)
        return 2
    print(f"{args.station}: scans there hand the paper to {args.desk!r}")
    return 0


def add_stations(sub: Subcommands) -> None:
    st = sub.add_parser("stations", help="counter stations as the gateway knows them")
    stsub = st.add_subparsers(dest="action", required=True)
    stsub.add_parser("list", help="every configured station")
    stset = stsub.add_parser("set", help="the desk a station stands for")
    stset.add_argument("station")
    stset.add_argument("--desk", required=True, help='e.g. "Phòng Tư pháp"')
    stset.add_argument("--name", help="a label for people")
    stset.add_argument("--status", type=int, help="the status a scan there implies (1-10)")
    stset.add_argument("--allowed-hours", type=float, help="how long a dossier may stay there")
    stset.add_argument(
        "--office", default=DEFAULT_OFFICE, help="the office whose station it is (default: main)"
    )
    st.set_defaults(func=_cmd_stations)


def _cmd_offices(args: argparse.Namespace) -> int:
    from hoso.offices import run

    return run(args, configured())


def add_offices(sub: Subcommands) -> None:
    off = sub.add_parser("offices", help="the province's offices (one-stop shops): list, show, set")
    osub = off.add_subparsers(dest="action", required=True)
    olist = osub.add_parser("list", help=f"every office ({DEFAULT_OFFICE} first)")
    olist.add_argument("--json", action="store_true", help="one JSON object per office and line")
    oshow = osub.add_parser("show", help="one office's fields")
    oshow.add_argument("office", help="the office id")
    oset = osub.add_parser(
        "set", help="create an office, or edit one (the fields not given are kept)"
    )
    oset.add_argument("office", help="the office id (a-z, 0-9, '-'), e.g. ben-nghe")
    oset.add_argument("--name", help='accented, e.g. "UBND phường Bến Nghé" (needed to create)')
    oset.add_argument("--sms-name", help="unaccented, signs SMS (default: the name unaccented)")
    oset.add_argument("--hotline", help="printed on receipts and the lookup page")
    oset.add_argument("--numbers", help="the numbers citizens text, comma-separated")
    oset.add_argument("--address", help="printed on receipts")
    oset.add_argument("--heading", help="the lookup page's heading (default: the name)")
    oset.add_argument(
        "--shared-fallback",
        choices=["true", "false"],
        help="notifications may leave from the province's shared modems when its own are down",
    )
    oset.add_argument(
        "--reply-budget", help="replies a day for the office (0: the [sms] daily_reply_budget)"
    )
    off.set_defaults(func=_cmd_offices)


def _cmd_templates(args: argparse.Namespace) -> int:
    from gateway.core.errors import CoreError
    from gateway.core.office_routes import signature, signed
    from gateway.core.sms_preview import preview
    from gateway.core.sms_text import sample_values
    from gateway.store.offices import Offices
    from gateway.store.templates import Templates

    settings = configured()
    templates = Templates(store_client(settings))
    office = args.office or ""  # "": the province's templates
    offices = Offices.of(store_client(settings), settings.sms)
    if office and not offices.exists(office):
        print(f"hoso templates: không có đơn vị {office}", file=sys.stderr)
        return 2
    level = f"{office}: " if office else ""
    try:
        if args.action == "list":
            for name, (template, edited) in templates.all(office).items():
                flags = (("office's own" if office else "edited") if edited else "default") + (
                    ", urgent" if template.urgent else ""
                )
                print(f"{name:30} ({flags})\n    {template.body}")
            return 0
        if args.action == "set":
            templates.save(args.name, args.body, office=office)
            print(f"{level}{args.name}: saved")
        elif args.action == "reset":
            templates.reset(args.name, office)
            print(f"{level}{args.name}: back to the " + ("province's" if office else "default"))
        template = templates.get(args.name, office)
        signer = signature(offices.get(office or DEFAULT_OFFICE), settings.sms.accented_if_free)
        samples = sample_values(signer["office"], signer["hotline"], signer["number"]) | dict(
            kv.split("=", 1) for kv in getattr(args, "values", []) or []
        )
        made = preview(signed(template, offices.several()), samples, settings.sms.accented_if_free)
        for label, shown in (
            ("default", made.unaccented),
            ("accented if free", made.accented_if_free),
        ):
            print(f"[{label}: {shown.alphabet}, {shown.parts} part(s), {len(shown.text)} chars]")
            print(f"  {shown.text}")
    except (CoreError, KeyError) as exc:
        print(f"hoso templates: {exc}", file=sys.stderr)
        return 2
    return 0


def add_templates(sub: Subcommands) -> None:
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
    for parser in (tsub.choices[name] for name in ("list", "set", "preview", "reset")):
        parser.add_argument(
            "--office",
            default="",
            help="one office's own templates (its overrides over the province's)",
        )
    tpl.set_defaults(func=_cmd_templates)


def _cmd_admin(args: argparse.Namespace) -> int:
    """`hoso admin create-user NAME --role ROLE [--office ID]`: an account of the dashboard
    (`gateway.core.roles`: province-admin, office-admin, leader, viewer; "admin" is the
    province's administrator, as before offices); `hoso admin set-role NAME --role ROLE
    [--office ID]`: another role or office, at once; `hoso admin set-password NAME`: a new
    password, which ends all its sessions; `hoso admin list`."""
    import getpass

    from gateway.core.accounts import InvalidAccount
    from gateway.core.roles import PROVINCE, InvalidScope, Role
    from gateway.store.offices import Offices
    from gateway.store.users import AdminUsers, UserError

    settings = configured()
    client = store_client(settings)
    users = AdminUsers(client)
    if args.action == "list":
        for account in users.all():
            print(f"{account.username:24} {account.role.value:15} {account.office}")
        return 0
    office = getattr(args, "office", None)
    if (
        office is not None
        and office != PROVINCE
        and not Offices.of(client, settings.sms).exists(office)
    ):
        print(f"hoso admin: không có đơn vị {office}", file=sys.stderr)
        return 2
    if args.action == "set-role":
        role = Role(args.role)
        try:
            users.set_role(args.name, role, office)
        except (InvalidScope, UserError) as exc:
            print(f"hoso admin: {exc}", file=sys.stderr)
            return 2
        shown = users.get(args.name)
        print(f"{args.name}: role {role.value}, office {shown.office if shown else office}")
        return 0

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"Mật khẩu cho {args.name}: ")
        if getpass.getpass("Nhập lại mật khẩu: ") != password:
            print("hoso admin: the two passwords differ; nothing was changed", file=sys.stderr)
            return 2
    try:
        if args.action == "set-password":
            users.set_password(args.name, password)
            print(f"{args.name}: new password set; every session of the account has ended")
            return 0
        role = Role(args.role)
        user = users.create(
            args.name, password, role, replace=args.replace, office=office or PROVINCE
        )
    except (InvalidAccount, InvalidScope, UserError) as exc:
        print(f"hoso admin: {exc}", file=sys.stderr)
        return 2
    done = "replaced" if args.replace else "created"
    print(f"{user.username}: account {done} ({user.role.value}, office {user.office})")
    return 0


ROLE_CHOICES = ["province-admin", "office-admin", "leader", "viewer", "admin"]
ROLE_HELP = (
    "province-admin (every office; 'admin' is the same), office-admin (its office), "
    "leader (reads dossiers and charts), viewer (reads, changes nothing)"
)
OFFICE_HELP = "the account's office id, or '*' for the whole province (the default)"


def add_admin(sub: Subcommands) -> None:
    adm = sub.add_parser("admin", help="accounts of the administrators' dashboard")
    asub = adm.add_subparsers(dest="action", required=True)
    acreate = asub.add_parser("create-user", help="an account (asks for the password twice)")
    acreate.add_argument("name", help="the username (a-z, 0-9, '.', '_', '-')")
    acreate.add_argument("--role", choices=ROLE_CHOICES, required=True, help=ROLE_HELP)
    acreate.add_argument("--office", help=OFFICE_HELP)
    acreate.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin (scripts)"
    )
    acreate.add_argument(
        "--replace", action="store_true", help="set a new password and role on an existing account"
    )
    arole = asub.add_parser("set-role", help="another role or office; takes effect at once")
    arole.add_argument("name")
    arole.add_argument("--role", choices=ROLE_CHOICES, required=True, help=ROLE_HELP)
    arole.add_argument("--office", help=OFFICE_HELP + " (default: the account's own)")
    asub.add_parser("list", help="every account: role and office")
    apass = asub.add_parser("set-password", help="a new password; ends all the account's sessions")
    apass.add_argument("name")
    apass.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin (scripts)"
    )
    adm.set_defaults(func=_cmd_admin)
