"""GSM 03.38 / TS 23.038 default alphabet, its extension table, septet packing and UCS-2."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

ESCAPE = 0x1B

# TS 23.038 6.2.1: the default alphabet, indexed by septet value. 0x1B is the escape to the
# extension table (decoded as a non-breaking space when it stands alone).
BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\xa0ÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
assert len(BASIC) == 128

# TS 23.038 6.2.1.1: the default alphabet extension table (after the 0x1B escape).
EXTENSION = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

_BASIC_CODE = {ch: i for i, ch in enumerate(BASIC) if i != ESCAPE}
_EXTENSION_CODE = {ch: code for code, ch in EXTENSION.items()}


class NotGsm7(ValueError):
    """The text holds a character the GSM 7-bit default alphabet cannot represent."""


def is_gsm7(text: str) -> bool:
    return all(ch in _BASIC_CODE or ch in _EXTENSION_CODE for ch in text)


def char_septets(ch: str) -> list[int]:
    """The septets of one character: one, or two for the extension table."""
    code = _BASIC_CODE.get(ch)
    if code is not None:
        return [code]
    ext = _EXTENSION_CODE.get(ch)
    if ext is not None:
        return [ESCAPE, ext]
    raise NotGsm7(ch)


def encode(text: str) -> list[int]:
    """Text to septet values (escape + code for extension characters)."""
    septets: list[int] = []
    for ch in text:
        septets.extend(char_septets(ch))
    return septets


def septet_length(text: str) -> int:
    return len(encode(text))


def decode(septets: list[int] | bytes) -> str:
    """Septet values to text; an escape before an unknown code shows the basic character."""
    out: list[str] = []
    escaped = False
    for s in septets:
        s &= 0x7F
        if escaped:
            escaped = False
            out.append(EXTENSION.get(s, BASIC[s] if s != ESCAPE else " "))
        elif s == ESCAPE:
            escaped = True
        else:
            out.append(BASIC[s])
    if escaped:
        out.append(" ")
    return "".join(out)


def pack(septets: list[int], fill_bits: int = 0) -> bytes:
    """Pack septets LSB first into octets, after `fill_bits` zero bits (UDH alignment)."""
    acc = 0
    nbits = fill_bits
    for s in septets:
        acc |= (s & 0x7F) << nbits
        nbits += 7
    return acc.to_bytes((nbits + 7) // 8, "little") if nbits else b""


def unpack(data: bytes, count: int, fill_bits: int = 0) -> list[int]:
    """The first `count` septets packed in `data`, skipping `fill_bits` leading bits."""
    acc = int.from_bytes(data, "little") >> fill_bits
    available = (len(data) * 8 - fill_bits) // 7
    if count > available:
        raise ValueError(f"user data holds {available} septets, {count} announced")
    return [(acc >> (7 * i)) & 0x7F for i in range(count)]


def fill_bits_for(udh_octets: int) -> int:
    """Fill bits after a UDH of `udh_octets` octets (UDHL included) so septets start aligned."""
    return (7 - (udh_octets * 8) % 7) % 7


def encode_ucs2(text: str) -> bytes:
    """UCS-2 as UTF-16-BE: characters above U+FFFF become surrogate pairs."""
    return text.encode("utf-16-be")


def decode_ucs2(data: bytes) -> str:
    if len(data) % 2:
        data = data[:-1]
    return data.decode("utf-16-be", errors="replace")


def ucs2_units(text: str) -> int:
    return len(encode_ucs2(text)) // 2
