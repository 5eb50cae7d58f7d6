"""A serial scanner's byte stream: `scanner.serial_source.LineSplitter` cuts it into codes at the
configured terminator (or at a pause), whatever the read boundaries; the station then looks for a
dossier code in each (`scanner.station.extract_code`) and shows what it rejects.

Documented failures: none. Invariants: a code is non-empty text without its terminator, and the
same bytes give the same codes however they are cut into reads (terminators only).
"""

from __future__ import annotations

import io

from scanner.serial_source import LineSplitter
from scanner.station import Feedback, extract_code

MAX_LEN = 8192
TERMINATORS = ("cr", "crlf", "lf", "tab", "none")


def _codes(terminator: str, data: bytes, step: int) -> list[str]:
    splitter = LineSplitter(terminator, idle_seconds=0.3)
    now = 0.0
    codes: list[str] = []
    for i in range(0, len(data), step):
        chunk = data[i : i + step]
        now += 0.1 if chunk[:1] != b"\x00" else 1.0  # a NUL first: the scanner paused
        codes += splitter.feed(chunk, now)
        codes += splitter.poll(now)
    codes += splitter.poll(now + 1.0)
    return codes


def seen_by_station(code: str) -> None:
    feedback = Feedback(io.StringIO())
    if extract_code(code) is None:
        feedback.bad(code.strip())


def TestOneInput(data: bytes) -> None:
    if len(data) < 2:
        return
    terminator = TERMINATORS[data[0] % len(TERMINATORS)]
    body = data[2:]
    codes = _codes(terminator, body, 1 + data[1] % 32)
    for code in codes:
        assert code, codes
        assert code == code.strip(), code
        if terminator != "none":
            assert {"cr": "\r", "crlf": "\r\n", "lf": "\n", "tab": "\t"}[terminator] not in code
        seen_by_station(code)
    if terminator != "none" and len(body) <= 4096:
        assert codes == _codes(terminator, body, len(body) or 1)


def main() -> None:
    from fuzz.harness import run  # noqa: PLC0415 - atheris only when fuzzing

    run(TestOneInput)


if __name__ == "__main__":
    main()
