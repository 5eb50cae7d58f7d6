"""The figures of the service index (Decision 766/QĐ-TTg, 2022) leaders compare offices by: what
counts as finished and as on time, how long a dossier took, and the 90th percentile of that time
read from a bounded histogram. Pure: the store keeps these figures incrementally (its Lua scripts
are generated from the tables here, see `gateway/store/scripts.py`), the rebuild and the tests
recompute them from the dossiers with the functions here.

The rules, each with its one home:
- Finished (đã giải quyết): a dossier whose status is settled (`status.SETTLED`: refused,
  withdrawn, stopped, done, returned), the same rule that ends lateness. A dossier reopened
  (9 -> 4, 8 -> 4) is open again and no longer counted as finished.
- Settled at: the time of the event that moved it from an open status into a settled one (for a
  dossier registered settled, its `received_at`); a move between settled statuses (9 -> 10)
  keeps it: the office finished when the result was ready, not when the citizen came for it.
- On time (đúng hạn): settled at or before the appointment in force (`due_at`, as a department
  last set it), to the millisecond.
- Processing time: from `received_at` to settled at, in whole seconds (never below 0).
- Histogram: `BUCKET_HOURS` are the upper bounds of the buckets (hours, calendar time); bucket i
  (1-based) holds the times in [bound i-1, bound i), the last one everything from the last bound.
  The 90th percentile is interpolated linearly inside the bucket it falls in (the last, open
  bucket gives its lower bound): its error is at most the width of that bucket.
- Open: every other dossier; it waits at its holder's desk (none before the first handoff) and
  is overdue now when now is past its appointment (`Dossier.is_overdue`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.core.dossier import Dossier
from gateway.core.status import SETTLED, Status
from gateway.core.times import to_micros

FINISHED = SETTLED
# Upper bounds of the processing-time buckets, in hours: from an hour to three months.
BUCKET_HOURS: tuple[int, ...] = (
    1, 2, 4, 8, 12, 24, 36, 48, 72, 96, 120, 168, 240, 336, 480, 720, 1080, 1440, 2160,
)  # fmt: skip
BUCKETS = len(BUCKET_HOURS) + 1  # the last one is open-ended
PERCENTILE = 0.9
NO_DESK = ""  # where a dossier waits before its first handoff


def bucket_of(seconds: int) -> int:
    """The 1-based bucket of a processing time."""
    for i, hours in enumerate(BUCKET_HOURS, 1):
        if seconds < hours * 3600:
            return i
    return BUCKETS


def to_ms(value: datetime) -> int:
    """A time as the figures keep it: milliseconds since the epoch."""
    return to_micros(value) // 1000


def is_on_time(settled_ms: int, due_ms: int) -> bool:
    return settled_ms <= due_ms


def processing_seconds(received_ms: int, settled_ms: int) -> int:
    return max(0, (settled_ms - received_ms) // 1000)


def settled_at_ms(history: Iterable[Mapping[str, Any]]) -> int | None:
    """When the dossier was settled (ms), from its history (the entries that moved its state, in
    the order recorded); None while it is open."""
    settled: int | None = None
    previous: Status | None = None
    for entry in history:
        if not entry.get("current", True) or entry.get("status") is None:
            continue
        status = Status(int(entry["status"]))
        if status in FINISHED:
            if previous is None or previous not in FINISHED:
                settled = to_ms(datetime.fromisoformat(str(entry["at"])))
        else:
            settled = None
        previous = status
    return settled


@dataclass(frozen=True, slots=True)
class Share:
    """What one dossier adds to its office's figures (and its procedure's and desk's)."""

    office: str
    procedure: str
    desk: str
    open: bool  # not settled: waits at `desk`, indexed by `due_ms`
    finished: bool
    on_time: bool
    seconds: int  # processing time (finished only)
    due_ms: int  # the appointment in force (open ones are indexed by it)

    @property
    def bucket(self) -> int:
        return bucket_of(self.seconds)


def share_of(d: Dossier, settled_ms: int | None) -> Share:
    """The dossier's share of the figures; `settled_ms` as `settled_at_ms` gives it."""
    due = to_ms(d.due_at)
    finished = d.status in FINISHED and settled_ms is not None
    return Share(
        office=d.office,
        procedure=d.procedure_code,
        desk=d.holder or NO_DESK,
        open=d.status not in FINISHED,
        finished=finished,
        on_time=settled_ms is not None and finished and is_on_time(settled_ms, due),
        seconds=(
            processing_seconds(to_ms(d.received_at), settled_ms)
            if settled_ms is not None and finished
            else 0
        ),
        due_ms=due,
    )


@dataclass(frozen=True, slots=True)
class Figures:
    """Finished dossiers of an office (or of a procedure or desk of it, or several offices)."""

    finished: int = 0
    on_time: int = 0
    seconds: int = 0  # sum of processing times
    histogram: tuple[int, ...] = (0,) * BUCKETS

    @classmethod
    def of_fields(cls, fields: Mapping[str, str]) -> Figures:
        """From the stored hash: f finished, t on time, s seconds, h1..hN the buckets."""
        return cls(
            finished=int(fields.get("f", 0)),
            on_time=int(fields.get("t", 0)),
            seconds=int(fields.get("s", 0)),
            histogram=tuple(int(fields.get(f"h{i}", 0)) for i in range(1, BUCKETS + 1)),
        )

    @classmethod
    def of_shares(cls, shares: Iterable[Share]) -> Figures:
        total = cls()
        for s in shares:
            if s.finished:
                hist = list(total.histogram)
                hist[s.bucket - 1] += 1
                total = cls(
                    total.finished + 1,
                    total.on_time + int(s.on_time),
                    total.seconds + s.seconds,
                    tuple(hist),
                )
        return total

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            self.finished + other.finished,
            self.on_time + other.on_time,
            self.seconds + other.seconds,
            tuple(a + b for a, b in zip(self.histogram, other.histogram, strict=True)),
        )

    @property
    def on_time_rate(self) -> float | None:
        """Share of finished dossiers finished on time, 0..1; None when none is finished."""
        return self.on_time / self.finished if self.finished else None

    @property
    def average_seconds(self) -> float | None:
        return self.seconds / self.finished if self.finished else None

    @property
    def p90_seconds(self) -> float | None:
        return percentile_seconds(self.histogram, PERCENTILE)


def percentile_seconds(histogram: Sequence[int], q: float) -> float | None:
    """The q-quantile of the processing times a histogram counts (see the module's rules)."""
    total = sum(histogram)
    if total == 0:
        return None
    rank = q * total
    below = 0
    for i, n in enumerate(histogram):
        if n and below + n >= rank:
            low = 0 if i == 0 else BUCKET_HOURS[i - 1] * 3600
            if i >= len(BUCKET_HOURS):
                return float(low)
            high = BUCKET_HOURS[i] * 3600
            return low + (high - low) * (rank - below) / n
        below += n
    return float(BUCKET_HOURS[-1] * 3600)  # unreachable: the ranks add up to the total
