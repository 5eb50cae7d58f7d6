"""A plain line source: one code per line from stdin or a tty (also what tests pipe into)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TextIO


class LineSource:
    """The lines of a text stream, stripped; empty lines skipped. Ends with the stream."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __iter__(self) -> Iterator[str]:
        for line in self.stream:
            text = line.strip()
            if text:
                yield text
