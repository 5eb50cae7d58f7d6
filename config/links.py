"""The `[[smpp]]` (carrier links) and `[[routes]]` (routing rules) tables: read and checked.

One home for what these tables may hold: the loader (`config/loader.py`) stops at the first error
of a starting process, `hoso check-config` (`config/check.py`) reports every finding at once, and
both call the functions here. What only a host can tell (is the password file there and private?)
is asked through `Host`, like the rest of check-config.

Secrets: a link's password belongs in `password_file` (a file only root and hoso can read, e.g.
/etc/hoso/smpp-<id>.password), not in hoso.toml, which operators copy, diff and paste; `password`
is accepted (the contract names it) with a warning.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from config.host import Host
from config.settings import ModemSettings, RouteSettings, SmppSettings
from gateway.core.routes import (
    ROUTE_ID,
    RouteError,
    RouteKind,
    make_rule,
    parse_kind,
    parse_office,
)

BINDS = ("transceiver", "transmitter+receiver")
LONG_MODES = ("udh", "sar", "payload")
CODINGS = ("auto", "ucs2")
RECEIPT_IDS = ("same", "hex", "decimal")
NUMBER_FORMATS = ("international", "national")
RESERVED_IDS = ("shared",)  # the modems' shared queue's name
BRANDNAME = re.compile(r"[A-Za-z0-9 .\-_&]{1,11}")  # an alphanumeric sender: 11 GSM characters
SHORT_CODE = re.compile(r"[0-9]{3,15}")
MAX_SYSTEM_ID = 15  # SMPP 3.4 C-Octet strings, terminator left out
MAX_PASSWORD = 8
MAX_SYSTEM_TYPE = 12


class Finding(NamedTuple):
    severity: str  # "error" or "warning"
    key: str  # "smpp[0].password"
    text: str  # the sentence, starting with the key


def _error(key: str, text: str) -> Finding:
    return Finding("error", key, f"{key} {text}")


def _warning(key: str, text: str) -> Finding:
    return Finding("warning", key, f"{key} {text}")


# -- [[smpp]] ------------------------------------------------------------------------------------

_FIELDS = {f.name: f for f in dataclasses.fields(SmppSettings)}
_DEFAULTS = SmppSettings(id="", host="")
_OPTIONAL_INTS = ("source_ton", "source_npi", "dest_ton", "dest_npi")


def read_links(tables: object) -> tuple[list[Finding], list[SmppSettings]]:
    """Every `[[smpp]]` table as settings, and what is wrong with them (types, required keys,
    values out of range, ids used twice)."""
    if not isinstance(tables, list):
        return [Finding("error", "smpp", "smpp must be an array of tables ([[smpp]])")], []
    findings: list[Finding] = []
    links: list[SmppSettings] = []
    first: dict[str, int] = {}
    for i, table in enumerate(tables):
        at = f"smpp[{i}]"
        if not isinstance(table, dict):
            findings.append(Finding("error", at, f"{at} must be a table"))
            continue
        found, link = _read_link(at, table)
        findings += found
        if link is None:
            continue
        if link.id in first:
            findings.append(
                _error(
                    f"{at}.id", f"{link.id!r} is also smpp[{first[link.id]}].id (ids are unique)"
                )
            )
            continue
        first[link.id] = i
        findings += check_link(link, at)
        links.append(link)
    return findings, links


def _read_link(at: str, table: dict[str, Any]) -> tuple[list[Finding], SmppSettings | None]:
    findings = [
        _error(f"{at}.{k}", "is not a key of [[smpp]]") for k in sorted(set(table) - set(_FIELDS))
    ]
    for required in ("id", "host"):
        if not isinstance(table.get(required), str) or not table[required]:
            findings.append(_error(f"{at}.{required}", "is required (a string)"))
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in _FIELDS:
            continue
        default = getattr(_DEFAULTS, key)
        if key in _OPTIONAL_INTS:
            ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 255
            if not ok:
                findings.append(_error(f"{at}.{key}", f"must be a number 0-255, not {value!r}"))
                continue
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                findings.append(_error(f"{at}.{key}", f"must be true or false, not {value!r}"))
                continue
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                findings.append(_error(f"{at}.{key}", f"must be a whole number, not {value!r}"))
                continue
        elif not isinstance(value, str):
            findings.append(_error(f"{at}.{key}", f"must be a string, not {value!r}"))
            continue
        values[key] = value
    if any(f.severity == "error" for f in findings):
        return findings, None
    return findings, SmppSettings(**values)


def check_link(link: SmppSettings, at: str) -> list[Finding]:
    """What a link's values must be, beyond their types."""
    out: list[Finding] = []

    def choice(key: str, allowed: Sequence[str]) -> None:
        value = getattr(link, key)
        if value not in allowed:
            out.append(_error(f"{at}.{key}", f"must be one of {', '.join(allowed)}, not {value!r}"))

    if not ROUTE_ID.fullmatch(link.id):
        out.append(
            _error(
                f"{at}.id", f"{link.id!r}: letters, digits, '-', '_', '.' (a systemd instance name)"
            )
        )
    elif link.id in RESERVED_IDS:
        out.append(_error(f"{at}.id", f"{link.id!r} is reserved (the shared queue's name)"))
    if not 0 < link.port < 65536:
        out.append(_error(f"{at}.port", f"{link.port} is not a port number"))
    if not link.system_id:
        out.append(_error(f"{at}.system_id", "is required (the account the carrier gave)"))
    elif len(link.system_id) > MAX_SYSTEM_ID:
        out.append(
            _error(f"{at}.system_id", f"has more than {MAX_SYSTEM_ID} characters (SMPP 3.4)")
        )
    if len(link.system_type) > MAX_SYSTEM_TYPE:
        out.append(_error(f"{at}.system_type", f"has more than {MAX_SYSTEM_TYPE} characters"))
    if link.password and link.password_file:
        out.append(_error(f"{at}.password", "and password_file are both set: keep password_file"))
    elif not link.password and not link.password_file:
        out.append(_error(f"{at}.password_file", "is required (a file holding the password)"))
    elif link.password:
        out.append(
            _warning(
                f"{at}.password",
                "is written in the configuration file: move it to password_file (mode 0640)",
            )
        )
        if len(link.password) > MAX_PASSWORD:
            out.append(
                _error(f"{at}.password", f"has more than {MAX_PASSWORD} characters (SMPP 3.4)")
            )
    if not link.source:
        out.append(
            _error(f"{at}.source", "is required (the brandname or short code it sends from)")
        )
    elif not (SHORT_CODE.fullmatch(link.source) or BRANDNAME.fullmatch(link.source)):
        out.append(
            _error(
                f"{at}.source",
                f"{link.source!r} is neither a short code (digits) nor a brandname"
                " (up to 11 letters, digits, spaces, '.', '-', '_', '&')",
            )
        )
    choice("bind", BINDS)
    choice("long", LONG_MODES)
    choice("coding", CODINGS)
    choice("receipt_ids", RECEIPT_IDS)
    choice("number_format", NUMBER_FORMATS)
    for key, low in (("tps", 1), ("window", 1), ("enquire_link", 5), ("response_timeout", 1)):
        if getattr(link, key) < low:
            out.append(_error(f"{at}.{key}", f"must be at least {low}"))
    if link.window > 1000:
        out.append(
            _warning(
                f"{at}.window", f"{link.window} outstanding submits is more than carriers allow"
            )
        )
    for key, high in (("source_ton", 6), ("dest_ton", 6), ("source_npi", 18), ("dest_npi", 18)):
        value = getattr(link, key)
        if value is not None and value > high:
            out.append(_error(f"{at}.{key}", f"must be 0-{high} (SMPP 3.4)"))
    if not link.receipts:
        out.append(
            _warning(
                f"{at}.receipts",
                "is false: SMS stay 'submitted' (never delivered or failed), and a submit whose"
                " fate a crash left unknown is always sent again",
            )
        )
    return out


def link_host_findings(links: Iterable[SmppSettings], host: Host) -> list[Finding]:
    """Password files: there, readable by this user, private."""
    out: list[Finding] = []
    for i, link in enumerate(links):
        if not link.password_file:
            continue
        key = f"smpp[{i}].password_file"
        mode = host.mode(link.password_file)
        if mode is None:
            out.append(_warning(key, f"{link.password_file} does not exist on this host"))
        elif not host.readable(link.password_file):
            out.append(_error(key, f"{link.password_file} is not readable by this user"))
        elif mode & 0o007:
            out.append(
                _warning(
                    key, f"{link.password_file} has mode {mode:04o}: others can read it (0640)"
                )
            )
    return out


def id_clashes(links: Iterable[SmppSettings], modems: Iterable[ModemSettings]) -> list[Finding]:
    """A link id that is also a modem id: both would share one queue."""
    modem_ids = {m.id for m in modems}
    return [
        _error(f"smpp[{i}].id", f"{link.id!r} is also a modem's id (modems and links share ids)")
        for i, link in enumerate(links)
        if link.id in modem_ids
    ]


def read_password(link: SmppSettings) -> str:
    """The link's password, from password_file (read once, in `main()`) or the table."""
    if link.password_file:
        with open(link.password_file, encoding="utf-8") as f:
            return f.read().strip()
    return link.password


# -- [[routes]] ----------------------------------------------------------------------------------


def read_routes(
    tables: object, links: Iterable[SmppSettings], modems: Iterable[ModemSettings]
) -> tuple[list[Finding], list[RouteSettings]]:
    """Every `[[routes]]` table as settings, each checked as the CLI and dashboard check a rule."""
    if not isinstance(tables, list):
        return [Finding("error", "routes", "routes must be an array of tables ([[routes]])")], []
    link_ids = [link.id for link in links]
    modem_ids = {m.id for m in modems}
    findings: list[Finding] = []
    rules: list[RouteSettings] = []
    first: dict[tuple[str, str], int] = {}
    for i, table in enumerate(tables):
        at = f"routes[{i}]"
        if not isinstance(table, dict):
            findings.append(Finding("error", at, f"{at} must be a table"))
            continue
        extra = sorted(set(table) - {"kind", "via", "office"})
        findings += [
            _error(f"{at}.{k}", "is not a key of [[routes]] (kind, via, office)") for k in extra
        ]
        kind, via, office = table.get("kind"), table.get("via"), table.get("office", "*")
        if not isinstance(kind, str):
            findings.append(_error(f"{at}.kind", 'is required: "reply" or "notification"'))
            continue
        if not isinstance(via, list) or not all(isinstance(v, str) for v in via):
            findings.append(
                _error(f"{at}.via", 'must be a list of routes, e.g. ["link:brand", "modems"]')
            )
            continue
        if not isinstance(office, str):
            findings.append(_error(f"{at}.office", "must be a string ('*': any office)"))
            continue
        try:
            parse_kind(kind)
        except RouteError as exc:
            findings.append(_error(f"{at}.kind", str(exc)))
            continue
        try:
            parse_office(office)
        except RouteError as exc:
            findings.append(_error(f"{at}.office", str(exc)))
            continue
        try:
            rule = make_rule(office, kind, via, link_ids)
        except RouteError as exc:
            findings.append(_error(f"{at}.via", str(exc)))
            continue
        key = (rule.office, rule.kind.value)
        if key in first:
            findings.append(
                _error(
                    f"{at}.kind",
                    f"{rule.kind.value} for office {rule.office!r} is also routes[{first[key]}]",
                )
            )
            continue
        first[key] = i
        for route in rule.routes:
            if route.kind is RouteKind.MODEM and route.target not in modem_ids:
                findings.append(
                    _warning(
                        f"{at}.via",
                        f"modem {route.target!r} is in no [[modems]] table (fine if added live)",
                    )
                )
        rules.append(
            RouteSettings(rule.kind.value, tuple(str(r) for r in rule.routes), rule.office)
        )
    return findings, rules
