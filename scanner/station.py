"""The counter station: a scan in, a durable record and instant feedback out.

For each text a source reads: find the dossier code in it (the text itself, or a full code inside
a QR payload / tracking URL), reject at once what cannot be a dossier code (no upload), treat the
same code again within ``debounce_seconds`` as the same scan, otherwise commit it to the spool and
only then say OK (and ring the bell). The uploader runs in its own thread and reports back here.

Feedback lines (one per event, on the terminal):
    OK <seq> <code>                     recorded (committed to the spool)
    OK <seq> <code> (repeat)            the same code within debounce_seconds: the same scan
    OK <seq> <code> OFFLINE (n waiting) recorded while the gateway is unreachable
    BAD <text>: not a dossier code      rejected locally, nothing recorded
    OFFLINE (n waiting)                 the gateway became unreachable
    ONLINE (n waiting)                  the gateway answers again
    REJECTED <seq> <code>: <detail>     the gateway refused the scan (unknown code, not allowed...)
    KEY REJECTED: <detail> - uploads stopped, scans are kept
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TextIO
from zoneinfo import ZoneInfo

from gateway.core.codes import CODE_PATTERN, fold, looks_like_code
from scanner.spool import Spool, SpooledScan
from scanner.uploader import UploadEvents

log = logging.getLogger(__name__)

OFFICE_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
_CODE_INSIDE = re.compile(r"[0-9A-Z]{3}\.[0-9A-Z]{2}\.[0-9A-Z]{2}\.[0-9A-Z]{3}-\d{6}-\d{4,6}")
MAX_SHOWN = 40  # characters of a rejected text shown back


def extract_code(text: str) -> str | None:
    """The dossier code a scan carries, as uploaded: canonical if typed so, else folded."""
    stripped = text.strip().upper()
    if CODE_PATTERN.fullmatch(stripped):
        return stripped
    if len(stripped) <= 40 and looks_like_code(stripped):
        return fold(stripped)
    inside = _CODE_INSIDE.search(stripped)  # a QR payload or a tracking URL carrying the code
    return inside.group(0) if inside else None


class Outcome(StrEnum):
    RECORDED = "recorded"
    REPEAT = "repeat"
    BAD = "bad"


@dataclass(frozen=True, slots=True)
class Handled:
    outcome: Outcome
    scan: SpooledScan | None = None


class Feedback(UploadEvents):
    """Lines on the counter's terminal (flushed at once), with the bell if configured."""

    def __init__(self, out: TextIO, bell: bool = False) -> None:
        self.out = out
        self.bell = bell
        self.offline_now = False
        self._lock = threading.Lock()

    def say(self, line: str, ring: int = 0) -> None:
        with self._lock:
            self.out.write(line + ("\a" * ring if self.bell else "") + "\n")
            self.out.flush()

    def recorded(self, scan: SpooledScan, waiting: int, repeat: bool = False) -> None:
        line = f"OK {scan.seq} {scan.code}"
        if repeat:
            line += " (repeat)"
        elif self.offline_now:
            line += f" OFFLINE ({waiting} waiting)"
        self.say(line, ring=1)

    def bad(self, text: str) -> None:
        shown = text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."
        self.say(f"BAD {shown}: not a dossier code", ring=3)

    # -- from the uploader thread ------------------------------------------------------------

    def rejected(self, scan: SpooledScan, status: int, detail: str) -> None:
        self.say(f"REJECTED {scan.seq} {scan.code}: {detail}", ring=3)

    def offline(self, waiting: int, reason: str) -> None:
        self.offline_now = True
        self.say(f"OFFLINE ({waiting} waiting)")

    def online(self, waiting: int) -> None:
        self.offline_now = False
        self.say(f"ONLINE ({waiting} waiting)")

    def key_rejected(self, detail: str) -> None:
        self.say(f"KEY REJECTED: {detail} - uploads stopped, scans are kept", ring=3)


class Station:
    def __init__(
        self,
        spool: Spool,
        feedback: Feedback,
        clock: Callable[[], float],
        *,
        debounce_seconds: float = 1.5,
        staff: str | None = None,
        on_recorded: Callable[[], None] | None = None,
    ) -> None:
        self.spool = spool
        self.feedback = feedback
        self.clock = clock
        self.debounce_seconds = debounce_seconds
        self.staff = staff or None
        self.on_recorded = on_recorded or (lambda: None)
        # folded code -> (when, scan); seeded from the spool so a restart does not double a scan
        self._recent: dict[str, tuple[float, SpooledScan]] = {}
        for scan in spool.since(clock() - debounce_seconds):
            self._recent[fold(scan.code)] = (scan.scanned_ts, scan)

    def handle(self, text: str) -> Handled:
        code = extract_code(text)
        if code is None:
            log.info("scan.bad text=%r", text[:MAX_SHOWN])
            self.feedback.bad(text.strip())
            return Handled(Outcome.BAD)
        now = self.clock()
        key = fold(code)
        previous = self._recent.get(key)
        if previous is not None and now - previous[0] < self.debounce_seconds:
            self.feedback.recorded(previous[1], 0, repeat=True)
            return Handled(Outcome.REPEAT, previous[1])
        at = datetime.fromtimestamp(now, UTC).astimezone(OFFICE_TZ)
        scan = self.spool.add(code, at, self.staff)  # durable before the beep
        self._recent[key] = (now, scan)
        self._forget_older_than(now - self.debounce_seconds)
        log.info("scan.recorded seq=%s code=%s", scan.seq, code)
        waiting = self.spool.count_pending() if self.feedback.offline_now else 0
        self.feedback.recorded(scan, waiting)
        self.on_recorded()
        return Handled(Outcome.RECORDED, scan)

    def run(self, source: Iterable[str]) -> None:
        for text in source:
            self.handle(text)

    def _forget_older_than(self, ts: float) -> None:
        if len(self._recent) > 64:
            self._recent = {k: v for k, v in self._recent.items() if v[0] >= ts}
