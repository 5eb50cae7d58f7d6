"""`hoso check-config`: every problem of a configuration file at once, before a process meets it.

The loader stops at the first bad value, as a starting process should; this module goes on and
reports all of them, one line each naming the key and the file (or the environment variable), and
also what the loader cannot know: two modems with one id or one serial port, caps that contradict
each other, a port or key file that is missing or unreadable on this host, quiet hours that are
not times of day, a Redis URL of an unknown form (read by `config.redis_url`, as the processes
read it). Problems are errors (a process would refuse the file or misbehave) or warnings (worth
a look: a modem port that does not exist here may well be on another modem host).

Questions to the file system go through a `Host`, so the checks run in tests on a made-up one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from config.check_values import (
    USSD_CODE,
    bind_problem,
    is_loopback,
    key_file_problems,
    modem_problems,
    proxy_problems,
)
from config.host import Host, LocalHost
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
    read_file,
)
from config.problems import (
    CheckReport,
    ConfigProblem,
    Severity,
    error_at,
    loader_problem,
    warning_at,
    without_source,
)
from config.redis_url import mask_url, redis_url_problem
from config.settings import ModemSettings, Settings
from gateway.core.errors import CoreError
from gateway.core.notify import clock_time, notifying_statuses
from gateway.core.offices import InvalidOffice, check_office_id
from gateway.core.phones import normalise_phone
from gateway.core.workdays import CalendarError, parse_calendar

# -- the whole file ----------------------------------------------------------------------------


def check_file(path: Path | None, env: Mapping[str, str], host: Host | None = None) -> CheckReport:
    """Checks the settings a process would load from `path` (None: built-in defaults) with the
    environment's ``HOSO_<SECTION>_<KEY>`` overrides applied, as the processes apply them."""
    host = host or LocalHost()
    source = "built-in defaults" if path is None else str(path)
    try:
        raw, _ = read_file(path)
    except ConfigError as exc:
        return CheckReport(source, (error_at(source, "", without_source(str(exc), source)),))
    return check_tables(raw, source, env, host, path)


def check_tables(
    raw: Mapping[str, Any],
    source: str,
    env: Mapping[str, str],
    host: Host,
    path: Path | None = None,
) -> CheckReport:
    """Checks parsed TOML (`source` names it in messages). With `path`, the loader itself also
    reads the file, so that nothing it refuses passes here."""
    problems, settings = structure_problems(raw, source, env)
    if settings is None:
        return CheckReport(source, tuple(problems))
    problems += settings_problems(settings, source, env, host)
    if path is not None:
        loader_env = {k: v for k, v in env.items() if k != "HOSO_CONFIG"}
        try:
            settings = load_settings({**loader_env, "HOSO_CONFIG": str(path)})
        except ConfigError as exc:
            text = without_source(str(exc), source)
            if text.split(" ", 1)[0] not in {p.key for p in problems}:  # only the loader knows
                problems.append(error_at(source, "", text))
    return CheckReport(source, tuple(problems), summarise(settings, env))


# -- what the loader checks, all at once -------------------------------------------------------


def structure_problems(
    raw: Mapping[str, Any], source: str, env: Mapping[str, str]
) -> tuple[list[ConfigProblem], Settings | None]:
    """Unknown sections and keys, wrong types, negative numbers: every one, not the first; and
    the settings when there is no such error."""
    problems: list[ConfigProblem] = []
    for name in sorted(set(raw) - set(SECTIONS) - {"modems", "station", *ARRAYS}):
        problems.append(error_at(source, name, f"unknown section [{name}]"))
    sections: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        table = raw.get(name, {})
        if not isinstance(table, dict):
            problems.append(error_at(source, name, f"[{name}] must be a table"))
            table = {}
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for key in sorted(set(table) - set(fields)):
            removed = REMOVED_KEYS.get(f"{name}.{key}")
            if removed is not None:
                problems.append(warning_at(source, f"{name}.{key}", f"{name}.{key} {removed}"))
            else:
                problems.append(error_at(source, f"{name}.{key}", f"unknown key {name}.{key}"))
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
                problems.append(loader_problem(exc, where, key))
        sections[name] = values
    modem_problems_, modems = _modem_structure(raw.get("modems", []), source)
    problems += modem_problems_
    findings, links = read_links(raw.get("smpp", []))
    findings += id_clashes(links, modems)
    route_findings, routes = read_routes(raw.get("routes", []), links, modems)
    problems += [
        ConfigProblem(Severity(f.severity), source, f.key, f.text)
        for f in findings + route_findings
    ]
    if any(p.severity is Severity.ERROR for p in problems):
        return problems, None
    built = {name: cls(**sections[name]) for name, cls in SECTIONS.items()}
    settings = Settings(
        modems=tuple(modems), smpp=tuple(links), routes=tuple(routes), source=source, **built
    )
    return problems, settings


def _modem_structure(
    tables: object, source: str
) -> tuple[list[ConfigProblem], list[ModemSettings]]:
    if not isinstance(tables, list):
        return [error_at(source, "modems", "modems must be an array of tables ([[modems]])")], []
    problems: list[ConfigProblem] = []
    modems: list[ModemSettings] = []
    known = {f.name for f in dataclasses.fields(ModemSettings)}
    defaults = ModemSettings(id="", port="")
    for i, table in enumerate(tables):
        at = f"modems[{i}]"
        if not isinstance(table, dict):
            problems.append(error_at(source, at, f"{at} must be a table"))
            continue
        fine = True
        for required in ("id", "port"):
            if not isinstance(table.get(required), str) or not table[required]:
                problems.append(
                    error_at(source, f"{at}.{required}", f"{at}.{required} is required (a string)")
                )
                fine = False
        for key in sorted(set(table) - known):
            problems.append(error_at(source, f"{at}.{key}", f"unknown key {at}.{key}"))
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
                problems.append(loader_problem(exc, source, f"{at}.{key}"))
                fine = False
        if isinstance(values.get("office"), str) and values["office"]:
            try:
                check_office_id(values["office"])
            except InvalidOffice as exc:
                problems.append(error_at(source, f"{at}.office", f"{at}.office {exc.detail}"))
                fine = False
        if fine:
            modems.append(ModemSettings(**values))
    return problems, modems


# -- what the loader cannot know ---------------------------------------------------------------


def settings_problems(
    settings: Settings, source: str, env: Mapping[str, str], host: Host
) -> list[ConfigProblem]:
    def where(section: str, key: str) -> str:
        env_name = f"HOSO_{section.upper()}_{key.upper()}"
        return f"environment {env_name}" if env_name in env else source

    problems: list[ConfigProblem] = []

    def error(section: str, key: str, text: str) -> None:
        name = f"{section}.{key}"
        problems.append(error_at(where(section, key), name, f"{name} {text}"))

    def warning(section: str, key: str, text: str) -> None:
        name = f"{section}.{key}"
        problems.append(warning_at(where(section, key), name, f"{name} {text}"))

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
        ConfigProblem(Severity(f.severity), source, f.key, f.text)
        for f in link_host_findings(settings.smpp, host)
    ]
    return problems


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


def default_file(env: Mapping[str, str]) -> Path | None:
    """The file the processes would read: ``HOSO_CONFIG``, else config/hoso.toml if present."""
    named = env.get("HOSO_CONFIG")
    if named:
        return Path(named)
    return DEFAULT_FILE if DEFAULT_FILE.is_file() else None
