"""A counter station's settings: a `[station]` TOML table plus ``HOSO_STATION_<KEY>`` overrides.

The file is ``HOSO_STATION_CONFIG`` if set, else ``HOSO_CONFIG``, else ``config/station.toml``
or ``config/hoso.toml`` if present; only its ``[station]`` table is read, by the one loader of
every configuration file (`config.loader`). Read once, in `scanner.main`, into a frozen
dataclass. A bad value stops startup with one line naming the key and where it came from
(`ConfigError`, the same error as the rest of the configuration).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from config.loader import ConfigError, read_file, read_section

TERMINATORS = ("cr", "crlf", "lf", "tab", "none")
SOURCE_KINDS = ("serial", "evdev", "stdin", "images")
CANDIDATE_FILES = (Path("config/station.toml"), Path("config/hoso.toml"))


@dataclass(frozen=True, slots=True)
class StationSettings:
    id: str = ""  # required: the station id its key was created for (hoso keys create --station)
    gateway_url: str = "http://127.0.0.1:8080"
    key_id: str = ""  # required
    secret_file: str = ""  # the file holding the key's secret alone (mode 0600): where it belongs
    secret: str = ""  # or the secret itself (HOSO_STATION_SECRET for a trial), not both
    desk: str = ""  # no longer used: the gateway assigns the desk (kept so old files still load)
    source: str = "stdin"  # serial:/dev/... | evdev:/dev/input/by-id/... | stdin | images:/dir
    terminator: str = "cr"  # what ends a code: cr | crlf | lf | tab | none (idle_seconds gap)
    idle_seconds: float = 0.3  # terminator "none": a pause this long ends a code
    baudrate: int = 9600  # serial scanners (CDC ACM ignores it)
    debounce_seconds: float = 1.5  # the same code again within this is the same scan
    spool_path: str = "var/scanner/spool.sqlite3"
    staff: str = ""  # who works at the desk; sent with each scan when set
    bell: bool = True  # ring the terminal bell with feedback
    retry_max_seconds: float = 300.0  # longest pause between upload attempts while offline
    http_timeout: float = 10.0

    def source_kind(self) -> str:
        return self.source.split(":", 1)[0]

    def source_target(self) -> str:
        return self.source.split(":", 1)[1] if ":" in self.source else ""


def load_station_settings(env: Mapping[str, str] | None = None) -> StationSettings:
    env = os.environ if env is None else env
    raw, source = read_file(_config_path(env))
    settings = read_section("station", StationSettings, raw.get("station", {}), env, source)
    return _validated(settings, source)


def _config_path(env: Mapping[str, str]) -> Path | None:
    for name in ("HOSO_STATION_CONFIG", "HOSO_CONFIG"):
        if env.get(name):
            return Path(env[name])
    return next((p for p in CANDIDATE_FILES if p.is_file()), None)


def _validated(s: StationSettings, source: str) -> StationSettings:
    if not s.id:
        raise ConfigError(f"{source}: station.id is required (the station's id)")
    if not s.key_id:
        raise ConfigError(f"{source}: station.key_id is required (hoso keys create --station)")
    if s.terminator not in TERMINATORS:
        raise ConfigError(f"{source}: station.terminator must be one of {', '.join(TERMINATORS)}")
    kind = s.source_kind()
    if kind not in SOURCE_KINDS:
        raise ConfigError(
            f"{source}: station.source must be serial:PATH, evdev:PATH, stdin or images:DIR,"
            f" not {s.source!r}"
        )
    if kind != "stdin" and not s.source_target():
        raise ConfigError(f"{source}: station.source {s.source!r} names no device or folder")
    if not s.gateway_url.startswith(("http://", "https://")):
        raise ConfigError(f"{source}: station.gateway_url must start with http:// or https://")
    secret = s.secret
    if s.secret_file:
        try:
            secret = Path(s.secret_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"{source}: station.secret_file {s.secret_file}: cannot read: {exc.strerror}"
            ) from exc
        if not secret:
            raise ConfigError(f"{source}: station.secret_file {s.secret_file} is empty")
        if s.secret:
            raise ConfigError(
                f"{source}: station.secret and station.secret_file are both set: keep the secret"
                f" in {s.secret_file} only"
            )
    if not secret:
        raise ConfigError(f"{source}: station.secret_file (or station.secret) is required")
    return dataclasses.replace(s, secret=secret)
