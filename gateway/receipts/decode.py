"""Reading receipts back: the QR code (full dossier code) and the Code128 (short code) from a
photo upload or a camera frame, with zxing-cpp.

Only the formats we print are looked for (`FORMATS`, a list: plain ``QRCode`` would also enable
Micro QR, which gives false hits). A frame that yields nothing valid is tried again with a fixed
threshold binarizer, which rescues most blurred or noisy Code128 reads; so is a photo that
yields only one of a receipt's two codes (a noisy photo may keep its QR code for the local
binarizer and its Code128 for the fixed one only), and what both read is returned. A camera
frame is not: the next frame comes a moment later, and most frames hold one code. Every decoded
text is
checked against the dossier code pattern or the short code's check character before it is
returned: checksums let garbage through now and then.

An uploaded photo is opened and checked on its header first (`photos.open_photo`: JPEG, PNG and
WebP only, within size limits); its pixels are decoded by `decode_photo`, reduced to at most
4096 pixels a side. A caller that bounds how many decodes run at once (the gateway) takes its
slot between the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import zxingcpp

from gateway.core.codes import CODE_PATTERN, fold, is_short_code
from gateway.receipts.photos import (
    ACCEPTED_FORMATS,
    DECODE_AREA,
    NotAnImage,
    Photo,
    grey,
    open_photo,
)
from gateway.receipts.qr import CODE_KEY, parse_payload

FORMATS = zxingcpp.BarcodeFormats(
    [zxingcpp.BarcodeFormat.Code128, zxingcpp.BarcodeFormat.QRCodeModel2]
)
MAX_FRAME_PIXELS = 3 * DECODE_AREA  # a camera frame is handed over decoded: only checked

Kind = Literal["full", "short"]
Point = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Decoded:
    kind: Kind  # "full": a dossier code; "short": a receipt's short code
    text: str  # full: canonical (000.00.20.H57-240423-0001); short: folded (CM4AE9K)
    format: str  # zxing-cpp's name: "Code128" or "QRCode"
    position: tuple[Point, Point, Point, Point]  # top-left, top-right, bottom-right, bottom-left


def decode_image(data: bytes, formats: tuple[str, ...] = ACCEPTED_FORMATS) -> list[Decoded]:
    """The valid codes in an encoded photo (JPEG, PNG or WebP as uploaded, or other Pillow
    `formats` for local files). EXIF orientation is applied. Raises `NotAnImage` (or its
    `UnsupportedImage`, `ImageTooLarge`) for anything we do not decode."""
    return decode_photo(open_photo(data, formats))


def decode_photo(photo: Photo) -> list[Decoded]:
    """The valid codes in a photo `open_photo` accepted: its pixels are decoded now."""
    return _decode(np.asarray(grey(photo)), both_kinds=True)


def decode_frame(frame: np.ndarray) -> list[Decoded]:
    """The valid codes in a camera frame: uint8, greyscale (H, W) or BGR (H, W, 3), or BGRA
    (H, W, 4) whose alpha is ignored. Raises `NotAnImage` for any other array."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        raise NotAnImage("a frame is a uint8 numpy array")
    if frame.ndim == 3 and frame.shape[2] == 4:
        frame = frame[:, :, :3]
    if not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] in (1, 3))):
        raise NotAnImage(f"a frame is (H, W), (H, W, 3) or (H, W, 4), not {frame.shape}")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if frame.shape[0] < 1 or frame.shape[1] < 1 or frame.size > MAX_FRAME_PIXELS:
        raise NotAnImage(f"frame of unusable size {frame.shape}")
    return _decode(np.ascontiguousarray(frame))


def _decode(pixels: np.ndarray, both_kinds: bool = False) -> list[Decoded]:
    """What the local binarizer reads; what the fixed one reads too when that found nothing,
    or (`both_kinds`) not both a full code and a short code."""
    found = _read(pixels, zxingcpp.Binarizer.LocalAverage)
    kinds = {d.kind for d in found}
    if not found or (both_kinds and len(kinds) < 2):
        seen = {(d.kind, d.text) for d in found}
        again = _read(pixels, zxingcpp.Binarizer.FixedThreshold)
        found += [d for d in again if (d.kind, d.text) not in seen]
    return found


def _read(pixels: np.ndarray, binarizer: zxingcpp.Binarizer) -> list[Decoded]:
    try:
        results = zxingcpp.read_barcodes(
            pixels, formats=FORMATS, try_rotate=True, binarizer=binarizer
        )
    except ValueError as exc:  # zxing-cpp's complaint about an unusable buffer
        raise NotAnImage(str(exc)) from exc
    out: list[Decoded] = []
    seen: set[tuple[str, str]] = set()
    for r in results:
        if not r.valid:
            continue
        checked = validate(r.text, r.format.name)
        if checked is None or checked in seen:
            continue
        seen.add(checked)
        p = r.position
        corners = tuple(
            (int(c.x), int(c.y)) for c in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)
        )
        kind: Kind = "full" if checked[0] == "full" else "short"
        out.append(Decoded(kind, checked[1], r.format.name, corners))  # type: ignore[arg-type]
    return out


def validate(text: str, format_name: str) -> tuple[str, str] | None:
    """(kind, canonical text) for a decoded text that is one of our codes, else None.

    A QR code is ours if it is a receipt payload (`qr.format_payload`) whose dossier code
    matches the pattern, or a bare dossier code or short code; a Code128 if it is a short code
    with a correct check character, or a bare dossier code."""
    if format_name.startswith("QRCode"):
        fields = parse_payload(text)
        if CODE_KEY in fields:
            code = fields[CODE_KEY].upper()
            return ("full", code) if CODE_PATTERN.fullmatch(code) else None
    bare = text.strip().upper()
    if CODE_PATTERN.fullmatch(bare):
        return ("full", bare)
    if len(bare) <= 9 and is_short_code(bare):
        return ("short", fold(bare))
    return None
