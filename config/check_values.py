"""`hoso check-config`'s checks of single values and of the modem tables: what the loader cannot
know (a port or key file on this host, caps that contradict each other, an address to listen on
or to trust)."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Sequence

from config.host import Host
from config.problems import ConfigProblem, Severity, error_at, warning_at
from config.settings import ModemSettings
from gateway.core.phones import CARRIER_PREFIXES

BAUDRATES = (9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)
RESERVED_MODEM_IDS = ("shared",)  # the shared outbound queue's name (keys.outbox_wake("shared"))
MODEM_ID = re.compile(r"[A-Za-z0-9_.-]+")  # also a systemd instance name: hoso-modem@<id>
PIN = re.compile(r"[0-9]{4,8}")
LOOPBACK_NAMES = ("localhost",)


def proxy_problems(proxies: int, trusted: Sequence[str], source: str) -> list[ConfigProblem]:
    """Whose X-Forwarded-For the gateway reads: entries that are no address or network, a list
    that trusts every peer (anyone could choose the address the limits count), or proxies
    counted with none trusted."""
    key = "gateway.trusted_proxies"
    problems: list[ConfigProblem] = []
    for entry in trusted:
        try:
            network = ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            problems.append(
                error_at(source, key, f"{key}: {entry!r} is not an address or network (CIDR)")
            )
            continue
        if network.prefixlen == 0:
            problems.append(
                warning_at(
                    source,
                    key,
                    f"{key}: {entry!r} trusts every peer: any client can then choose the"
                    " address the per-address limits count",
                )
            )
    if proxies > 0 and not trusted:
        problems.append(
            warning_at(
                source,
                key,
                f"{key} is empty while gateway.proxies is {proxies}: X-Forwarded-For is never read",
            )
        )
    return problems


USSD_CODE = re.compile(r"[*#][0-9*#]{1,30}#")  # what a modem can dial: *101#, *102*1#


def key_file_problems(key: str, path: str, source: str, host: Host) -> list[ConfigProblem]:
    """A key file is created on first use; when it exists, the processes must be able to read it
    and nobody else should."""
    mode = host.mode(path)
    if mode is None:
        return [
            warning_at(
                source,
                key,
                f"{key} {path} does not exist yet: created on first start where the"
                " process may write (under systemd: only in /var/lib/hoso)",
            )
        ]
    if not host.readable(path):
        return [error_at(source, key, f"{key} {path} is not readable by this user")]
    if mode & 0o077:
        return [
            warning_at(source, key, f"{key} {path} has mode {mode:04o}: others can read it (0600)")
        ]
    return []


def modem_problems(modems: Sequence[ModemSettings], source: str, host: Host) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
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
        elif m.id.startswith("@"):
            found.append((Severity.ERROR, "id", f"{m.id!r}: '@' starts an office's queue name"))
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
            ConfigProblem(severity, source, f"{at}.{key}", f"{at}.{key} {text}")
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
    """Whether gunicorn bound at `bind` is reachable from this host only."""
    host = bind[1:].partition("]")[0] if bind.startswith("[") else bind.rpartition(":")[0]
    return bind.startswith("unix:") or is_loopback_host(host)


def is_loopback_host(host: str) -> bool:
    """Whether a host name or address is this host's own."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
