"""A plain line source: one code per line from stdin or a tty (also what tests pipe into)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TextIO


class LineSource:
    """The lines of a text stream, stripped; empty lines skipped. Ends with the stream.

    A byte the stream's encoding cannot decode becomes U+FFFD: sys.stdin is strict under a
    UTF-8 locale, and one bad byte from a scanner raised UnicodeDecodeError out of the station's
    loop (found by fuzzing)."""

    def __init__(self, stream: TextIO) -> None:
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")
        self.stream = stream

    def __iter__(self) -> Iterator[str]:
        for line in self.stream:
            text = line.strip()
            if text:
                yield text
