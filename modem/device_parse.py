"""Pure parsing of what a modem says on the AT link: URCs, final results, +CMGL listings.

No I/O; modem/device.py feeds it the lines python-gsmmodem's reader collected.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

log = logging.getLogger(__name__)

# Unsolicited result codes we may meet inside or between responses. "^" covers Huawei's
# ^RSSI/^HCSQ/^BOOT/^MODE..., the rest are TS 27.005/27.007 and common vendor indications.
URC = re.compile(
    r"^(\+CMTI:|\+CDSI:|\+CDS:|\+CMT:|\+CBM:|\+CREG:|\+CGREG:|\+CEREG:|\+CUSD:|\+CIEV:|"
    r"\+CRING:|RING$|RDY$|SMS Ready$|Call Ready$|PB DONE$|\+CFUN:|\+CPIN:|\^|\+QIND:|"
    r"\+QUSIM:|\+ZPASR:|\+ZUSIMR:|\+ZDONR:|\+PACSP|\+CTZV:|\+CTZE:|\+STIN:|\+NITZ:|\*PSUTTZ:|"
    r"\+CSCON:)"
)
FINAL = re.compile(
    r"^(OK|ERROR|\+CM[ES] ERROR:.*|COMMAND NOT SUPPORT|NO CARRIER|TOO MANY PARAMETERS)$"
)
CM_ERROR = re.compile(r"^\+(CM[ES]) ERROR:\s*(\d+)\s*$")
# Unambiguous on purpose: with "\s*" on both sides of the optional <alpha> field, a line of
# spaces made the search backtrack quadratically (half a second for a 20 kB line).
CMGL_HEADER = re.compile(r'\+CMGL:\s*(\d+)\s*,\s*(\d+)\s*(?:,(?:"[^"]*"\s*|[^,"]*))?,\s*(\d+)')
_HEX = frozenset("0123456789ABCDEFabcdef")
STATUS_WORDS = {0: "unread", 1: "read", 2: "unsent", 3: "sent"}


@dataclass(frozen=True)
class Response:
    info: list[str]  # information lines, echo and URCs removed
    final: str | None  # OK / ERROR / +CMS ERROR: n ... ; None if the answer had none
    urcs: list[str]  # URC lines found inside the response

    @property
    def ok(self) -> bool:
        return self.final == "OK"

    def error_code(self) -> tuple[str, int] | None:
        """("CME"|"CMS", code) for a numeric +CME/+CMS ERROR final."""
        match = CM_ERROR.match(self.final or "")
        return (match.group(1), int(match.group(2))) if match else None

    def first(self, prefix: str) -> str | None:
        """The value after `prefix` on the first info line starting with it."""
        for line in self.info:
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
        return None


def is_urc(line: str) -> bool:
    return bool(URC.match(line))


def split_response(lines: list[str], command: str, prefix: str | None = None) -> Response:
    """Sort the raw lines of one command's answer: the echo of `command` is dropped, URCs are
    set aside (unless they carry `prefix`, the answer we asked for), the final result noted.
    A "+CREG: <stat>" URC is told from the "+CREG: <n>,<stat>" read answer by its field count."""
    info: list[str] = []
    urcs: list[str] = []
    final: str | None = None
    echo = command.strip().upper()
    pdu_next = False  # the line after a +CMT / +CDS URC is its PDU: a URC line too
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if pdu_next:
            pdu_next = False
            if not FINAL.match(line):
                urcs.append(line)
                continue
        if line.upper() == echo or (line.upper().startswith("AT") and echo.startswith("AT")):
            continue
        if FINAL.match(line):
            final = line
            continue
        if prefix and line.startswith(prefix):
            if prefix in ("+CREG:", "+CGREG:", "+CEREG:") and "," not in line:
                urcs.append(line)
            else:
                info.append(line)
        elif is_urc(line):
            urcs.append(line)
            pdu_next = line.startswith(("+CMT:", "+CDS:"))
        else:
            info.append(line)
    return Response(info, final, urcs)


@dataclass(frozen=True)
class ListedPdu:
    index: int
    stat: int
    length: int  # TPDU octets announced in the header
    pdu: str  # hex as read ("" when the PDU line was missing)
    problem: str | None  # why the entry is not trustworthy, None when it looks sound


def hex_tail(line: str) -> str | None:
    """The run of hex digits that ends `line` (trailing spaces aside), or None. A linear scan
    from the end: a regular expression search for a hex run before the end of the line retries
    from every position of a long hex run followed by anything else, quadratic in its length."""
    end = len(line.rstrip())
    start = end
    while start > 0 and line[start - 1] in _HEX:
        start -= 1
    return line[start:end] if start < end else None


def _trim_pdu(run: str, length: int) -> str | None:
    """The suffix of a hex run that is exactly SCA + `length` TPDU octets, if there is one
    (line noise can glue hex-looking bytes in front of a PDU)."""
    for sca_len in range(12):
        size = 2 * (1 + sca_len + length)
        if size <= len(run) and int(run[-size:][:2], 16) == sca_len:
            return run[-size:].upper()
    return None


def parse_cmgl(lines: list[str]) -> list[ListedPdu]:
    """Entries of an AT+CMGL answer in PDU mode. Each entry keeps the index of its own header,
    so a missing or mangled PDU line never shifts the next message's index; lines that are
    neither a header nor a PDU (echo, noise, unknown URCs) are skipped with a log line."""
    out: list[ListedPdu] = []
    pending: tuple[int, int, int] | None = None
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        header = CMGL_HEADER.search(line)
        if header:
            if pending is not None:
                out.append(ListedPdu(*pending, pdu="", problem="PDU line missing"))
            pending = (int(header.group(1)), int(header.group(2)), int(header.group(3)))
            continue
        run = hex_tail(line)
        if pending is None or run is None:
            log.info("modem.cmgl_line_skipped line=%r", line[:80])
            continue
        index, stat, length = pending
        pending = None
        pdu = _trim_pdu(run, length)
        if pdu is None:
            out.append(ListedPdu(index, stat, length, run.upper(), "length mismatch"))
        else:
            out.append(ListedPdu(index, stat, length, pdu, None))
    if pending is not None:
        out.append(ListedPdu(*pending, pdu="", problem="PDU line missing"))
    return out


def status_word(stat: int) -> str:
    return STATUS_WORDS.get(stat, str(stat))


def csq_to_dbm(csq: int) -> int | None:
    """TS 27.007 8.5: 0 -> -113 dBm or less, 31 -> -51 dBm or more, 99 unknown."""
    return -113 + 2 * csq if 0 <= csq <= 31 else None


def quoted(value: str) -> list[str]:
    return re.findall(r'"([^"]*)"', value)


def answer_lists(value: str) -> list[list[str]]:
    """The lists of a test command's answer (`AT+CNMI=?`, `AT+CPMS=?`), innermost first level:
    '(0-3),(0,2),0' -> [['0-3'], ['0', '2'], ['0']]; Wavecom's doubly wrapped
    '(("SM","BM","SR"),("SM"))' -> [['SM', 'BM', 'SR'], ['SM']]. Quotes are removed; a list
    never holds another (a group that does is opened). Garbage gives what it can, never raises."""
    groups: list[list[str]] = []
    depth = 0
    token: list[str] = []
    current: list[str] | None = None
    in_quotes = False

    def flush() -> None:
        text = "".join(token).strip()
        token.clear()
        if not text:
            return
        if current is not None:
            current.append(text)
        else:
            groups.append([text])

    for ch in value:
        if in_quotes:
            if ch == '"':
                in_quotes = False
            else:
                token.append(ch)
            continue
        if ch == '"':
            in_quotes = True
        elif ch == "(":
            depth += 1
            if current is not None:  # a group inside a group: the outer one only wraps
                current = None
            current = []
        elif ch == ")":
            flush()
            depth = max(0, depth - 1)
            if current is not None:
                groups.append(current)
                current = None
        elif ch == ",":
            flush()
        else:
            token.append(ch)
    flush()
    return [g for g in groups if g]


def range_values(tokens: list[str], limit: int = 16) -> set[int]:
    """The numbers a list of test-answer tokens allows: ['0-2', '4'] -> {0, 1, 2, 4}."""
    values: set[int] = set()
    for token in tokens:
        low, _, high = token.partition("-")
        if not (low.strip().isdecimal() and (not high or high.strip().isdecimal())):
            continue
        lo, hi = int(low), int(high) if high else int(low)
        values.update(range(lo, min(hi, limit) + 1))
    return values
