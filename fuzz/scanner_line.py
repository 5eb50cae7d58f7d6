"""A scanner typing into the station's standard input (`scanner.line_source.LineSource`, the
source for a tty or a pipe): the stream is read as the station reads sys.stdin under a UTF-8
locale, and each line goes to the station (`scanner.station.extract_code`, rejection feedback).

Documented failures: none: a scanner sending a byte that is not UTF-8 must not stop the station.
"""

from __future__ import annotations

import io

from fuzz.scanner_serial import seen_by_station
from scanner.line_source import LineSource

MAX_LEN = 4096


def TestOneInput(data: bytes) -> None:
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")  # strict, like sys.stdin
    for line in LineSource(stream):
        assert line, data
        assert line == line.strip(), line
        seen_by_station(line)


def main() -> None:
    from fuzz.harness import run  # noqa: PLC0415 - atheris only when fuzzing

    run(TestOneInput)


if __name__ == "__main__":
    main()
