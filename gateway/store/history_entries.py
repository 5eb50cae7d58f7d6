"""A dossier's history entries as stored: one compact JSON object an entry.

Invariants:
- `read` gives every reader an entry exactly as the spelled-out form held it: the same keys
  (`event_id`, `status`, `at`, ...), the same values, `at` and `recorded_at` the strings
  `format_time` makes, `desk` and `note` present (None when there was none).
- Stored, each key is one letter (`SHORT`), `at` and `recorded_at` are microseconds since the
  epoch as a string of digits (a string: Lua's cjson writes numbers to 14 digits), and a `desk`
  or `note` of None is left out. `format_time` depends only on the instant, so the micros give
  back the very string; the APPLY script adds its keys under the same letters (`scripts.py`).
- An entry stored before (its keys spelled out, `event_id` among them) is read as it is.
"""

from __future__ import annotations

import json
from typing import Any

from gateway.core.times import format_time, from_micros, to_micros
from gateway.store.errors import CorruptRecord

SHORT = {
    "event_id": "e",
    "status": "s",
    "at": "a",
    "desk": "d",
    "note": "n",
    "source": "o",
    "staff": "t",
    "recorded_at": "r",
    "current": "c",
    "version": "v",
    "due_at": "u",
    "previous_due_at": "p",
    "rescheduled": "x",
}
LONG = {short: name for name, short in SHORT.items()}
TIMES_IN_MICROS = ("at", "recorded_at")
LEFT_OUT_WHEN_NONE = ("desk", "note")


def write(entry: dict[str, Any]) -> str:
    """The stored form of `entry` (its keys spelled out; `at` and `recorded_at` datetimes)."""
    compact: dict[str, Any] = {}
    for name, value in entry.items():
        if value is None and name in LEFT_OUT_WHEN_NONE:
            continue
        if name in TIMES_IN_MICROS:
            value = str(to_micros(value))
        compact[SHORT[name]] = value
    return json.dumps(compact, ensure_ascii=False, separators=(",", ":"))


def read(raw: str | bytes) -> dict[str, Any]:
    """An entry as stored (compact, or spelled out as before), spelled out."""
    stored: dict[str, Any] = json.loads(raw)
    if "event_id" in stored:
        return stored
    entry: dict[str, Any] = {}
    try:
        for short, value in stored.items():
            name = LONG[short]
            entry[name] = format_time(from_micros(int(value))) if name in TIMES_IN_MICROS else value
    except (KeyError, ValueError) as exc:
        raise CorruptRecord(f"history entry {raw!r}: {exc}") from exc
    for name in LEFT_OUT_WHEN_NONE:
        entry.setdefault(name, None)
    return entry
