"""An operator's change to a modem (disable, re-enable, caps, carrier, a modem added live), as the
rules have it: which fields each kind of operator may change, and the range of each value.

`check_changes` is the check the one operation (`gateway.store.modems.ModemRegistry.apply_change`)
applies to every change, from the dashboard, the admin API or `hoso modems set`;
`parse_text_changes` reads the changes typed as text (the CLI's KEY=VALUE, a form's fields).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.core.errors import CoreError

MAX_CAP = 100_000
CAP_FIELDS = ("per_minute", "per_hour", "per_day")
# What the dashboard and the admin API may change; the CLI, run on a host by its operator, may
# also add a modem live (its port, baud rate and SIM PIN).
DASHBOARD_FIELDS = frozenset({"enabled", "carrier", *CAP_FIELDS})
OPERATOR_FIELDS = DASHBOARD_FIELDS | {"port", "baudrate", "pin"}
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


class InvalidModemChange(CoreError):
    """A change that cannot be applied: an unknown field or a value out of range."""

    def __init__(self, field: str | None, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


def parse_text_changes(texts: Mapping[str, str]) -> dict[str, Any]:
    """Changes typed as text (the CLI's KEY=VALUE, a form's fields) as typed values, strictly:
    a switch is true/false (1/0, yes/no, on/off), a number is whole digits."""
    typed: dict[str, Any] = {}
    for name, text in texts.items():
        value = text.strip()
        if name == "enabled":
            if value.lower() not in _TRUE + _FALSE:
                raise InvalidModemChange(name, "enabled must be true or false.")
            typed[name] = value.lower() in _TRUE
        elif name in (*CAP_FIELDS, "baudrate"):
            if not value.isascii() or not value.isdigit():
                raise InvalidModemChange(name, f"{name} must be a whole number.")
            typed[name] = int(value)
        else:
            typed[name] = value
    return typed


def check_changes(fields: object, allowed: frozenset[str] = DASHBOARD_FIELDS) -> dict[str, Any]:
    """The fields of a change, checked: only `allowed` names, each of its type and range."""
    if not isinstance(fields, dict) or not fields:
        raise InvalidModemChange(None, f"Expected a JSON object with {', '.join(sorted(allowed))}.")
    unknown = sorted(str(f) for f in set(fields) - allowed)
    if unknown:
        raise InvalidModemChange(
            unknown[0],
            f"Unknown field(s): {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}.",
        )
    changes: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "enabled":
            if not isinstance(value, bool):
                raise InvalidModemChange(name, "enabled must be true or false.")
        elif name in (*CAP_FIELDS, "baudrate"):
            top = MAX_CAP if name in CAP_FIELDS else 4_000_000
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
                raise InvalidModemChange(name, f"{name} must be a whole number from 0 to {top}.")
        elif name in ("carrier", "pin"):
            if value is not None and (not isinstance(value, str) or len(value) > 32):
                raise InvalidModemChange(name, f"{name} must be a text of up to 32 characters.")
            value = value or None
        elif name == "port" and (not isinstance(value, str) or not value or len(value) > 256):
            raise InvalidModemChange(name, "port must be a device path.")
        changes[name] = value
    return changes
