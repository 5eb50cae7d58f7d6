"""The station's local spool: every scan is committed here, durably, before the beep.

SQLite in WAL mode with ``synchronous=FULL``: a commit has reached the disk when `add` returns, so
a scan the counter heard beep survives a crash or a power cut. Each scan gets the station's next
``seq`` (``AUTOINCREMENT``: never reused, even after rows are purged), which with the station id
makes the upload idempotent. States: ``pending`` -> ``sent`` (with the gateway's outcome: moved,
out-of-order) | ``rejected`` (with the gateway's problem detail). Pending scans replay in ``seq``
order. The spool also remembers the desk the gateway last said the station stands for, so that an
offline start can still show it (`remember_desk`, `last_desk`).

One connection shared by the station's reading thread and its uploader thread, under a lock.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scans (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL,
    scanned_at TEXT NOT NULL,
    scanned_ts REAL NOT NULL,
    staff TEXT,
    state TEXT NOT NULL DEFAULT 'pending',
    status INTEGER,
    detail TEXT,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS scans_state ON scans (state, seq);
"""
_COLUMNS = "seq, code, scanned_at, scanned_ts, staff, state, status, detail, attempts"


class SpoolError(Exception):
    """The spool cannot be used (another station's file, an unreadable database)."""


class ScanState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class SpooledScan:
    seq: int
    code: str
    scanned_at: str  # ISO 8601 with offset, as uploaded
    scanned_ts: float  # the same instant, seconds since the epoch
    staff: str | None
    state: ScanState
    status: int | None = None  # the gateway's HTTP status once answered
    detail: str | None = None  # the outcome of a sent scan, the problem detail of a rejected one
    attempts: int = 0


class Spool:
    def __init__(self, path: str | Path, station_id: str) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=30
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key = 'station_id'").fetchone()
            if row is None:
                self._db.execute(
                    "INSERT INTO meta (key, value) VALUES ('station_id', ?)", (station_id,)
                )
            elif row[0] != station_id:
                raise SpoolError(
                    f"{path} is the spool of station {row[0]!r}, not {station_id!r}"
                    " (its seq counter belongs to that station)"
                )
        except sqlite3.Error as exc:
            raise SpoolError(f"{path}: {exc}") from exc
        self.path = path
        self.station_id = station_id

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, code: str, scanned_at: datetime, staff: str | None = None) -> SpooledScan:
        """Commit a new scan (durable on return) and give it the station's next seq."""
        at = scanned_at.isoformat(timespec="milliseconds")
        ts = scanned_at.timestamp()
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO scans (code, scanned_at, scanned_ts, staff) VALUES (?, ?, ?, ?)",
                (code, at, ts, staff),
            )
            seq = cur.lastrowid
        assert seq is not None
        return SpooledScan(seq, code, at, ts, staff, ScanState.PENDING)

    def get(self, seq: int) -> SpooledScan | None:
        rows = self._select("WHERE seq = ?", (seq,))
        return rows[0] if rows else None

    def pending(self, limit: int = 100) -> list[SpooledScan]:
        """The oldest scans not yet answered by the gateway, in seq order."""
        return self._select("WHERE state = 'pending' ORDER BY seq LIMIT ?", (limit,))

    def since(self, ts: float) -> list[SpooledScan]:
        """Scans made at or after `ts` (seconds since the epoch), in seq order."""
        return self._select("WHERE scanned_ts >= ? ORDER BY seq", (ts,))

    def all(self) -> list[SpooledScan]:
        return self._select("ORDER BY seq", ())

    def count(self, state: ScanState) -> int:
        with self._lock:
            row = self._db.execute("SELECT count(*) FROM scans WHERE state = ?", (state,))
            return int(row.fetchone()[0])

    def count_pending(self) -> int:
        return self.count(ScanState.PENDING)

    def record_attempt(self, seq: int, stamp: int | None = None) -> None:
        """One more upload attempt of `seq`, signed with timestamp `stamp` (kept, with the seq,
        so that a station restarted within the same second never signs the same upload twice:
        the gateway accepts a signature once)."""
        with self._lock, self._transaction():
            self._db.execute("UPDATE scans SET attempts = attempts + 1 WHERE seq = ?", (seq,))
            if stamp is not None:
                self._set_meta("last_attempt", f"{seq} {stamp}")

    def last_attempt(self) -> tuple[int, int]:
        """(seq, timestamp) of the last upload attempt recorded; (0, 0) if none."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'last_attempt'").fetchone()
        if row is None:
            return 0, 0
        seq, stamp = str(row[0]).split()
        return int(seq), int(stamp)

    def take_stamp(self, request: str, now: int) -> int:
        """A timestamp to sign `request` (a request without a body, e.g. "GET /path") with:
        `now`, or one more than the last one taken for it if that is not earlier, so that two
        starts within one second do not sign the same request twice."""
        key = f"stamp {request}"
        with self._lock, self._transaction():
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            stamp = now if row is None else max(now, int(row[0]) + 1)
            self._set_meta(key, str(stamp))
        return stamp

    def mark_sent(self, seq: int, status: int, outcome: str = "") -> None:
        self._execute(
            "UPDATE scans SET state = 'sent', status = ?, detail = ?"
            " WHERE seq = ? AND state = 'pending'",
            (status, outcome or None, seq),
        )

    def mark_rejected(self, seq: int, status: int, detail: str) -> None:
        self._execute(
            "UPDATE scans SET state = 'rejected', status = ?, detail = ?"
            " WHERE seq = ? AND state = 'pending'",
            (status, detail, seq),
        )

    def remember_desk(self, desk: str, at: datetime) -> None:
        """The desk the gateway said the station stands for, and when it said so."""
        with self._lock, self._transaction():  # the desk and its time together
            self._set_meta("desk", desk)
            self._set_meta("desk_at", at.isoformat())

    def last_desk(self) -> tuple[str, datetime] | None:
        """The desk last remembered, with when the gateway said it; None if never."""
        with self._lock:
            rows = dict(
                self._db.execute("SELECT key, value FROM meta WHERE key IN ('desk', 'desk_at')")
            )
        if "desk" not in rows or "desk_at" not in rows:
            return None
        return rows["desk"], datetime.fromisoformat(rows["desk_at"])

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One commit for the statements inside (the caller holds the lock)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def _execute(self, sql: str, args: tuple[object, ...]) -> None:
        with self._lock:
            self._db.execute(sql, args)

    def _select(self, where: str, args: tuple[object, ...]) -> list[SpooledScan]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM scans {where}", args).fetchall()  # noqa: S608
        return [
            SpooledScan(r[0], r[1], r[2], r[3], r[4], ScanState(r[5]), r[6], r[7], r[8])
            for r in rows
        ]
