"""`hoso check-config --station`: a counter station's file, read by the station's own loader,
then the devices and files it names."""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from config.check_values import is_loopback_host
from config.host import Host, LocalHost
from config.loader import ConfigError
from config.problems import CheckReport, ConfigProblem, error_at, warning_at, without_source


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
) -> CheckReport:
    """A counter station's file, read by its own loader (`load`, handed in by the command so that
    config/ does not depend on the scanner; it also reads the secret file, and refuses one that is
    named but missing or unreadable), then the devices and files it names."""
    host = host or LocalHost()
    source = str(path)
    try:
        station = load({**env, "HOSO_STATION_CONFIG": source})
    except ConfigError as exc:
        return CheckReport(source, (error_at(source, "", without_source(str(exc), source)),))
    problems: list[ConfigProblem] = []
    target = station.source_target()
    if station.source_kind() in ("serial", "evdev", "images") and not host.exists(target):
        problems.append(
            warning_at(
                source,
                "station.source",
                f"station.source {target} does not exist (yet: is the scanner plugged in?)",
            )
        )
    if station.gateway_url.startswith("http://") and not _local_url(station.gateway_url):
        problems.append(
            warning_at(
                source,
                "station.gateway_url",
                "station.gateway_url is plain http:// to another host: use https://",
            )
        )
    if station.secret_file:
        mode = host.mode(station.secret_file)
        if mode is not None and mode & 0o077:
            problems.append(
                warning_at(
                    source,
                    "station.secret_file",
                    f"station.secret_file {station.secret_file} has mode {mode:04o}: others can"
                    " read it (0600)",
                )
            )
    written = _station_table(path)
    if written.get("secret"):
        problems.append(
            warning_at(
                source,
                "station.secret",
                "station.secret is written in this file: move the secret to a file of its own"
                " (mode 0600) named by station.secret_file",
            )
        )
    if written.get("desk"):
        problems.append(
            warning_at(
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
    return CheckReport(source, tuple(problems), summary)


def _station_table(path: Path) -> dict[str, Any]:
    """The file's [station] table as written (the loader has read it already: no errors here)."""
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("station", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    return table if isinstance(table, dict) else {}


def _local_url(url: str) -> bool:
    return is_loopback_host(urlsplit(url).hostname or "")
