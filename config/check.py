"""`hoso check-config`: every problem of a configuration file at once, before a process meets it.

The loader stops at the first bad value, as a starting process should; this module goes on and
reports all of them, one line each naming the key and the file (or the environment variable), and
also what the loader cannot know: two modems with one id or one serial port, caps that contradict
each other, a port or key file that is missing or unreadable on this host, quiet hours that are
not times of day, a Redis URL of an unknown form. Problems are errors (a process would refuse the
file or misbehave) or warnings (worth a look: a modem port that does not exist here may well be on
another modem host).

Questions to the file system go through a `Host`, so the checks run in tests on a made-up one.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import stat
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from config.links import (
    id_clashes,
    link_host_findings,
    read_links,
    read_routes,
)
from config.loader import (
    ARRAYS,
    DEFAULT_FILE,
    REMOVED_KEYS,
    SECTIONS,
    ConfigError,
    check_value,
    coerce_value,
    load_settings,
)
from config.settings import ModemSettings, Settings
from gateway.core.errors import CoreError
from gateway.core.notify import clock_time, notifying_statuses
from gateway.core.phones import CARRIER_PREFIXES, normalise_phone
from gateway.core.workdays import CalendarError, parse_calendar

REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+sentinel")
BAUDRATES = (9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)
RESERVED_MODEM_IDS = ("shared",)  # the shared outbound queue's name (keys.outbox_wake("shared"))
MODEM_ID = re.compile(r"[A-Za-z0-9_.-]+")  # also a systemd instance name: hoso-modem@<id>
PIN = re.compile(r"[0-9]{4,8}")
LOOPBACK_NAMES = ("localhost",)


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    severity: Severity
    where: str  # the file, or "environment HOSO_..."
    key: str  # "modems[1].port"; empty for the file as a whole
    text: str  # the sentence, starting with the key when there is one

    def line(self) -> str:
        prefix = "warning: " if self.severity is Severity.WARNING else ""
        return f"{self.where}: {prefix}{self.text}"


class Host(Protocol):
    """What the checks ask of the machine they run on."""

    def exists(self, path: str) -> bool: ...

    def readable(self, path: str) -> bool: ...

    def mode(self, path: str) -> int | None:
        """Permission bits of a file, None when it does not exist."""
        ...


class LocalHost:
    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def readable(self, path: str) -> bool:
        return os.access(path, os.R_OK)

    def mode(self, path: str) -> int | None:
        try:
            return stat.S_IMODE(os.stat(path).st_mode)
        except OSError:
            return None


@dataclass(frozen=True, slots=True)
class Report:
    source: str
    problems: tuple[Problem, ...]
    summary: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not any(p.severity is Severity.ERROR for p in self.problems)

    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.WARNING]


# -- the whole file ----------------------------------------------------------------------------


def check_file(path: Path | None, env: Mapping[str, str], host: Host | None = None) -> Report:
    """Checks the settings a process would load from `path` (None: built-in defaults) with the
    environment's ``HOSO_<SECTION>_<KEY>`` overrides applied, as the processes apply them."""
    host = host or LocalHost()
    source = "built-in defaults" if path is None else str(path)
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            return Report(source, (_error(source, "", f"cannot read: {exc.strerror}"),))
        except tomllib.TOMLDecodeError as exc:
            return Report(source, (_error(source, "", f"not valid TOML: {exc}"),))
    return check_tables(raw, source, env, host, path)


def check_tables(
    raw: Mapping[str, Any],
    source: str,
    env: Mapping[str, str],
    host: Host,
    path: Path | None = None,
) -> Report:
    """Checks parsed TOML (`source` names it in messages). With `path`, the loader itself also
    reads the file, so that nothing it refuses passes here."""
    problems, settings = structure_problems(raw, source, env)
    if settings is None:
        return Report(source, tuple(problems))
    problems += settings_problems(settings, source, env, host)
    if path is not None:
        loader_env = {k: v for k, v in env.items() if k != "HOSO_CONFIG"}
        try:
            settings = load_settings({**loader_env, "HOSO_CONFIG": str(path)})
        except ConfigError as exc:
            text = _without_source(str(exc), source)
            if text.split(" ", 1)[0] not in {p.key for p in problems}:  # only the loader knows
                problems.append(_error(source, "", text))
    return Report(source, tuple(problems), summarise(settings, env))


def _without_source(message: str, source: str) -> str:
    return message.removeprefix(f"{source}: ")


def _error(where: str, key: str, text: str) -> Problem:
    return Problem(Severity.ERROR, where, key, text)


def _warning(where: str, key: str, text: str) -> Problem:
    return Problem(Severity.WARNING, where, key, text)


def _loader_problem(exc: ConfigError, where: str, key: str) -> Problem:
    return _error(where, key, _without_source(str(exc), where))


# -- what the loader checks, all at once -------------------------------------------------------


def structure_problems(
    raw: Mapping[str, Any], source: str, env: Mapping[str, str]
) -> tuple[list[Problem], Settings | None]:
    """Unknown sections and keys, wrong types, negative numbers: every one, not the first; and
    the settings when there is no such error."""
    problems: list[Problem] = []
    for name in sorted(set(raw) - set(SECTIONS) - {"modems", "station", *ARRAYS}):
        problems.append(_error(source, name, f"unknown section [{name}]"))
    sections: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        table = raw.get(name, {})
        if not isinstance(table, dict):
            problems.append(_error(source, name, f"[{name}] must be a table"))
            table = {}
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for key in sorted(set(table) - set(fields)):
            removed = REMOVED_KEYS.get(f"{name}.{key}")
            if removed is not None:
                problems.append(_warning(source, f"{name}.{key}", f"{name}.{key} {removed}"))
            else:
                problems.append(_error(source, f"{name}.{key}", f"unknown key {name}.{key}"))
        values: dict[str, Any] = {}
        for field in fields.values():
            key = f"{name}.{field.name}"
            env_name = f"HOSO_{name.upper()}_{field.name.upper()}"
            where = f"environment {env_name}"
            try:
                if env_name in env:
                    values[field.name] = coerce_value(key, field.default, env[env_name], where)
                elif field.name in table:
                    where = source
                    values[field.name] = check_value(key, field.default, table[field.name], source)
            except ConfigError as exc:
                problems.append(_loader_problem(exc, where, key))
        sections[name] = values
    modem_problems_, modems = _modem_structure(raw.get("modems", []), source)
    problems += modem_problems_
    findings, links = read_links(raw.get("smpp", []))
    findings += id_clashes(links, modems)
    route_findings, routes = read_routes(raw.get("routes", []), links, modems)
    problems += [
        Problem(Severity(f.severity), source, f.key, f.text) for f in findings + route_findings
    ]
    if any(p.severity is Severity.ERROR for p in problems):
        return problems, None
    built = {name: cls(**sections[name]) for name, cls in SECTIONS.items()}
    settings = Settings(
        modems=tuple(modems), smpp=tuple(links), routes=tuple(routes), source=source, **built
    )
    return problems, settings


def _modem_structure(tables: object, source: str) -> tuple[list[Problem], list[ModemSettings]]:
    if not isinstance(tables, list):
        return [_error(source, "modems", "modems must be an array of tables ([[modems]])")], []
    problems: list[Problem] = []
    modems: list[ModemSettings] = []
    known = {f.name for f in dataclasses.fields(ModemSettings)}
    defaults = ModemSettings(id="", port="")
    for i, table in enumerate(tables):
        at = f"modems[{i}]"
        if not isinstance(table, dict):
            problems.append(_error(source, at, f"{at} must be a table"))
            continue
        fine = True
        for required in ("id", "port"):
            if not isinstance(table.get(required), str) or not table[required]:
                problems.append(
                    _error(source, f"{at}.{required}", f"{at}.{required} is required (a string)")
                )
                fine = False
        for key in sorted(set(table) - known):
            problems.append(_error(source, f"{at}.{key}", f"unknown key {at}.{key}"))
            fine = False
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key not in known:
                continue
            default = getattr(defaults, key)
            try:
                values[key] = check_value(
                    f"{at}.{key}", "" if default is None else default, value, source
                )
            except ConfigError as exc:
                problems.append(_loader_problem(exc, source, f"{at}.{key}"))
                fine = False
        if fine:
            modems.append(ModemSettings(**values))
    return problems, modems


# -- what the loader cannot know ---------------------------------------------------------------


def settings_problems(
    settings: Settings, source: str, env: Mapping[str, str], host: Host
) -> list[Problem]:
    def where(section: str, key: str) -> str:
        env_name = f"HOSO_{section.upper()}_{key.upper()}"
        return f"environment {env_name}" if env_name in env else source

    problems: list[Problem] = []

    def error(section: str, key: str, text: str) -> None:
        problems.append(_error(where(section, key), f"{section}.{key}", f"{section}.{key} {text}"))

    def warning(section: str, key: str, text: str) -> None:
        problems.append(
            _warning(where(section, key), f"{section}.{key}", f"{section}.{key} {text}")
        )

    r, gw, sms, admin = settings.redis, settings.gateway, settings.sms, settings.admin
    if r.url:
        bad = redis_url_problem(r.url)
        if bad:
            error("redis", "url", bad)
    if r.wait_replicas and not r.url:
        warning(
            "redis",
            "wait_replicas",
            f"is {r.wait_replicas} with the embedded Redis, which has no replicas unless you"
            " made some: every change would wait wait_timeout_ms and be refused",
        )
    if r.conf and not host.exists(r.conf):
        error("redis", "conf", f"{r.conf}: no such file")
    if "/" in r.server and not host.exists(r.server):
        error("redis", "server", f"{r.server}: no such file")
    bad = bind_problem(gw.bind)
    if bad:
        error("gateway", "bind", bad)
    if gw.threads < 1:
        error("gateway", "threads", "must be at least 1")
    if gw.max_body < 1024:
        error("gateway", "max_body", f"of {gw.max_body} bytes is too small for any request")
    if gw.rate_per_minute < 1:
        error("gateway", "rate_per_minute", "must be at least 1 (0 refuses every request)")
    if gw.auth_failures_per_minute < 1:
        error("gateway", "auth_failures_per_minute", "must be at least 1")
    problems += [
        dataclasses.replace(p, where=where("gateway", p.key.partition(".")[2]))
        for p in proxy_problems(gw.proxies, gw.trusted_proxies, source)
    ]
    if not gw.public_url.startswith(("http://", "https://")):
        error(
            "gateway", "public_url", f"must start with http:// or https://, not {gw.public_url!r}"
        )
    if gw.public_url.startswith("https://") and not admin.secure_cookies:
        warning(
            "admin",
            "secure_cookies",
            "is false while gateway.public_url is https://: set it to true behind TLS",
        )
    public_host = urlsplit(gw.public_url).hostname or ""
    if (
        gw.public_url.startswith("http://")
        and admin.secure_cookies
        and public_host not in ("127.0.0.1", "localhost", "::1")
    ):
        warning(
            "admin",
            "secure_cookies",
            f"is true while gateway.public_url is plain http on {public_host}: browsers keep"
            " the dashboard's session cookie only over https (or on 127.0.0.1/localhost)",
        )
    for section, key, path in (
        ("security", "master_key_file", settings.security.master_key_file),
        ("admin", "session_key_file", admin.session_key_file),
    ):
        problems += [
            dataclasses.replace(p, where=where(section, key))
            for p in key_file_problems(f"{section}.{key}", path, source, host)
        ]
    for key in ("quiet_start", "quiet_end"):
        try:
            clock_time(getattr(sms, key))
        except CoreError:
            error("sms", key, f"must be a time of day HH:MM, not {getattr(sms, key)!r}")
    if sms.quiet_start == sms.quiet_end:
        warning("sms", "quiet_end", "equals sms.quiet_start: notifications are never held back")
    try:
        notifying_statuses(sms.notify_statuses)
    except CoreError as exc:
        error("sms", "notify_statuses", str(exc).removeprefix("sms.notify_statuses: "))
    if sms.number:
        try:
            normalise_phone(sms.number)
        except CoreError:
            warning("sms", "number", f"{sms.number!r} is not a phone number")
    calendar = settings.calendar
    try:
        parse_calendar(calendar.holidays, calendar.working_days)
    except CalendarError as exc:
        section, _, name = exc.key.partition(".")
        error(section, name, exc.problem)
    for f in dataclasses.fields(settings.pool):
        code = getattr(settings.pool, f.name)
        if f.name.startswith("ussd_") and code and not USSD_CODE.fullmatch(code):
            error("pool", f.name, f'must be a USSD code such as "*101#" (or ""), not {code!r}')
    problems += modem_problems(settings.modems, source, host)
    problems += [
        Problem(Severity(f.severity), source, f.key, f.text)
        for f in link_host_findings(settings.smpp, host)
    ]
    return problems


def proxy_problems(proxies: int, trusted: Sequence[str], source: str) -> list[Problem]:
    """Whose X-Forwarded-For the gateway reads: entries that are no address or network, a list
    that trusts every peer (anyone could choose the address the limits count), or proxies
    counted with none trusted."""
    key = "gateway.trusted_proxies"
    problems: list[Problem] = []
    for entry in trusted:
        try:
            network = ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            problems.append(
                _error(source, key, f"{key}: {entry!r} is not an address or network (CIDR)")
            )
            continue
        if network.prefixlen == 0:
            problems.append(
                _warning(
                    source,
                    key,
                    f"{key}: {entry!r} trusts every peer: any client can then choose the"
                    " address the per-address limits count",
                )
            )
    if proxies > 0 and not trusted:
        problems.append(
            _warning(
                source,
                key,
                f"{key} is empty while gateway.proxies is {proxies}: X-Forwarded-For is never read",
            )
        )
    return problems


USSD_CODE = re.compile(r"[*#][0-9*#]{1,30}#")  # what a modem can dial: *101#, *102*1#


def key_file_problems(key: str, path: str, source: str, host: Host) -> list[Problem]:
    """A key file is created on first use; when it exists, the processes must be able to read it
    and nobody else should."""
    mode = host.mode(path)
    if mode is None:
        return [
            _warning(
                source,
                key,
                f"{key} {path} does not exist yet: created on first start where the"
                " process may write (under systemd: only in /var/lib/hoso)",
            )
        ]
    if not host.readable(path):
        return [_error(source, key, f"{key} {path} is not readable by this user")]
    if mode & 0o077:
        return [
            _warning(source, key, f"{key} {path} has mode {mode:04o}: others can read it (0600)")
        ]
    return []


def modem_problems(modems: Sequence[ModemSettings], source: str, host: Host) -> list[Problem]:
    problems: list[Problem] = []
    first_with_id: dict[str, int] = {}
    first_with_port: dict[str, int] = {}
    for i, m in enumerate(modems):
        found: list[tuple[Severity, str, str]] = []  # (severity, key, what is wrong)
        if m.id in first_with_id:
            found.append(
                (
                    Severity.ERROR,
                    "id",
                    f"{m.id!r} is also modems[{first_with_id[m.id]}].id (ids are unique)",
                )
            )
        first_with_id.setdefault(m.id, i)
        if m.id in RESERVED_MODEM_IDS:
            found.append((Severity.ERROR, "id", f"{m.id!r} is reserved (the shared queue's name)"))
        elif not MODEM_ID.fullmatch(m.id):
            found.append(
                (
                    Severity.WARNING,
                    "id",
                    f"{m.id!r}: use letters, digits, '-', '_', '.' (a systemd instance name)",
                )
            )
        port = os.path.normpath(m.port)
        if port in first_with_port:
            found.append(
                (
                    Severity.ERROR,
                    "port",
                    f"{m.port} is also modems[{first_with_port[port]}].port (one modem per port)",
                )
            )
        first_with_port.setdefault(port, i)
        if not host.exists(m.port):
            found.append(
                (
                    Severity.WARNING,
                    "port",
                    f"{m.port} does not exist on this host (fine on another modem host)",
                )
            )
        if m.baudrate not in BAUDRATES:
            found.append((Severity.WARNING, "baudrate", f"{m.baudrate} is not a usual speed"))
        if m.pin is not None and not PIN.fullmatch(m.pin):
            found.append((Severity.ERROR, "pin", "must be 4 to 8 digits"))
        if m.carrier is not None and m.carrier not in CARRIER_PREFIXES:
            found.append(
                (
                    Severity.WARNING,
                    "carrier",
                    f"{m.carrier!r} is none of {', '.join(CARRIER_PREFIXES)}"
                    " (no number is preferred for it)",
                )
            )
        if m.enabled:
            found += [
                (Severity.WARNING, key, "is 0: this modem never sends")
                for key in ("per_minute", "per_hour", "per_day")
                if getattr(m, key) == 0
            ]
        found += [(Severity.WARNING, key, text) for key, text in cap_conflicts(m)]
        at = f"modems[{i}]"
        problems.extend(
            Problem(severity, source, f"{at}.{key}", f"{at}.{key} {text}")
            for severity, key, text in found
        )
    return problems


def cap_conflicts(m: ModemSettings) -> list[tuple[str, str]]:
    """Caps that can never be reached because a longer window's cap is lower (key, why)."""
    conflicts = []
    if m.per_minute > m.per_hour:
        conflicts.append(("per_minute", f"{m.per_minute} is above per_hour {m.per_hour}"))
    if m.per_hour > m.per_day:
        conflicts.append(("per_hour", f"{m.per_hour} is above per_day {m.per_day}"))
    elif m.per_minute > m.per_day:
        conflicts.append(("per_minute", f"{m.per_minute} is above per_day {m.per_day}"))
    return conflicts


# -- values --------------------------------------------------------------------------------------


def redis_url_problem(url: str) -> str | None:
    """Why a Redis URL cannot be used (never repeating its password), or None."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in REDIS_SCHEMES:
        forms = ", ".join(f"{s}://" for s in REDIS_SCHEMES)
        return f"must start with one of {forms}"
    scheme = scheme.lower()
    if scheme == "unix":
        path = urlsplit(url).path
        if not path.startswith("/"):
            return "names no socket: unix:///path/to/redis.sock"
        return None
    netloc, _, path = rest.partition("?")[0].partition("/")
    hosts = netloc.rpartition("@")[2]
    if scheme == "redis+sentinel":
        for host in hosts.split(","):
            bad = _host_port_problem(host)
            if bad:
                return f"Sentinel {bad}"
        parts = [unquote(p) for p in path.split("/") if p]
        if not parts or len(parts) > 2:
            return "must name the master after the Sentinels: redis+sentinel://h1:26379,h2:26379/<name>"
        if len(parts) == 2 and not parts[1].isdecimal():
            return f"database must be a number, not {parts[1]!r}"
        return None
    bad = _host_port_problem(hosts)
    if bad:
        return bad
    if path and not path.isdecimal():
        return f"database must be a number, not {path!r}"
    return None


def _host_port_problem(text: str) -> str | None:
    text = text.strip()
    if text.startswith("["):
        host, _, port = text[1:].partition("]")
        port = port.removeprefix(":")
    else:
        host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    if not host:
        return "host is missing"
    if port and not (port.isdecimal() and 0 < int(port) < 65536):
        return f"port {port!r} is not a port number"
    return None


def mask_url(url: str) -> str:
    """The URL with its password (and any ``*password=`` option) replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    rest, qmark, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    if at and ":" in userinfo:
        userinfo = userinfo.partition(":")[0] + ":***"
    masked = f"{scheme}://{userinfo}{at}{hosts}{slash}{path}"
    if qmark:
        pairs = []
        for pair in query.split("&"):
            key, eq, _ = pair.partition("=")
            pairs.append(f"{key}=***" if eq and "password" in key.lower() else pair)
        masked += "?" + "&".join(pairs)
    return masked


def bind_problem(bind: str) -> str | None:
    """Why gunicorn could not listen at `bind` (HOST:PORT, [IPv6]:PORT or unix:PATH), or None."""
    if bind.startswith("unix:"):
        return None if bind[5:].startswith("/") else "unix: must be followed by an absolute path"
    if bind.startswith("["):
        host, _, port = bind[1:].partition("]")
        port = port.removeprefix(":")
    else:
        host, sep, port = bind.rpartition(":")
        if not sep:
            return f"must be HOST:PORT, not {bind!r}"
    if not (port.isdecimal() and 0 < int(port) < 65536):
        return f"must end with a port number (1-65535), not {bind!r}"
    if not host:
        return f"must name the address to listen on, not {bind!r}"
    return None


def is_loopback(bind: str) -> bool:
    host = bind[1:].partition("]")[0] if bind.startswith("[") else bind.rpartition(":")[0]
    if bind.startswith("unix:") or host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- the summary ---------------------------------------------------------------------------------


def summarise(settings: Settings, env: Mapping[str, str]) -> tuple[str, ...]:
    r = settings.redis
    redis = mask_url(r.url) if r.url else f"embedded, {r.effective_url()} (hoso redis)"
    enabled = [m.id for m in settings.modems if m.enabled]
    modems = f"{len(settings.modems)} configured"
    if settings.modems:
        modems += f" ({len(enabled)} enabled: {', '.join(enabled) or '-'})"
    gw = settings.gateway
    reach = "this host only" if is_loopback(gw.bind) else "reachable from the network"
    overrides = sorted(n for n in env if n.startswith("HOSO_") and n != "HOSO_CONFIG")
    lines = [
        f"modems   {modems}",
        f"redis    {redis}",
        f"gateway  {gw.bind} ({reach}), public URL {gw.public_url}",
    ]
    if settings.smpp:
        lines.insert(1, f"links    {_link_summary(settings)}")
    if overrides:
        lines.append(f"environment overrides: {', '.join(overrides)}")
    return tuple(lines)


def _link_summary(settings: Settings) -> str:
    return ", ".join(f"{k.id} ({k.source} at {k.host}:{k.port})" for k in settings.smpp)


# -- a counter station's file --------------------------------------------------------------------


class StationLike(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def gateway_url(self) -> str: ...

    @property
    def source(self) -> str: ...

    @property
    def spool_path(self) -> str: ...

    @property
    def secret_file(self) -> str: ...

    def source_kind(self) -> str: ...

    def source_target(self) -> str: ...


def check_station(
    path: Path,
    env: Mapping[str, str],
    load: Callable[[Mapping[str, str]], StationLike],
    host: Host | None = None,
) -> Report:
    """A counter station's file, read by its own loader (`load`, handed in by the command so that
    config/ does not depend on the scanner; it also reads the secret file, and refuses one that is
    named but missing or unreadable), then the devices and files it names."""
    host = host or LocalHost()
    source = str(path)
    try:
        station = load({**env, "HOSO_STATION_CONFIG": source})
    except ConfigError as exc:
        return Report(source, (_error(source, "", _without_source(str(exc), source)),))
    problems: list[Problem] = []
    target = station.source_target()
    if station.source_kind() in ("serial", "evdev", "images") and not host.exists(target):
        problems.append(
            _warning(
                source,
                "station.source",
                f"station.source {target} does not exist (yet: is the scanner plugged in?)",
            )
        )
    if station.gateway_url.startswith("http://") and not _local_url(station.gateway_url):
        problems.append(
            _warning(
                source,
                "station.gateway_url",
                "station.gateway_url is plain http:// to another host: use https://",
            )
        )
    if station.secret_file:
        mode = host.mode(station.secret_file)
        if mode is not None and mode & 0o077:
            problems.append(
                _warning(
                    source,
                    "station.secret_file",
                    f"station.secret_file {station.secret_file} has mode {mode:04o}: others can"
                    " read it (0600)",
                )
            )
    written = _station_table(path)
    if written.get("secret"):
        problems.append(
            _warning(
                source,
                "station.secret",
                "station.secret is written in this file: move the secret to a file of its own"
                " (mode 0600) named by station.secret_file",
            )
        )
    if written.get("desk"):
        problems.append(
            _warning(
                source,
                "station.desk",
                "station.desk is no longer used: the station shows the desk the gateway assigns"
                " (hoso stations set)",
            )
        )
    summary = (
        f"station  {station.id}: {station.source} -> {station.gateway_url}",
        f"spool    {station.spool_path}",
    )
    return Report(source, tuple(problems), summary)


def _station_table(path: Path) -> dict[str, Any]:
    """The file's [station] table as written (the loader has read it already: no errors here)."""
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("station", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    return table if isinstance(table, dict) else {}


def _local_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def default_file(env: Mapping[str, str]) -> Path | None:
    """The file the processes would read: ``HOSO_CONFIG``, else config/hoso.toml if present."""
    named = env.get("HOSO_CONFIG")
    if named:
        return Path(named)
    return DEFAULT_FILE if DEFAULT_FILE.is_file() else None
