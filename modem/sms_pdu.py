"""SMS PDUs as the modem layer needs them: SMS-SUBMIT out, SMS-DELIVER and status reports in.

Pure functions, no I/O. We write our own codec instead of calling gsmmodem.pdu because its
pieces are wrong exactly where Vietnamese traffic goes (MODEM-NOTES item 12):
- `encodeUcs2` crashes on characters above U+FFFF and `divideTextUcs2` counts code points, not
  UTF-16 units, so a part with emoji overflows 140 octets;
- its GSM-7 table has "`" where TS 23.038 has "§", maps form feed to "ÿ", and encodes ESC;
- `_decodeUserData` loses the first character of every GSM-7 part with a 16-bit concat
  reference (7-octet UDH, no fill bits) and `decodeUcs2` splits surrogate pairs;
- `decodeSmsPdu` raises StopIteration / IndexError on truncated PDUs.
Test tests/unit/test_device_parsing.py shows each of these against gsmmodem.pdu.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from gateway.core.sms_text import (
    GSM7_ESCAPE,
    GSM7_EXTENSION_SEPTETS,
    GSM7_SEPTETS,
    split_parts,
)

log = logging.getLogger(__name__)

# The alphabet and the splitting of a text into parts: gateway/core/sms_text.py (one home).
ESC = GSM7_ESCAPE
_BASIC = {ch: i for i, ch in enumerate(GSM7_SEPTETS) if i != ESC}
_EXT = {ch: code for code, ch in GSM7_EXTENSION_SEPTETS.items()}

MAX_PARTS = 255
VALIDITY_3_DAYS = 169  # TP-VP relative, TS 23.040 9.2.3.12.1: 168..196 -> (VP - 166) days
UNKNOWN_TIME = datetime(1970, 1, 1, tzinfo=UTC)  # smsc_time of a PDU we could not decode


class PduDecodeError(ValueError):
    """A PDU that cannot be decoded (truncated, bad field, not hex)."""


@dataclass(frozen=True)
class Concat:
    ref: int
    total: int
    seq: int  # 1-based
    wide: bool = False  # 16-bit reference (IEI 0x08)


@dataclass(frozen=True)
class PartToSend:
    pdu_hex: str  # SCA "00" (the modem's SMSC) + TPDU, for AT+CMGS in PDU mode
    tpdu_length: int  # octets after the SCA: the AT+CMGS=<length>
    reference: int | None  # the TP-MR we put in (modems usually assign their own)
    concat_ref: int | None
    seq: int
    total: int


@dataclass(frozen=True)
class Deliver:
    sender: str
    smsc_time: datetime
    text: str
    concat: Concat | None
    smsc: str | None


@dataclass(frozen=True)
class StatusReportPdu:
    reference: int
    recipient: str
    status: int
    submitted: datetime
    discharge_time: datetime | None


# ------------------------------------------------------------------ outbound


def split_text(text: str, wide_ref: bool = False) -> tuple[str, list[str]]:
    """(alphabet, part texts) as `gateway.core.sms_text.split_parts` cuts them; more than a
    concatenation reference can number (`MAX_PARTS`) is refused."""
    alphabet, chunks = split_parts(text, wide_ref=wide_ref)
    if len(chunks) > MAX_PARTS:
        raise ValueError(f"text needs {len(chunks)} parts, more than {MAX_PARTS}")
    return alphabet, chunks


def gsm7_septets(text: str) -> list[int]:
    out: list[int] = []
    for ch in text:
        code = _BASIC.get(ch)
        if code is not None:
            out.append(code)
        else:
            out += [ESC, _EXT[ch]]
    return out


def pack_septets(septets: list[int], fill_bits: int = 0) -> bytes:
    acc, nbits = 0, fill_bits
    for s in septets:
        acc |= (s & 0x7F) << nbits
        nbits += 7
    return acc.to_bytes((nbits + 7) // 8, "little") if nbits else b""


def unpack_septets(data: bytes, count: int, fill_bits: int = 0) -> list[int]:
    available = (len(data) * 8 - fill_bits) // 7
    if count > available:
        raise PduDecodeError(f"TP-UDL announces {count} septets, {available} present")
    acc = int.from_bytes(data, "little") >> fill_bits
    return [(acc >> (7 * i)) & 0x7F for i in range(count)]


def _fill_bits(udh_octets: int) -> int:
    return (7 - (udh_octets * 8) % 7) % 7


def encode_address(number: str) -> bytes:
    """TP-DA: "+digits" as international (0x91), other digit strings as unknown (0x81)."""
    digits = number[1:] if number.startswith("+") else number
    if not digits or not digits.isdigit() or not digits.isascii() or len(digits) > 20:
        raise ValueError(f"not a dialable number: {number!r}")
    toa = 0x91 if number.startswith("+") else 0x81
    padded = digits + ("F" if len(digits) % 2 else "")
    bcd = bytes(int(padded[i + 1] + padded[i], 16) for i in range(0, len(padded), 2))
    return bytes([len(digits), toa]) + bcd


def encode_parts(
    number: str,
    text: str,
    *,
    concat_ref: int,
    reject_duplicates: bool = False,
    message_reference: int = 0,
    status_report: bool = True,
) -> list[PartToSend]:
    """SMS-SUBMIT PDUs for `text` (NFC): GSM-7 when every character is in the default alphabet
    or its extension, else UCS-2 as UTF-16. Concatenated parts carry an 8-bit reference
    (IEI 0x00) when 0 <= concat_ref <= 255, a 16-bit one (IEI 0x08) up to 65535. Part i gets
    TP-MR message_reference + i (mod 256)."""
    if not 0 <= concat_ref <= 0xFFFF:
        raise ValueError("concat_ref must be 0..65535")
    wide = concat_ref > 0xFF
    alphabet, chunks = split_text(text, wide)
    address = encode_address(number)
    total = len(chunks)
    out: list[PartToSend] = []
    for seq, chunk in enumerate(chunks, start=1):
        header = b""
        if total > 1:
            ie = (
                bytes([0x08, 4, concat_ref >> 8, concat_ref & 0xFF, total, seq])
                if wide
                else bytes([0x00, 3, concat_ref, total, seq])
            )
            header = bytes([len(ie)]) + ie
        if alphabet == "gsm7":
            septets = gsm7_septets(chunk)
            fill = _fill_bits(len(header)) if header else 0
            udl = (len(header) * 8 + fill) // 7 + len(septets)
            ud = header + pack_septets(septets, fill)
            dcs = 0x00
        else:
            ud = header + chunk.encode("utf-16-be")
            udl = len(ud)
            dcs = 0x08
        assert len(ud) <= 140, "segmentation left a part over 140 octets"
        first = 0x01 | 0x10  # SMS-SUBMIT, relative validity period
        first |= 0x04 if reject_duplicates else 0
        first |= 0x20 if status_report else 0
        first |= 0x40 if header else 0
        mr = (message_reference + seq - 1) & 0xFF
        tpdu = bytes([first, mr]) + address + bytes([0x00, dcs, VALIDITY_3_DAYS, udl]) + ud
        out.append(
            PartToSend(
                pdu_hex="00" + tpdu.hex().upper(),
                tpdu_length=len(tpdu),
                reference=mr,
                concat_ref=concat_ref if total > 1 else None,
                seq=seq,
                total=total,
            )
        )
    return out


# ------------------------------------------------------------------ inbound


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise PduDecodeError(f"PDU ends before octet {self.pos + n}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def octet(self) -> int:
        return self.take(1)[0]

    def rest(self) -> bytes:
        chunk, self.pos = self.data[self.pos :], len(self.data)
        return chunk


def _semi_octets(data: bytes) -> str:
    out: list[str] = []
    for octet in data:
        for nibble in (octet & 0x0F, octet >> 4):
            if nibble != 0x0F:
                out.append("0123456789*#abc"[nibble])
    return "".join(out)


def _address(reader: _Reader) -> str:
    ndigits = reader.octet()
    toa = reader.octet()
    value = reader.take((ndigits + 1) // 2)
    if toa & 0x70 == 0x50:  # alphanumeric, GSM-7 packed
        return gsm7_text(unpack_septets(value, ndigits * 4 // 7))
    digits = _semi_octets(value)[:ndigits]
    return "+" + digits if toa & 0x70 == 0x10 and digits else digits


def _sca(reader: _Reader) -> str | None:
    length = reader.octet()
    if length == 0:
        return None
    toa, value = reader.octet(), reader.take(length - 1)
    digits = _semi_octets(value)
    return "+" + digits if toa & 0x70 == 0x10 else digits


def _timestamp(data: bytes) -> datetime:
    def bcd(b: int) -> int:
        return (b & 0x0F) * 10 + (b >> 4)

    year, month, day, hour, minute, second = (bcd(b) for b in data[:6])
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
        raise PduDecodeError(f"bad time stamp {data.hex()}") from exc


def gsm7_text(septets: list[int]) -> str:
    """The text of unpacked GSM-7 septets (an escape before a septet the extension table lacks
    reads as the basic character, a lone escape as a space)."""
    out: list[str] = []
    escaped = False
    for s in septets:
        if escaped:
            escaped = False
            out.append(GSM7_EXTENSION_SEPTETS.get(s, GSM7_SEPTETS[s] if s != ESC else " "))
        elif s == ESC:
            escaped = True
        else:
            out.append(GSM7_SEPTETS[s])
    return "".join(out)


def _dcs_alphabet(dcs: int) -> str:
    group = dcs >> 4
    if group <= 0x7:  # general data coding (0x0-0x3) and automatic deletion (0x4-0x7)
        return ("gsm7", "8bit", "ucs2", "gsm7")[(dcs >> 2) & 0x03]
    if group in (0xC, 0xD):
        return "gsm7"
    if group == 0xE:
        return "ucs2"
    if group == 0xF:
        return "8bit" if dcs & 0x04 else "gsm7"
    return "gsm7"


def udh_concat(header: bytes) -> Concat | None:
    """The concatenation element (IEI 0x00 or 0x08) of a user data header without its length
    octet; None if it has none."""
    concat: Concat | None = None
    pos = 0
    while pos + 2 <= len(header):
        iei, length = header[pos], header[pos + 1]
        value = header[pos + 2 : pos + 2 + length]
        if len(value) != length:
            raise PduDecodeError("user data header element runs past the header")
        if iei == 0x00 and length == 3:
            concat = Concat(value[0], value[1], value[2])
        elif iei == 0x08 and length == 4:
            concat = Concat((value[0] << 8) | value[1], value[2], value[3], wide=True)
        pos += 2 + length
    return concat


def _user_data(dcs: int, udhi: bool, udl: int, ud: bytes) -> tuple[str, Concat | None]:
    alphabet = _dcs_alphabet(dcs)
    header_len = 0
    concat = None
    if udhi:
        if not ud or ud[0] + 1 > len(ud):
            raise PduDecodeError("user data header longer than the user data")
        header_len = ud[0] + 1
        concat = udh_concat(ud[1:header_len])
    if alphabet == "gsm7":
        fill = _fill_bits(header_len) if header_len else 0
        count = udl - (header_len * 8 + fill) // 7
        if count < 0:
            raise PduDecodeError("TP-UDL shorter than the user data header")
        return gsm7_text(unpack_septets(ud[header_len:], count, fill)), concat
    if udl > len(ud):
        raise PduDecodeError(f"TP-UDL {udl} but {len(ud)} octets of user data")
    payload = ud[header_len:udl]
    if alphabet == "ucs2":
        # UTF-16: pairs become one character; a lone surrogate (a pair split across parts by
        # the sender, or garbage) becomes U+FFFD. The text goes to Redis and JSON as it is,
        # and a str holding a lone surrogate cannot be encoded as UTF-8 (found by fuzzing).
        return payload[: len(payload) & ~1].decode("utf-16-be", "replace"), concat
    return payload.decode("latin-1"), concat


def decode_pdu(pdu_hex: str) -> Deliver | StatusReportPdu:
    """An SMS-DELIVER or SMS-STATUS-REPORT as +CMGL/+CMGR show it (SCA first)."""
    try:
        reader = _Reader(bytes.fromhex(pdu_hex))
    except ValueError as exc:
        raise PduDecodeError("PDU is not hexadecimal") from exc
    smsc = _sca(reader)
    first = reader.octet()
    mti = first & 0x03
    if mti == 0:
        sender = _address(reader)
        reader.octet()  # TP-PID
        dcs = reader.octet()
        scts = _timestamp(reader.take(7))
        udl = reader.octet()
        text, concat = _user_data(dcs, bool(first & 0x40), udl, reader.rest())
        return Deliver(sender, scts, text, concat, smsc)
    if mti == 2:
        reference = reader.octet()
        recipient = _address(reader)
        scts = _timestamp(reader.take(7))
        discharge = _timestamp(reader.take(7))
        status = reader.octet()
        return StatusReportPdu(reference, recipient, status, scts, discharge)
    raise PduDecodeError(f"not an SMS-DELIVER or status report (TP-MTI {mti})")


def join_parts(texts: list[str]) -> str:
    """Concatenate part texts in order, mending surrogate pairs split across parts (texts
    decoded with "surrogatepass"; decode_pdu itself replaces lone surrogates)."""
    joined = "".join(texts)
    return joined.encode("utf-16-be", "surrogatepass").decode("utf-16-be", "replace")


def digest(pdu_hex: str) -> str:
    return hashlib.sha256(pdu_hex.strip().upper().encode("ascii", "replace")).hexdigest()
