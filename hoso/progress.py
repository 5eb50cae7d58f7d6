"""A progress bar for long CLI work (imports, bulk resends, re-indexing).

On a terminal it redraws one line in place, at most ten times a second; written to a pipe or a
log file it prints a plain line at every tenth of the work instead, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

WIDTH = 24  # characters of the bar itself
REDRAW_SECONDS = 0.1


class Progress:
    def __init__(
        self,
        label: str,
        total: int,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        tty: bool | None = None,
    ) -> None:
        self.label = label
        self.total = max(total, 0)
        self.done = 0
        self._stream = stream if stream is not None else sys.stderr
        self._clock = clock
        self._tty = self._stream.isatty() if tty is None else tty
        self._started = clock()
        self._drawn_at = float("-inf")
        self._tenths = 0

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self._tty:
            now = self._clock()
            if now - self._drawn_at >= REDRAW_SECONDS or self.done >= self.total:
                self._drawn_at = now
                self._stream.write("\r" + self.line())
                self._stream.flush()
            return
        tenths = 10 * self.done // self.total if self.total else 0
        if tenths > self._tenths:
            self._tenths = tenths
            self._stream.write(self.line() + "\n")
            self._stream.flush()

    def close(self) -> None:
        if self._tty:
            self._stream.write("\r" + self.line() + "\n")
        elif self._tenths < 10:
            self._stream.write(self.line() + "\n")
        self._stream.flush()

    def line(self) -> str:
        """e.g. `reindex [##########--------------]  1,234/3,000  41%  410/s  ETA 4s`"""
        elapsed = max(self._clock() - self._started, 1e-9)
        rate = self.done / elapsed
        share = self.done / self.total if self.total else 1.0
        filled = min(WIDTH, int(share * WIDTH))
        bar = "#" * filled + "-" * (WIDTH - filled)
        left = self.total - self.done
        eta = f"ETA {_duration(left / rate)}" if rate > 0 and left > 0 else f"{_duration(elapsed)}"
        return (
            f"{self.label} [{bar}] {self.done:,}/{self.total:,} {int(share * 100):3d}% "
            f"{rate:,.0f}/s {eta}"
        )


def _duration(value: float) -> str:
    seconds = round(value)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
