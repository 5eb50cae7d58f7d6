"""What a modem says on the AT link, byte by byte: the reader loop of `modem.gsm_fixes` cuts the
bytes into lines (URCs to the callback, the rest to the waiting command), then
`modem.device_parse.split_response` sorts the command's answer as `Device._at` does.

Only the serial port is replaced (it is the true edge). Documented failures: none; the parser
always answers. Invariants: every non-blank line is accounted for (echo, info, URC or final),
a final result is one of the known finals.
"""

from __future__ import annotations

import threading

from modem.device_parse import FINAL, csq_to_dbm, is_urc, quoted, split_response
from modem.gsm_fixes import FixedSerialComms

MAX_LEN = 4096

# (command written, answer prefix asked for, "> " prompt expected), as modem/device.py sends them
COMMANDS: tuple[tuple[str, str | None, str | None], ...] = (
    ("AT", None, None),
    ("AT+CSQ", "+CSQ:", None),
    ("AT+CPIN?", "+CPIN:", None),
    ("AT+CREG?", "+CREG:", None),
    ("AT+COPS?", "+COPS:", None),
    ("AT+CPMS=?", "+CPMS:", None),
    ("AT+CMGL=4", "+CMGL:", None),
    ("AT+CMGS=23", None, "> "),
    ("0011000B914889123456F70000A704F4F29C0E\x1a", "+CMGS:", None),
)


class _Port:
    """Stands for pyserial: hands the bytes over in reads of `step` bytes, then stops the loop."""

    def __init__(self, comms: FixedSerialComms, data: bytes, step: int) -> None:
        self.comms, self.data, self.step, self.pos = comms, data, step, 0
        self.is_open = True

    @property
    def in_waiting(self) -> int:
        return len(self.data) - self.pos

    def read(self, size: int = 1) -> bytes:
        chunk = self.data[self.pos : self.pos + min(size, self.step)]
        self.pos += len(chunk)
        if not chunk:
            self.comms.alive = False
        return chunk

    def close(self) -> None:
        self.is_open = False


def _fatal(exc: BaseException) -> None:
    raise AssertionError(f"reader loop stopped: {exc!r}")


def TestOneInput(data: bytes) -> None:
    if len(data) < 2:
        return
    command, prefix, prompt = COMMANDS[data[0] % len(COMMANDS)]
    urcs: list[str] = []
    comms = FixedSerialComms("fuzz", 115200, urcs.append, _fatal)
    comms.serial = _Port(comms, data[2:], 1 + data[1] % 64)
    comms.alive = True
    comms._responseEvent = threading.Event()
    comms._response = []
    comms._expectResponseTermSeq = prompt
    comms._readLoop()  # returns when the port has no more bytes
    lines: list[str] = comms._response
    resp = split_response(lines, command, prefix)
    assert resp.final is None or FINAL.match(resp.final)
    accounted = len(resp.info) + len(resp.urcs) + (resp.final is not None)
    assert accounted <= sum(1 for line in lines if line.strip())
    resp.error_code()
    value = resp.first(prefix) if prefix else None
    if prefix == "+CSQ:" and value and value.split(",")[0].isdecimal():
        csq_to_dbm(int(value.split(",")[0]))
    quoted(value or "")
    for line in urcs:
        is_urc(line.strip())


def main() -> None:
    from fuzz.harness import run  # noqa: PLC0415 - atheris only when fuzzing

    run(TestOneInput)


if __name__ == "__main__":
    main()
