"""Dossiers in Redis: register, read, and apply events atomically (see `scripts.py`).

The same scripts keep the index of open dossiers by appointment (`keys.open_by_due()`) that the
overdue list and the charts read: a dossier is in it from its registration while its status is
not settled, scored by its appointment in force, whatever was sent to the citizen.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import redis

from gateway.core.codes import fold, make_secret, new_short_code
from gateway.core.dossier import Dossier, Registration, open_dossier
from gateway.core.errors import InvalidTime, InvalidTransition
from gateway.core.events import StatusChanged, fingerprint
from gateway.core.offices import DEFAULT_OFFICE
from gateway.core.service_index import FINISHED
from gateway.core.status import Status
from gateway.core.times import format_time, from_micros, parse_time, to_micros
from gateway.store import history_entries, keys, scripts
from gateway.store.errors import (
    CorruptRecord,
    DossierConflict,
    EventConflict,
    ShortCodesExhausted,
    UnknownDossier,
)
from gateway.store.replication import confirm

CHANGES_MAXLEN = 1_000_000
ANY_DEPARTMENT = ""
ANY_OFFICE = ""
# Draws of a random short code before giving up: with a million dossiers in 2**30 codes a draw
# is taken one time in a thousand, so 20 taken in a row never happens while the space is not full.
SHORT_CODE_DRAWS = 20
# The stored answer to an event id keeps this much of the event's fingerprint (hex, 64 bits): it
# only tells, for one dossier and one event id already recorded, a repeat of the same event from
# the id reused for another. Two different events under one id pass as one with a chance of
# 2**-64; a sender that crafted such a pair (2**32 tries) would only have its second event
# answered as the first, not recorded — what not sending it does.
ANSWER_FP_CHARS = 16


@dataclass(frozen=True, slots=True)
class Registered:
    dossier: Dossier
    created: bool  # False: the same registration was made before


@dataclass(frozen=True, slots=True)
class Recorded:
    """What the store did with an event (also the answer repeated for a repeated event id)."""

    code: str
    event_id: str
    status: Status
    version: int
    current: bool  # False: older than the state, kept in history only
    repeated: bool  # True: this event id was recorded before
    due_at: datetime | None = None  # the appointment in force after it (None: recorded before)
    rescheduled: bool = False  # True: the event's new appointment took effect


def read_answer(stored: str, code: str, event_id: str, repeated: bool) -> tuple[str, Recorded]:
    """The stored answer to an event id, as the APPLY script writes it — `fp|status|version|
    current|rescheduled|due_at` (fingerprint cut to `ANSWER_FP_CHARS`, 1/0 flags, due_at empty
    for none) — or as a JSON object with the whole fingerprint (answers stored before): the
    fingerprint it keeps and what the store did."""
    try:
        if stored.startswith("{"):
            old = json.loads(stored)
            fp, status, version = str(old["fp"]), old["status"], old["version"]
            current, rescheduled = bool(old["current"]), bool(old.get("rescheduled", False))
            due_at = old.get("due_at") or ""
        else:
            fp, status, version, now, moved, due_at = stored.split("|", 5)
            current, rescheduled = now == "1", moved == "1"
        return fp, Recorded(
            code=code,
            event_id=event_id,
            status=Status(int(status)),
            version=int(version),
            current=current,
            repeated=repeated,
            due_at=parse_time("due_at", due_at) if due_at else None,
            rescheduled=rescheduled,
        )
    except (KeyError, ValueError, InvalidTime) as exc:
        raise CorruptRecord(f"answer to event {event_id!r} of dossier {code!r}: {exc}") from exc


def random_short_code() -> str:
    return new_short_code(secrets.randbelow)


class DossierStore:
    def __init__(
        self, client: redis.Redis, draw_short_code: Callable[[], str] = random_short_code
    ) -> None:
        self._redis = client
        self._draw_short_code = draw_short_code  # tests pass their own draws
        self._register = client.register_script(scripts.REGISTER)
        self._apply = client.register_script(scripts.APPLY)
        self._index_dossier = client.register_script(scripts.INDEX_DOSSIER)
        self._secret_of = client.register_script(scripts.SECRET_OF)

    # -- writing -----------------------------------------------------------------------------

    def register(
        self, reg: Registration, department: str, now: datetime, office: str = DEFAULT_OFFICE
    ) -> Registered:
        """Registers `reg` for `department` of `office`; the same code again from another
        department or office is a `DossierConflict`."""
        for _ in range(SHORT_CODE_DRAWS):
            done = self._register_with(reg, department, office, now, self._draw_short_code())
            if done is not None:
                return done
        raise ShortCodesExhausted(SHORT_CODE_DRAWS)

    def _register_with(
        self, reg: Registration, department: str, office: str, now: datetime, short: str
    ) -> Registered | None:
        """Registers `reg` under the short code `short`; None if that short code is taken (the
        script checks it in the same atomic step that indexes it)."""
        secret = make_secret(secrets.randbelow)
        dossier = open_dossier(reg, department, short, secret, office)
        entry = {
            "event_id": "registered",
            "status": int(reg.status),
            "at": reg.received_at,
            "due_at": format_time(reg.due_at),
            "desk": None,
            "note": None,
            "source": department,
            "recorded_at": now,
            "current": True,
            "version": 1,
        }
        fields = _to_hash(dossier) | {
            "fingerprint": reg.fingerprint(),
            "created_at": format_time(now),
            "received_ms": _ms(reg.received_at),  # the service index's figures count it
        }
        if reg.status in FINISHED:  # registered settled: settled when received
            fields["settled_ms"] = _ms(reg.received_at)
        result = self._register(
            keys=[
                keys.dossier(reg.code),
                keys.history(reg.code),
                keys.lookup(),
                keys.changes(),
                keys.open_by_due(),
                *(keys.phone(p) for p in reg.phones),
            ],
            args=[
                reg.code,
                reg.fingerprint(),
                fold(reg.code),
                short,
                json.dumps(fields, ensure_ascii=False),
                history_entries.write(entry),
                CHANGES_MAXLEN,
                int(reg.status),
                keys.province_prefix(),
            ],
        )
        outcome = result[0]
        if outcome == "created":
            confirm(self._redis)
            return Registered(dossier, created=True)
        if outcome == "exists":
            _, existing_fp, existing_department, existing_office = result
            if (
                existing_fp != reg.fingerprint()
                or existing_department != department
                or (existing_office or DEFAULT_OFFICE) != office
            ):
                raise DossierConflict(reg.code)
            confirm(self._redis)  # made by a request that may have been refused unconfirmed
            return Registered(self.get(reg.code, department), created=False)
        if outcome == "short-taken":  # drawn before: draw again
            return None
        raise DossierConflict(reg.code)  # another code that folds the same way

    def apply(
        self,
        code: str,
        ev: StatusChanged,
        department: str,
        now: datetime,
        office: str = ANY_OFFICE,
    ) -> Recorded:
        """Record `ev` on the dossier, atomically; idempotent by event id. A dossier of another
        `department` or `office` (unless ANY_) is an `UnknownDossier`."""
        entry: dict[str, Any] = {
            "event_id": ev.event_id,
            "status": None if ev.status is None else int(ev.status),
            "at": ev.at,
            "desk": ev.desk,
            "note": ev.note,
            "source": ev.source,
            "staff": ev.staff,
            "recorded_at": now,
        }
        if ev.due_at is not None:
            entry["due_at"] = format_time(ev.due_at)
        fp = fingerprint(ev)
        result = self._apply(
            keys=[
                keys.dossier(code),
                keys.history(code),
                keys.event_ids(code),
                keys.changes(),
                keys.open_by_due(),
            ],
            args=[
                department,
                ev.event_id,
                fp[:ANSWER_FP_CHARS],
                "" if ev.status is None else int(ev.status),
                to_micros(ev.at),
                ev.desk or "",
                history_entries.write(entry),
                format_time(ev.at),
                CHANGES_MAXLEN,
                ev.source,
                code,
                "" if ev.due_at is None else _ms(ev.due_at),
                "" if ev.due_at is None else format_time(ev.due_at),
                office,
                keys.province_prefix(),
            ],
        )
        outcome = result[0]
        if outcome == "unknown":
            raise UnknownDossier(code)
        if outcome == "invalid":
            raise InvalidTransition(code, int(result[1]), int(ev.status or result[1]))
        stored_fp, recorded = read_answer(str(result[1]), code, ev.event_id, outcome == "seen")
        if stored_fp != fp[: len(stored_fp)]:
            raise EventConflict(code, ev.event_id)
        confirm(self._redis)  # also a repeat: the first try may have been refused unconfirmed
        return recorded

    def index_by_due(self, codes: list[str]) -> int:
        """The upgrade step for dossiers stored before the scripts kept the index of open
        dossiers by appointment: gives each its place there; returns how many were indexed."""
        pipe = self._redis.pipeline(transaction=False)
        for code in codes:
            pipe.hmget(keys.dossier(code), "due_at", "received_at")
        indexed = 0
        for code, (due_at, received_at) in zip(codes, pipe.execute(), strict=True):
            if due_at is None or received_at is None:
                continue
            try:
                due = parse_time("due_at", due_at)
                received = parse_time("received_at", received_at)
            except InvalidTime as exc:
                raise CorruptRecord(f"dossier {code!r}: {exc}") from exc
            done = self._index_dossier(
                keys=[keys.dossier(code), keys.open_by_due()],
                args=[code, due_at, _ms(due), to_micros(received)],
            )
            indexed += int(done == 1)
        return indexed

    # -- reading -----------------------------------------------------------------------------

    def open_by_due(
        self, until: datetime | None, limit: int, start: int = 0
    ) -> tuple[list[str], bool]:
        """Open dossiers by appointment, the earliest first (only those due by `until`, when
        given), at most `limit` from the `start`th on; True when there were more. The overdue
        list's and the charts' one reader of `keys.open_by_due()`."""
        top: float | str = "+inf" if until is None else _ms(until)
        found = [
            str(c)
            for c in self._redis.zrangebyscore(
                keys.open_by_due(), "-inf", top, start=start, num=limit + 1
            )
        ]
        return found[:limit], len(found) > limit

    def all_codes(self, batch: int = 500) -> Iterator[list[str]]:
        """Every stored dossier's code, in batches of up to `batch` (a SCAN: for the upgrade
        steps that walk every dossier, never for a request)."""
        prefix = keys.dossier("")
        codes: list[str] = []
        for key in self._redis.scan_iter(match=keys.dossier_pattern(), count=batch):
            code = str(key)[len(prefix) :]
            if ":" in code:  # a dossier's history or event ids
                continue
            codes.append(code)
            if len(codes) >= batch:
                yield codes
                codes = []
        yield codes

    def get(self, code: str, department: str = ANY_DEPARTMENT, office: str = ANY_OFFICE) -> Dossier:
        """The dossier; `UnknownDossier` when there is none, or it is not of `department` and
        `office` (when given): the two are never told apart."""
        raw = cast(dict[str, str], self._redis.hgetall(keys.dossier(code)))
        if not _visible(raw, department, office):
            raise UnknownDossier(code)
        return _from_hash(raw)

    def history(self, code: str) -> list[dict[str, Any]]:
        return [history_entries.read(e) for e in self._redis.lrange(keys.history(code), 0, -1)]

    def get_with_history(
        self, code: str, department: str = ANY_DEPARTMENT, office: str = ANY_OFFICE
    ) -> tuple[Dossier, list[dict[str, Any]]]:
        pipe = self._redis.pipeline(transaction=True)
        pipe.hgetall(keys.dossier(code))
        pipe.lrange(keys.history(code), 0, -1)
        raw, entries = pipe.execute()
        if not _visible(raw, department, office):
            raise UnknownDossier(code)
        return _from_hash(raw), [history_entries.read(e) for e in entries]

    def find(self, typed: str) -> str | None:
        """The code of the dossier a sloppily typed full or short code names, if any."""
        folded = fold(typed)
        if not folded:
            return None
        found = self._redis.hget(keys.lookup(), folded)
        return str(found) if found is not None else None

    def secret_of(self, typed: str, decoy: str) -> str:
        """The secret of the dossier a sloppily typed full or short code names, or `decoy`: one
        round trip doing the same work whether or not the dossier exists."""
        found = self._secret_of(keys=[keys.lookup()], args=[fold(typed), keys.dossier(""), decoy])
        return str(found)

    def codes_of_phone(self, e164: str) -> set[str]:
        return {str(c) for c in self._redis.smembers(keys.phone(e164))}

    def offices_of(self, codes: Iterable[str]) -> dict[str, str]:
        """The office of each of `codes` that is a stored dossier (one round trip; a dossier
        stored before offices is of the default office; an unknown code is left out)."""
        wanted = sorted(set(codes))
        pipe = self._redis.pipeline(transaction=False)
        for code in wanted:
            pipe.hmget(keys.dossier(code), "code", "office")
        found = {}
        for code, (stored, office) in zip(wanted, pipe.execute(), strict=True):
            if stored is not None:
                found[code] = str(office) if office else DEFAULT_OFFICE
        return found


def _visible(raw: dict[str, str], department: str, office: str) -> bool:
    """Whether a stored dossier exists for a caller of `department` and `office` (ANY_: any)."""
    if not raw:
        return False
    if department != ANY_DEPARTMENT and raw.get("department") != department:
        return False
    return office == ANY_OFFICE or raw.get("office", DEFAULT_OFFICE) == office


def _to_hash(d: Dossier) -> dict[str, str | int]:
    fields: dict[str, str | int] = {
        "code": d.code,
        "short_code": d.short_code,
        "secret": d.secret,
        "department": d.department,
        "office": d.office,
        "procedure_code": d.procedure_code,
        "procedure_name": d.procedure_name,
        "phones": json.dumps(list(d.phones)),
        "received_at": format_time(d.received_at),
        "due_at": format_time(d.due_at),
        "due_ms": _ms(d.due_at),
        "status": int(d.status),
        "version": d.version,
        "updated_us": to_micros(d.updated_at),
        "updated_at": format_time(d.updated_at),
    }
    if d.due_set_at is not None:
        fields["due_set_us"] = to_micros(d.due_set_at)
    if d.holder is not None:
        fields["holder"] = d.holder
    if d.applicant_name is not None:
        fields["applicant_name"] = d.applicant_name
    return fields


def _from_hash(raw: dict[str, str]) -> Dossier:
    try:
        return Dossier(
            code=raw["code"],
            short_code=raw["short_code"],
            secret=raw["secret"],
            department=raw["department"],
            procedure_code=raw["procedure_code"],
            procedure_name=raw["procedure_name"],
            phones=tuple(json.loads(raw["phones"])),
            received_at=parse_time("received_at", raw["received_at"]),
            due_at=parse_time("due_at", raw["due_at"]),
            status=Status(int(raw["status"])),
            holder=raw.get("holder"),
            applicant_name=raw.get("applicant_name"),
            version=int(raw["version"]),
            updated_at=from_micros(int(raw["updated_us"])),
            due_set_at=from_micros(int(raw["due_set_us"])) if "due_set_us" in raw else None,
            office=raw.get("office", DEFAULT_OFFICE),
        )
    except (KeyError, ValueError) as exc:
        raise CorruptRecord(f"dossier {raw.get('code')!r}: {exc}") from exc


def _ms(value: datetime) -> int:
    """A time as the index of open dossiers scores it: milliseconds since the epoch."""
    return to_micros(value) // 1000
