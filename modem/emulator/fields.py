"""TPDU fields of TS 23.040: addresses, service centre time stamps, data coding scheme."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from enum import StrEnum

from modem.emulator import gsm7

log = logging.getLogger(__name__)

TOA_INTERNATIONAL = 0x91
TOA_UNKNOWN = 0x81
TOA_NATIONAL = 0xA1
TOA_ALPHANUMERIC = 0xD0

_BCD_DIGITS = "0123456789*#abc"


class PduError(ValueError):
    """A PDU that cannot be decoded (too short, bad field)."""


class Reader:
    """Reads a PDU octet by octet; running past the end raises PduError."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def octet(self) -> int:
        if self.pos >= len(self.data):
            raise PduError(f"PDU ends at octet {self.pos}")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise PduError(f"PDU ends before octet {self.pos + n}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def rest(self) -> bytes:
        chunk = self.data[self.pos :]
        self.pos = len(self.data)
        return chunk


def toa_for(number: str) -> int:
    if number.startswith("+"):
        return TOA_INTERNATIONAL
    if number and not all(ch in _BCD_DIGITS for ch in number.lower()):
        return TOA_ALPHANUMERIC
    return TOA_UNKNOWN


def _bcd(digits: str) -> bytes:
    nibbles = [_BCD_DIGITS.index(ch) for ch in digits.lower()]
    if len(nibbles) % 2:
        nibbles.append(0xF)
    return bytes((nibbles[i + 1] << 4) | nibbles[i] for i in range(0, len(nibbles), 2))


def _unbcd(data: bytes, ndigits: int) -> str:
    out: list[str] = []
    for octet in data:
        for nibble in (octet & 0x0F, octet >> 4):
            if nibble == 0xF:
                continue
            out.append(_BCD_DIGITS[nibble])
    return "".join(out[:ndigits])


def encode_address(number: str, toa: int | None = None) -> bytes:
    """Address field (TS 23.040 9.1.2.5): length in digits, type of address, semi-octets."""
    toa = toa_for(number) if toa is None else toa
    if (toa & 0x70) == 0x50:
        septets = gsm7.encode(number)
        packed = gsm7.pack(septets)
        semi = (len(septets) * 7 + 3) // 4
        return bytes([semi, toa]) + packed
    digits = number.lstrip("+")
    return bytes([len(digits), toa]) + _bcd(digits)


def decode_address(reader: Reader) -> tuple[str, int]:
    """Returns (number, type of address); international numbers get a leading '+'."""
    length = reader.octet()
    toa = reader.octet()
    data = reader.take((length + 1) // 2)
    if (toa & 0x70) == 0x50:
        return gsm7.decode(gsm7.unpack(data, length * 4 // 7)), toa
    digits = _unbcd(data, length)
    if (toa & 0x70) == 0x10:
        digits = "+" + digits
    return digits, toa


def encode_sca(number: str | None) -> bytes:
    """SMSC address as sent before the TPDU: length in octets (TOA included), 00 if absent."""
    if not number:
        return b"\x00"
    toa = TOA_INTERNATIONAL if number.startswith("+") else TOA_UNKNOWN
    body = bytes([toa]) + _bcd(number.lstrip("+"))
    return bytes([len(body)]) + body


def decode_sca(reader: Reader) -> str | None:
    length = reader.octet()
    if length == 0:
        return None
    toa = reader.octet()
    digits = _unbcd(reader.take(length - 1), 2 * (length - 1))
    return "+" + digits if (toa & 0x70) == 0x10 else digits


def _swap(value: int) -> int:
    return ((value % 10) << 4) | (value // 10)


def _unswap(octet: int) -> int:
    lo, hi = octet & 0x0F, octet >> 4
    return (lo % 10) * 10 + (hi % 10)


def encode_timestamp(when: datetime) -> bytes:
    """SCTS (TS 23.040 9.2.3.11): seven swapped semi-octets, zone in signed quarter hours."""
    offset = when.utcoffset() or timedelta(0)
    quarters = int(offset.total_seconds()) // 900
    zone = _swap(abs(quarters))
    if quarters < 0:
        zone |= 0x08
    fields = (when.year % 100, when.month, when.day, when.hour, when.minute, when.second)
    return bytes(_swap(v) for v in fields) + bytes([zone])


def decode_timestamp(data: bytes) -> datetime:
    if len(data) != 7:
        raise PduError("a time stamp has 7 octets")
    year, month, day, hour, minute, second = (_unswap(b) for b in data[:6])
    zone = data[6]
    quarters = (zone & 0x07) * 10 + (zone >> 4)
    if zone & 0x08:
        quarters = -quarters
    try:
        return datetime(
            2000 + year if year < 90 else 1900 + year,
            month,
            day,
            hour,
            minute,
            second,
            tzinfo=timezone(timedelta(minutes=15 * quarters)),
        )
    except ValueError as exc:
        raise PduError(f"bad time stamp {data.hex()}") from exc


class DcsAlphabet(StrEnum):
    GSM7 = "gsm7"
    EIGHT_BIT = "8bit"
    UCS2 = "ucs2"


def alphabet_of(dcs: int) -> DcsAlphabet:
    """Character set of a data coding scheme (TS 23.038 4)."""
    group = dcs >> 4
    if group <= 0x7:  # general data coding (0x4-0x7: marked for automatic deletion)
        if dcs & 0x20:
            return DcsAlphabet.EIGHT_BIT  # compressed: treated as opaque octets
        return (DcsAlphabet.GSM7, DcsAlphabet.EIGHT_BIT, DcsAlphabet.UCS2, DcsAlphabet.GSM7)[
            (dcs >> 2) & 3
        ]
    if group in (0xC, 0xD):
        return DcsAlphabet.GSM7
    if group == 0xE:
        return DcsAlphabet.UCS2
    if group == 0xF:
        return DcsAlphabet.EIGHT_BIT if dcs & 0x04 else DcsAlphabet.GSM7
    return DcsAlphabet.EIGHT_BIT


def dcs_for(alphabet: DcsAlphabet, flash: bool = False) -> int:
    base = {DcsAlphabet.GSM7: 0x00, DcsAlphabet.EIGHT_BIT: 0x04, DcsAlphabet.UCS2: 0x08}[alphabet]
    return base | 0x10 if flash else base
