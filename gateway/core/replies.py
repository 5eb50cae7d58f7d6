"""What the office answers to a citizen's SMS (pure): the template and its values.

Privacy: the full answer (status, desk, appointment date, what is missing) goes only to one of
the dossier's registered phones, or to anyone who gives the right secret. Anyone else gets the
status word alone or the same text as for an unknown code (`stranger_reply`), and "unknown
code", "wrong secret" and (with "nothing") "not yours" read exactly the same.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime

from gateway.core.dossier import Dossier
from gateway.core.sms_syntax import Command, Help, ListMine, Lookup, OptIn, OptOut, Unknown
from gateway.core.status import SETTLED, Status
from gateway.core.times import VIETNAM

MAX_LISTED = 5
DEFAULT_DESK = "Bộ phận một cửa"


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
    own: tuple[Dossier, ...] = ()  # the sender's dossiers, for ListMine


def entitled(dossier: Dossier, sender: str, secret: str | None) -> bool:
    """May `sender` see the dossier's details?"""
    if sender in dossier.phones:
        return True
    return secret is not None and hmac.compare_digest(secret, dossier.secret)


def decide(command: Command, sender: str, asked: Asked, stranger_reply: str) -> Reply:
    if isinstance(command, Lookup):
        return _lookup(command, sender, asked, stranger_reply)
    if isinstance(command, ListMine):
        open_ones = [d for d in asked.own if d.status not in SETTLED]
        if not open_ones:
            return Reply("reply_list_empty")
        listed = "; ".join(f"{d.short_code} {d.status.label}" for d in open_ones[:MAX_LISTED]) + (
            "; ..." if len(open_ones) > MAX_LISTED else ""
        )
        return Reply("reply_list_mine", {"dossiers": listed})
    if isinstance(command, OptOut):
        return Reply("reply_opted_out")
    if isinstance(command, OptIn):
        return Reply("reply_opted_in")
    if isinstance(command, Help | Unknown):
        return Reply("reply_help")
    return Reply("reply_help")  # pragma: no cover - every command kind is handled above


def _lookup(command: Lookup, sender: str, asked: Asked, stranger_reply: str) -> Reply:
    d = asked.dossier
    if d is None:
        return Reply("reply_unknown")
    if command.secret is not None and not hmac.compare_digest(command.secret, d.secret):
        return Reply("reply_unknown")  # a wrong secret reads like an unknown code
    if entitled(d, sender, command.secret):
        values = {
            "code": d.code,
            "status": d.status.label,
            "desk": d.holder or DEFAULT_DESK,
            "due": format_date(d.due_at),
        }
        if d.status is Status.SUPPLEMENT_REQUESTED and asked.note:
            return Reply("reply_status_missing", values | {"missing": asked.note}, d.code)
        return Reply("reply_status", values, d.code)
    if stranger_reply == "status":
        return Reply("reply_status_short", {"code": d.code, "status": d.status.label}, d.code)
    return Reply("reply_unknown")


def format_date(value: datetime) -> str:
    return value.astimezone(VIETNAM).strftime("%d/%m/%Y")
