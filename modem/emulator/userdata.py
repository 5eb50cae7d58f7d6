"""TP-User-Data (TS 23.040 9.2.3.24): header information elements, text coding, segmentation."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from modem.emulator import gsm7
from modem.emulator.fields import DcsAlphabet, PduError

log = logging.getLogger(__name__)

IEI_CONCAT_8 = 0x00
IEI_CONCAT_16 = 0x08

MAX_OCTETS = 140


@dataclass(frozen=True)
class ConcatElement:
    """Concatenated short message IE: reference, total parts, this part's number (1-based)."""

    ref: int
    total: int
    seq: int
    wide: bool = False  # 16-bit reference (IEI 0x08) instead of 8-bit (IEI 0x00)

    def element(self) -> tuple[int, bytes]:
        if self.wide:
            return IEI_CONCAT_16, bytes(
                [self.ref >> 8 & 0xFF, self.ref & 0xFF, self.total, self.seq]
            )
        return IEI_CONCAT_8, bytes([self.ref & 0xFF, self.total, self.seq])


@dataclass(frozen=True)
class UserData:
    text: str
    alphabet: DcsAlphabet
    concat: ConcatElement | None = None
    elements: tuple[tuple[int, bytes], ...] = ()  # other header IEs, kept as they came
    data: bytes = b""  # the octets after the header, for 8-bit messages


def encode_header(elements: list[tuple[int, bytes]]) -> bytes:
    if not elements:
        return b""
    body = b"".join(bytes([iei, len(value)]) + value for iei, value in elements)
    return bytes([len(body)]) + body


def decode_header(header: bytes) -> tuple[ConcatElement | None, tuple[tuple[int, bytes], ...]]:
    """Parse UDH information elements (without the UDHL octet)."""
    concat: ConcatElement | None = None
    others: list[tuple[int, bytes]] = []
    pos = 0
    while pos + 2 <= len(header):
        iei, length = header[pos], header[pos + 1]
        value = header[pos + 2 : pos + 2 + length]
        if len(value) != length:
            raise PduError("user data header element runs past the header")
        pos += 2 + length
        if iei == IEI_CONCAT_8 and length == 3:
            concat = ConcatElement(value[0], value[1], value[2])
        elif iei == IEI_CONCAT_16 and length == 4:
            concat = ConcatElement((value[0] << 8) | value[1], value[2], value[3], wide=True)
        else:
            others.append((iei, value))
    return concat, tuple(others)


def encode(ud: UserData) -> tuple[int, bytes, bool]:
    """Returns (TP-UDL, TP-UD octets, TP-UDHI)."""
    elements = ([ud.concat.element()] if ud.concat else []) + list(ud.elements)
    header = encode_header(elements)
    if ud.alphabet is DcsAlphabet.GSM7:
        septets = gsm7.encode(ud.text)
        fill = gsm7.fill_bits_for(len(header)) if header else 0
        header_septets = (len(header) * 8 + fill) // 7
        udl = header_septets + len(septets)
        body = header + gsm7.pack(septets, fill)
        if (udl * 7 + 7) // 8 > MAX_OCTETS:
            raise ValueError(f"{udl} septets do not fit one message")
        return udl, body, bool(header)
    payload = gsm7.encode_ucs2(ud.text) if ud.alphabet is DcsAlphabet.UCS2 else ud.data
    body = header + payload
    if len(body) > MAX_OCTETS:
        raise ValueError(f"{len(body)} octets do not fit one message")
    return len(body), body, bool(header)


def decode(dcs_alphabet: DcsAlphabet, udhi: bool, udl: int, ud: bytes) -> UserData:
    concat: ConcatElement | None = None
    elements: tuple[tuple[int, bytes], ...] = ()
    header_len = 0
    if udhi:
        if not ud:
            raise PduError("TP-UDHI set but no user data")
        header_len = ud[0] + 1
        if header_len > len(ud):
            raise PduError("user data header longer than the user data")
        concat, elements = decode_header(ud[1:header_len])
    if dcs_alphabet is DcsAlphabet.GSM7:
        fill = gsm7.fill_bits_for(header_len) if header_len else 0
        header_septets = (header_len * 8 + fill) // 7
        count = udl - header_septets
        if count < 0:
            raise PduError("TP-UDL shorter than the user data header")
        septets = gsm7.unpack(ud[header_len:], count, fill)
        return UserData(gsm7.decode(septets), DcsAlphabet.GSM7, concat, elements)
    if udl > len(ud):
        raise PduError(f"TP-UDL {udl} but {len(ud)} octets of user data")
    payload = ud[header_len:udl]
    if dcs_alphabet is DcsAlphabet.UCS2:
        return UserData(gsm7.decode_ucs2(payload), DcsAlphabet.UCS2, concat, elements)
    return UserData(payload.hex().upper(), DcsAlphabet.EIGHT_BIT, concat, elements, payload)


def choose_alphabet(text: str) -> DcsAlphabet:
    return DcsAlphabet.GSM7 if gsm7.is_gsm7(text) else DcsAlphabet.UCS2


def split_text(text: str, ref: int = 0, wide: bool = False) -> list[UserData]:
    """Segment a text as a phone would: one part if it fits, else concatenated parts."""
    alphabet = choose_alphabet(text)
    if alphabet is DcsAlphabet.GSM7:
        single, size = 160, (152 if wide else 153)
        units = [len(gsm7.char_septets(ch)) for ch in text]
    else:
        single, size = 70, (66 if wide else 67)
        units = [len(ch.encode("utf-16-be")) // 2 for ch in text]
    if sum(units) <= single:
        return [UserData(text, alphabet)]
    chunks: list[str] = []
    start = used = 0
    for i, n in enumerate(units):
        if used + n > size:  # never split an escape sequence or a surrogate pair
            chunks.append(text[start:i])
            start, used = i, 0
        used += n
    chunks.append(text[start:])
    total = len(chunks)
    if total > 255:
        raise ValueError("text needs more than 255 parts")
    return [
        UserData(
            chunk, alphabet, ConcatElement(ref & (0xFFFF if wide else 0xFF), total, i + 1, wide)
        )
        for i, chunk in enumerate(chunks)
    ]
