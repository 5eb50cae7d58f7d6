"""Long operator work run from the command line, each with a progress bar: importing dossiers
from a department's export, re-queueing failed SMS, indexing SMS stored before the indexes.

Each operation is safe to run again: an import registers a dossier the way the API does (the
same row again is "already there"; the same code with other data is reported, not changed), a
failed SMS is resent at most once (the outbox's dedupe key), re-indexing adds what is missing.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import redis

from gateway.core.errors import CoreError
from gateway.core.messages import SmsState
from gateway.registration import register_dossier
from gateway.schemas import InvalidBody
from gateway.store.dossiers import DossierStore
from gateway.store.errors import StoreError
from gateway.store.outbox import Outbox
from gateway.store.sms_records import SmsRecords
from hoso.progress import Progress

BATCH = 500
CSV_LIST_SEPARATOR = ";"  # phones in one CSV cell: "0901234567;0987654321"
CSV_INTEGERS = ("status",)

ProgressFactory = Callable[[str, int], Progress]


# -- SMS ---------------------------------------------------------------------------------------


def reindex_messages(client: redis.Redis, progress: ProgressFactory) -> int:
    """Adds every stored SMS to the indexes by phone and dossier; returns how many there are."""
    outbox = Outbox(client)
    ids = SmsRecords(client).all_ids()
    indexed = 0
    with progress("reindex", len(ids)) as bar:
        for message_id in ids:
            indexed += outbox.reindex(str(message_id))
            bar.advance()
    return indexed


@dataclass(frozen=True, slots=True)
class Resent:
    old: str
    new: str


def failed_messages(
    client: redis.Redis, since_ms: int, dossier: str, progress: ProgressFactory
) -> list[str]:
    """Ids of the failed SMS created at or after `since_ms` (about `dossier` if given) that
    were not resent yet, oldest first."""
    records = SmsRecords(client)
    ids = records.all_ids()
    found: list[str] = []
    fields = ("state", "created_ms", "dossier", "resent_as")
    with progress("search", len(ids)) as bar:
        for start in range(ids.start, ids.stop, BATCH):
            batch = range(start, min(start + BATCH, ids.stop))
            for message_id, values in zip(batch, records.fields(batch, fields), strict=True):
                state, created, about, resent_as = values
                if state != SmsState.FAILED.value or resent_as:
                    continue
                if int(created or 0) < since_ms or (dossier and about != dossier):
                    continue
                found.append(str(message_id))
            bar.advance(len(batch))
    return found


def resend_failed(
    client: redis.Redis, ids: list[str], now_ms: int, progress: ProgressFactory
) -> list[Resent]:
    """Queues a copy of each failed SMS (the same failed SMS twice gives the same copy)."""
    outbox = Outbox(client)
    done: list[Resent] = []
    with progress("resend", len(ids)) as bar:
        for message_id in ids:
            with contextlib.suppress(LookupError, ValueError):  # resent or gone meanwhile
                done.append(Resent(message_id, outbox.resend(message_id, now_ms)))
            bar.advance()
    return done


# -- dossiers ----------------------------------------------------------------------------------


@dataclass(slots=True)
class ImportReport:
    created: int = 0
    existing: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, what is wrong)
    results: list[dict[str, Any]] = field(default_factory=list)  # one per good row


def read_rows(text: str, fmt: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, the registration body) per row of a JSON Lines or CSV export, or (line
    number, what is wrong) for a row that cannot be read."""
    if fmt == "jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                parsed = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, f"not JSON: {exc.msg}"
                continue
            yield number, parsed if isinstance(parsed, dict) else "not a JSON object"
        return
    reader = csv.DictReader(io.StringIO(text))
    for row in reader:
        number = reader.line_num
        body: dict[str, Any] = {}
        for name, value in row.items():
            if name is None:
                yield number, "more cells than columns"
                break
            if value is None or value.strip() == "":
                continue
            value = value.strip()
            if name == "phones":
                body[name] = [p.strip() for p in value.split(CSV_LIST_SEPARATOR) if p.strip()]
            elif name in CSV_INTEGERS:
                body[name] = int(value) if value.isdecimal() else value
            else:
                body[name] = value
        else:
            yield number, body


def import_dossiers(
    store: DossierStore,
    department: str,
    office: str,
    rows: list[tuple[int, dict[str, Any] | str]],
    now: datetime,
    progress: ProgressFactory,
    clock_skew: timedelta,
) -> ImportReport:
    """Registers each row as the department API does (`gateway.registration`: same checks, same
    answers; a received_at more than `clock_skew` ahead of `now` is refused)."""
    report = ImportReport()
    with progress("import", len(rows)) as bar:
        for number, body in rows:
            bar.advance()
            if isinstance(body, str):
                report.errors.append((number, body))
                continue
            try:
                result = register_dossier(store, body, department, office, now, clock_skew)
            except (InvalidBody, CoreError, StoreError) as exc:
                report.errors.append((number, str(exc)))
                continue
            d = result.dossier
            if result.created:
                report.created += 1
            else:
                report.existing += 1
            report.results.append(
                {
                    "line": number,
                    "code": d.code,
                    "short_code": d.short_code,
                    "secret": d.secret,
                    "created": result.created,
                }
            )
    return report
