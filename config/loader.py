"""Loads `Settings` from a TOML file and the environment, once, in a process's `main()`.

The file is named by ``HOSO_CONFIG`` (default ``config/hoso.toml`` if present, else built-in
defaults). ``HOSO_<SECTION>_<KEY>`` overrides one value (``HOSO_REDIS_URL``,
``HOSO_GATEWAY_BIND``...). A bad value stops startup with one line naming the key and the file.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from config.links import id_clashes, read_links, read_routes
from config.settings import (
    AdminSettings,
    CalendarSettings,
    GatewaySettings,
    ModemSettings,
    PoolSettings,
    RedisSettings,
    RouteSettings,
    SecuritySettings,
    Settings,
    SmppSettings,
    SmsSettings,
)
from gateway.core.offices import InvalidOffice, check_office_id
from gateway.core.workdays import CalendarError, parse_calendar

DEFAULT_FILE = Path("config/hoso.toml")
ARRAYS = ("smpp", "routes")  # [[smpp]] carrier links, [[routes]] routing rules: config/links.py
SECTIONS: dict[str, type[Any]] = {
    "redis": RedisSettings,
    "gateway": GatewaySettings,
    "security": SecuritySettings,
    "sms": SmsSettings,
    "admin": AdminSettings,
    "calendar": CalendarSettings,
    "pool": PoolSettings,
}


# Keys that are no longer read, and why: accepted (an upgrade does not stop the processes), ignored,
# and named by `hoso check-config` as warnings.
REMOVED_KEYS: dict[str, str] = {
    "sms.stranger_reply": "is no longer read (0.3.0): a phone that is not the dossier's and "
    "gives no secret always gets the reply for an unknown code; delete the line",
}


class ConfigError(Exception):
    """A configuration value that cannot be used; the message names the key and the source."""


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    raw, source = read_file(_config_path(env))
    # [station] belongs to a counter station's own settings (scanner/config.py).
    unknown = set(raw) - set(SECTIONS) - {"modems", "station", *ARRAYS}
    if unknown:
        raise ConfigError(f"{source}: unknown section(s): {', '.join(sorted(unknown))}")
    sections = {
        name: read_section(name, cls, raw.get(name, {}), env, source)
        for name, cls in SECTIONS.items()
    }
    modems = _modems(raw.get("modems", []), source)
    smpp, routes = _links_and_routes(raw, modems, source)
    calendar = sections["calendar"]
    try:
        parse_calendar(calendar.holidays, calendar.working_days)
    except CalendarError as exc:
        raise ConfigError(f"{source}: {exc.key} {exc.problem}") from exc
    return Settings(modems=modems, smpp=smpp, routes=routes, source=source, **sections)


def _config_path(env: Mapping[str, str]) -> Path | None:
    named = env.get("HOSO_CONFIG")
    if named:
        return Path(named)
    return DEFAULT_FILE if DEFAULT_FILE.is_file() else None


def read_file(path: Path | None) -> tuple[dict[str, Any], str]:
    """The parsed file and its name for messages; none: nothing, named "built-in defaults"."""
    if path is None:
        return {}, "built-in defaults"
    return read_toml(path), str(path)


def read_toml(path: Path) -> dict[str, Any]:
    """The parsed file; `ConfigError` naming the file when it cannot be read or parsed."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def read_section(
    name: str, cls: type[Any], table: object, env: Mapping[str, str], source: str
) -> Any:
    """The dataclass `cls` from the TOML table `[name]`, each field overridden by
    ``HOSO_<NAME>_<FIELD>`` when set: the sections of hoso.toml and a station's `[station]`
    (`scanner.config`) alike. `ConfigError` names the first key that cannot be used."""
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [{name}] must be a table")
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        key = f"{name}.{f.name}"
        env_name = f"HOSO_{name.upper()}_{f.name.upper()}"
        if env_name in env:
            values[f.name] = coerce_value(key, f.default, env[env_name], f"environment {env_name}")
        elif f.name in table:
            values[f.name] = check_value(key, f.default, table[f.name], source)
    extra = set(table) - {f.name for f in dataclasses.fields(cls)}
    extra = {key for key in extra if f"{name}.{key}" not in REMOVED_KEYS}
    if extra:
        raise ConfigError(f"{source}: unknown key {name}.{sorted(extra)[0]}")
    return cls(**values)


def coerce_value(key: str, default: object, text: str, source: str) -> object:
    if isinstance(default, tuple):  # a list in the environment: comma-separated
        return tuple(piece.strip() for piece in text.split(",") if piece.strip())
    if isinstance(default, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{source}: {key} must be true or false, not {text!r}")
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError as exc:
            raise ConfigError(f"{source}: {key} must be a whole number, not {text!r}") from exc
    if isinstance(default, float):
        try:
            return _non_negative(key, float(text), source)
        except ValueError as exc:
            raise ConfigError(f"{source}: {key} must be a number, not {text!r}") from exc
    return text


def check_value(key: str, default: object, value: object, source: str) -> object:
    if isinstance(default, tuple):  # a list of strings (what each string may be: config/check)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{source}: {key} must be a list of strings, not {value!r}")
        return tuple(value)
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    expected = type(default)
    ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if not ok:
        raise ConfigError(f"{source}: {key} must be {expected.__name__}, not {value!r}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        _non_negative(key, value, source)
    return value


def _non_negative(key: str, value: float, source: str) -> float:
    if value < 0:
        raise ConfigError(f"{source}: {key} must not be negative")
    return value


def _modems(tables: object, source: str) -> tuple[ModemSettings, ...]:
    if not isinstance(tables, list):
        raise ConfigError(f"{source}: modems must be an array of tables ([[modems]])")
    modems: list[ModemSettings] = []
    seen: set[str] = set()
    known = {f.name for f in dataclasses.fields(ModemSettings)}
    for i, table in enumerate(tables):
        where = f"modems[{i}]"
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: {where} must be a table")
        for required in ("id", "port"):
            if not isinstance(table.get(required), str) or not table[required]:
                raise ConfigError(f"{source}: {where}.{required} is required (a string)")
        extra = set(table) - known
        if extra:
            raise ConfigError(f"{source}: unknown key {where}.{sorted(extra)[0]}")
        if table["id"] in seen:
            raise ConfigError(f"{source}: {where}.id {table['id']!r} is used twice")
        seen.add(table["id"])
        defaults = ModemSettings(id="", port="")
        values: dict[str, Any] = {}
        for k, v in table.items():
            default = getattr(defaults, k)
            values[k] = check_value(f"{where}.{k}", "" if default is None else default, v, source)
        if values.get("office"):
            try:
                check_office_id(values["office"])
            except InvalidOffice as exc:
                raise ConfigError(f"{source}: {where}.office {exc.detail}") from exc
        modems.append(ModemSettings(**values))
    return tuple(modems)


def _links_and_routes(
    raw: dict[str, Any], modems: tuple[ModemSettings, ...], source: str
) -> tuple[tuple[SmppSettings, ...], tuple[RouteSettings, ...]]:
    findings, links = read_links(raw.get("smpp", []))
    findings += id_clashes(links, modems)
    route_findings, routes = read_routes(raw.get("routes", []), links, modems)
    for finding in findings + route_findings:
        if finding.severity == "error":
            raise ConfigError(f"{source}: {finding.text}")
    return tuple(links), tuple(routes)
