"""The counter station: a scan in, a durable record and instant feedback out.

For each text a source reads: find the dossier code in it (`scanner.payloads`: the code itself,
a receipt's QR payload, a tracking URL), reject at once what cannot be a dossier code (no upload),
pass over the other lines of a QR payload typed line by line, treat the same code again within
``debounce_seconds`` as the same scan, otherwise commit it to the spool and only then say OK (and
ring the bell). The uploader runs in its own thread and reports back here what the gateway did
with each scan: the dossier moved, or did not and why (`scanner.messages` has every line).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TextIO

from gateway.core.codes import fold
from gateway.core.times import VIETNAM
from scanner import messages
from scanner.payloads import extract_code, read_scan
from scanner.spool import Spool, SpooledScan
from scanner.uploader import ScanVerdict, UploadEvents

log = logging.getLogger(__name__)

MAX_SHOWN = messages.MAX_SHOWN

__all__ = ["CounterStation", "Feedback", "Handled", "ScanOutcome", "extract_code"]


class ScanOutcome(StrEnum):
    RECORDED = "recorded"
    REPEAT = "repeat"
    BAD = "bad"
    PASSED_OVER = "passed-over"  # a line of a QR payload other than its code


@dataclass(frozen=True, slots=True)
class Handled:
    outcome: ScanOutcome
    scan: SpooledScan | None = None


class Feedback(UploadEvents):
    """Lines on the counter's terminal (flushed at once), with the bell if configured."""

    def __init__(self, out: TextIO, bell: bool = False) -> None:
        self.out = out
        self.bell = bell
        self.offline_now = False
        # Held by the station from spooling a scan to saying OK: what the uploader reports about
        # that scan (or about the gateway) is said after the OK, never before.
        self.turn = threading.RLock()

    def say(self, line: str, ring: int = 0) -> None:
        with self.turn:
            self.out.write(line + ("\a" * ring if self.bell else "") + "\n")
            self.out.flush()

    def show(self, line: messages.Line) -> None:
        self.say(*line)

    def recorded(self, scan: SpooledScan, waiting: int, repeat: bool = False) -> None:
        self.show(messages.recorded(scan, repeat=repeat, offline=self.offline_now, waiting=waiting))

    def bad(self, text: str) -> None:
        self.show(messages.not_a_code(text))

    # -- from the uploader thread ------------------------------------------------------------

    def sent(self, scan: SpooledScan, verdict: ScanVerdict) -> None:
        self.show(messages.verdict(scan, verdict))

    def rejected(self, scan: SpooledScan, verdict: ScanVerdict) -> None:
        self.show(messages.verdict(scan, verdict))

    def offline(self, waiting: int, reason: str) -> None:
        with self.turn:
            self.offline_now = True
            self.show(messages.offline(waiting))

    def online(self, waiting: int) -> None:
        with self.turn:
            self.offline_now = False
            self.show(messages.online(waiting))

    def key_rejected(self, detail: str) -> None:
        self.show(messages.key_refused())


class CounterStation:
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
        reading = read_scan(text)
        if reading.qr_field:
            log.info("scan.qr_line_passed_over text=%r", text[:MAX_SHOWN])
            return Handled(ScanOutcome.PASSED_OVER)
        code = reading.code
        if code is None:
            log.info("scan.bad text=%r", text[:MAX_SHOWN])
            self.feedback.bad(text.strip())
            return Handled(ScanOutcome.BAD)
        now = self.clock()
        key = fold(code)
        previous = self._recent.get(key)
        if previous is not None and now - previous[0] < self.debounce_seconds:
            self.feedback.recorded(previous[1], 0, repeat=True)
            return Handled(ScanOutcome.REPEAT, previous[1])
        at = datetime.fromtimestamp(now, UTC).astimezone(VIETNAM)
        with self.feedback.turn:
            scan = self.spool.add(code, at, self.staff)  # durable before the beep
            self._recent[key] = (now, scan)
            self._forget_older_than(now - self.debounce_seconds)
            log.info("scan.recorded seq=%s code=%s", scan.seq, code)
            waiting = self.spool.count_pending() if self.feedback.offline_now else 0
            self.feedback.recorded(scan, waiting)
        self.on_recorded()
        return Handled(ScanOutcome.RECORDED, scan)

    def run(self, source: Iterable[str]) -> None:
        for text in source:
            self.handle(text)

    def _forget_older_than(self, ts: float) -> None:
        if len(self._recent) > 64:
            self._recent = {k: v for k, v in self._recent.items() if v[0] >= ts}
