"""What the office answers to a citizen's SMS (pure): the template and its values.

Privacy: the answer about a dossier (status, desk, dates, what is missing) goes only to one of
the dossier's registered phones, or to anyone who gives its secret. Anyone else — a stranger, a
wrong secret — gets `reply_unknown`, the reply to a code that does not exist, byte for byte: a
stranger learns nothing a wrong guess would not tell. A mistyped code (a short code whose check
character is wrong, code-like text that is no code) gets `reply_bad_code`, which depends on the
text alone and never on what the store holds: such a code is wrong for everybody.

What a dossier's status means for the citizen decides the reply: in progress, where it is and
the appointment date; result ready (9), where to fetch it and since when; closed (refused,
withdrawn, stopped, returned), the status and since when, no appointment. `TRA` lists the
sending phone's dossiers that are not final, so a result waiting to be fetched stays listed
until it is returned.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.core.dossier import Dossier
from gateway.core.sms_syntax import (
    Command,
    Help,
    ListMine,
    Lookup,
    OptIn,
    OptOut,
    UnknownCommand,
    UnknownReason,
)
from gateway.core.status import FINAL, Status
from gateway.core.times import parse_time, shown_date, shown_time

MAX_LISTED = 5
DEFAULT_DESK = "Bộ phận một cửa"
# No appointment is pending in these: the reply says the status and since when.
CLOSED: frozenset[Status] = frozenset(
    {Status.REFUSED, Status.WITHDRAWN, Status.STOPPED, Status.RETURNED}
)
# Answers to preference commands: confirmed even to a sender over the lookup limit.
PREFERENCE_TEMPLATES = frozenset({"reply_opted_out", "reply_opted_in"})


@dataclass(frozen=True, slots=True)
class Reply:
    template: str
    values: dict[str, str] = field(default_factory=dict)
    dossier: str = ""  # the code the reply is about, for the audit trail ("" if none)


@dataclass(frozen=True, slots=True)
class Asked:
    """What the job looked up for the command, before deciding."""

    dossier: Dossier | None = None  # the dossier a Lookup names, if it exists
    note: str | None = None  # the latest note on it (e.g. what papers are missing)
    since: datetime | None = None  # when it reached its current status
    own: tuple[Dossier, ...] = ()  # the sender's dossiers, for ListMine


def entitled(dossier: Dossier, sender: str, secret: str | None) -> bool:
    """May `sender` see the dossier's details?"""
    if sender in dossier.phones:
        return True
    return secret is not None and hmac.compare_digest(secret, dossier.secret)


def is_preference(command: Command) -> bool:
    """HUY / TD / STOP / DK: they change what the phone receives; they are not lookups."""
    return isinstance(command, OptOut | OptIn)


def decide(command: Command, sender: str, asked: Asked, desk: str = DEFAULT_DESK) -> Reply:
    """The reply; `desk`: where a dossier no desk holds is (its office's one-stop desk, with the
    office named when the citizen texted another office)."""
    if isinstance(command, Lookup):
        return _lookup(command, sender, asked, desk)
    if isinstance(command, ListMine):
        return _list_mine(asked.own)
    if isinstance(command, OptOut):
        return Reply("reply_opted_out")
    if isinstance(command, OptIn):
        return Reply("reply_opted_in")
    if isinstance(command, UnknownCommand) and command.reason is UnknownReason.BAD_CODE:
        return Reply("reply_bad_code")
    if isinstance(command, Help | UnknownCommand):
        return Reply("reply_help")
    return Reply("reply_help")  # pragma: no cover - every command kind is handled above


def _lookup(command: Lookup, sender: str, asked: Asked, desk: str) -> Reply:
    d = asked.dossier
    if d is None or not entitled(d, sender, command.secret):
        return Reply("reply_unknown")  # unknown, wrong secret and not yours read the same
    values = {
        "code": d.code,
        "status": d.status.label,
        "desk": d.holder or desk,
        "due": shown_date(d.due_at),
        "since": shown_time(asked.since or d.updated_at),
    }
    if d.status is Status.DONE:
        return Reply("reply_ready", values, d.code)
    if d.status in CLOSED:
        return Reply("reply_status_closed", values, d.code)
    if d.status is Status.SUPPLEMENT_REQUESTED and asked.note:
        return Reply("reply_status_missing", values | {"missing": asked.note}, d.code)
    return Reply("reply_status", values, d.code)


def _list_mine(own: Iterable[Dossier]) -> Reply:
    listed = [d for d in own if d.status not in FINAL]
    if not listed:
        return Reply("reply_list_empty")
    shown = "; ".join(f"{d.short_code} ({d.status.label})" for d in listed[:MAX_LISTED])
    more = len(listed) - MAX_LISTED
    if more > 0:
        shown += f"; và {more} hồ sơ khác"
    return Reply("reply_list_mine", {"dossiers": shown})


def status_since(history: Iterable[Mapping[str, Any]], status: Status) -> datetime | None:
    """When the dossier last entered `status`, from its history (current entries only)."""
    since: datetime | None = None
    previous: int | None = None
    for entry in history:
        if not entry.get("current", True) or entry.get("status") is None:
            continue
        value = int(entry["status"])
        if value != previous:
            since = parse_time("at", entry["at"]) if value == int(status) else None
        previous = value
    return since
