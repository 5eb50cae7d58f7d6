"""The receipt's QR code: model 2, error correction M, the payload split into alphanumeric and
byte segments so that the upper-case parts cost 5.5 bits a character instead of 8.

The payload (Circular 01/2023/TT-VPCP: dossier code, procedure code, applicant identifier,
document title, issuing system, issue time, appointment date; plus the tracking URL) is one
``KEY:value`` line per field, keys upper case, values upper case where that loses nothing::

    MHS:000.00.20.H57-240423-0001
    MTT:1.001776
    NNOP:+8490*****67
    TEN:CAP BAN SAO TRICH LUC HO TICH
    HT:HOSO
    TGC:2024-04-23T08:30+07:00
    NHT:2024-04-26
    URL:https://tracuu.example.vn/?ma=CM4AE9K

The issue time (TGC) is the receipt's own: the document is the reception receipt (giấy tiếp
nhận hồ sơ và hẹn trả kết quả), issued when the office received the dossier, so TGC is the
dossier's ``received_at`` (local time, to the minute) and a reprint carries the same payload.
When a paper was printed is written on it ("In lúc"), not in the code. The URL is the tracking
URL (`gateway.core.tracking`), with the short code.

The applicant is identified by a masked phone number, never a national ID number; the title is
stripped of accents and upper-cased (the procedure code identifies the procedure exactly).
The URL keeps its case: paths are case-sensitive.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import segno
from PIL import Image, ImageDraw
from segno import consts as segno_consts

QUIET_MODULES = 4
ERROR = "M"
ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
FIELDS = ("MHS", "MTT", "NNOP", "TEN", "HT", "TGC", "NHT", "URL")
CODE_KEY = "MHS"

# Segment header sizes for versions 10-26 (mode indicator + character count).
_HEADER = {"alphanumeric": 4 + 11, "byte": 4 + 16}
_SEGNO_MODE = {"alphanumeric": segno_consts.MODE_ALPHANUMERIC, "byte": segno_consts.MODE_BYTE}


@dataclass(frozen=True, slots=True)
class QrSymbol:
    payload: str
    version: int
    error: str
    rows: tuple[tuple[bool, ...], ...]  # True = dark, quiet zone included

    @property
    def width_modules(self) -> int:
        return len(self.rows)


def format_payload(fields: Mapping[str, str]) -> str:
    """The payload text: one ``KEY:value`` line per field, in `FIELDS` order."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown QR payload fields: {sorted(unknown)}")
    lines = []
    for key in FIELDS:
        if key in fields:
            value = " ".join(fields[key].split())
            lines.append(f"{key}:{value}")
    return "\n".join(lines)


def parse_payload(text: str) -> dict[str, str]:
    """The fields of a payload written by `format_payload` (unknown lines ignored)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in FIELDS:
            fields[key.strip()] = value.strip()
    return fields


def segments(text: str) -> list[tuple[str, str]]:
    """`text` cut into (content, mode) segments, cheapest first (a small dynamic programme over
    the two modes, counting segment headers)."""
    if not text:
        return []
    modes = ("alphanumeric", "byte")
    inf = float("inf")
    # cost[m] = bits for text[:i] ending in mode m; alnum costs 5.5 bits a character.
    cost = {m: float(_HEADER[m]) for m in modes}
    cost["alphanumeric"] = cost["alphanumeric"] if text[0] in ALNUM else inf
    back: list[dict[str, str]] = []
    for i, ch in enumerate(text):
        step = {"alphanumeric": 5.5 if ch in ALNUM else inf, "byte": 8.0 * len(ch.encode())}
        new: dict[str, float] = {}
        choice: dict[str, str] = {}
        for m in modes:
            if i == 0:
                new[m], choice[m] = cost[m] + step[m], m
                continue
            stay = cost[m] + step[m]
            other = next(o for o in modes if o != m)
            switch = cost[other] + _HEADER[m] + step[m]
            new[m], choice[m] = (stay, m) if stay <= switch else (switch, other)
        back.append(choice)
        cost = new
    mode = min(modes, key=lambda m: cost[m])
    per_char: list[str] = []
    for i in range(len(text) - 1, -1, -1):
        per_char.append(mode)
        mode = back[i][mode]
    per_char.reverse()
    out: list[tuple[str, str]] = []
    for ch, m in zip(text, per_char, strict=True):
        if out and out[-1][1] == m:
            out[-1] = (out[-1][0] + ch, m)
        else:
            out.append((ch, m))
    return out


def encode(payload: str) -> QrSymbol:
    """A model 2 QR code of `payload` at error correction M (never Micro QR, never boosted)."""
    content = [(part, _SEGNO_MODE[mode]) for part, mode in segments(payload)]
    qr = segno.make(cast(Any, content), error=ERROR, micro=False, boost_error=False)
    rows = tuple(
        tuple(bool(v) for v in row) for row in qr.matrix_iter(scale=1, border=QUIET_MODULES)
    )
    version = qr.version
    assert isinstance(version, int)
    return QrSymbol(payload, version, str(qr.error), rows)


def image(symbol: QrSymbol, module_dots: int) -> Image.Image:
    """A 1-bit image of the symbol with its quiet zone, one pixel per printer dot."""
    size = symbol.width_modules * module_dots
    img = Image.new("1", (size, size), 1)
    draw_on(img, symbol, 0, 0, module_dots)
    return img


def draw_on(img: Image.Image, symbol: QrSymbol, x: int, y: int, module_dots: int) -> None:
    draw = ImageDraw.Draw(img)
    for r, row in enumerate(symbol.rows):
        for c, dark in enumerate(row):
            if dark:
                left, top = x + c * module_dots, y + r * module_dots
                draw.rectangle((left, top, left + module_dots - 1, top + module_dots - 1), fill=0)


def svg_path(symbol: QrSymbol, x: float, y: float, module: float) -> str:
    """An SVG ``<path>`` of the dark modules (runs along rows); units are the caller's."""
    parts: list[str] = []
    for r, row in enumerate(symbol.rows):
        c = 0
        while c < len(row):
            if row[c]:
                start = c
                while c < len(row) and row[c]:
                    c += 1
                w = (c - start) * module
                parts.append(f"M{x + start * module:g} {y + r * module:g}h{w:g}v{module:g}h{-w:g}z")
            else:
                c += 1
    return f'<path d="{"".join(parts)}" fill="#000"/>'


def svg(symbol: QrSymbol, module_dots: int) -> str:
    """A standalone SVG of the symbol, sized in millimetres at 203 dpi (8 dots per mm)."""
    size = symbol.width_modules * module_dots
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size / 8:g}mm" '
        f'height="{size / 8:g}mm" viewBox="0 0 {size} {size}" shape-rendering="crispEdges">'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f"{svg_path(symbol, 0, 0, module_dots)}</svg>"
    )
