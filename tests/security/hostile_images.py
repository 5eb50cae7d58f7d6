"""Uploads that cost a photo decoder memory or CPU, and the phone photos it must still read.

Each builder returns the file's bytes, made without holding its decoded pixels where the point
is that the pixels are many (the PNGs are written by hand: zlib over zeros). Used by the tests in
tests/security and by bench/decode_memory.py.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from gateway.core.codes import short_code
from gateway.core.dossier import open_dossier
from gateway.receipts import render_receipt
from tests.factories import registration

ISSUED = datetime(2024, 4, 23, 1, 30, tzinfo=UTC)
_PNG_COLOUR = {"L": (0, 1), "RGB": (2, 3), "RGBA": (6, 4)}  # mode -> (colour type, bytes/px)


def receipt_image(n: int = 1) -> tuple[Image.Image, str, str]:
    """A receipt as printed (1 pixel a printer dot), with its dossier code and short code."""
    dossier = open_dossier(registration(n), "h57", short_code(n), "ABCD2345")
    made = render_receipt(
        dossier,
        width_mm=80,
        tracking_url=f"https://tracuu.example.vn/?ma={dossier.short_code}",
        office="UBND phường Bến Nghé",
        sms_number="8077",
        printed_at=ISSUED,
    )
    return made.image().convert("L"), dossier.code, dossier.short_code


def phone_photo(
    receipt: Image.Image, size: tuple[int, int] = (4000, 3000), quality: int = 88
) -> bytes:
    """The receipt as a phone camera takes it: lying on a desk, filling most of the frame's
    height, seen at a slight slant, a little out of focus, noisy, colour, JPEG."""
    width, height = size
    scale = height * 0.8 / receipt.height
    paper = receipt.resize(
        (round(receipt.width * scale), round(receipt.height * scale)), Image.Resampling.BICUBIC
    )
    desk = Image.linear_gradient("L").resize(size).point(lambda v: 70 + v // 6)
    desk.paste(paper, ((width - paper.width) // 2, (height - paper.height) // 2))
    d = 0.06 * width / 2
    quad = (-d, 0.0, 0.0, float(height), float(width), float(height), width + d, 0.0)
    slanted = desk.transform(
        size, Image.Transform.QUAD, quad, Image.Resampling.BILINEAR, fillcolor=80
    )
    blurred = slanted.filter(ImageFilter.GaussianBlur(1.2))
    rng = np.random.default_rng(11)
    noise = rng.integers(-8, 9, (height, width), dtype=np.int16)
    grey = np.clip(np.asarray(blurred, dtype=np.int16) + noise, 0, 255).astype(np.uint8)
    tinted = Image.merge(
        "RGB",
        [
            Image.fromarray(grey, "L"),
            Image.fromarray(grey, "L").point(lambda v: v * 0.97),
            Image.fromarray(grey, "L").point(lambda v: v * 0.9),
        ],
    )
    out = io.BytesIO()
    tinted.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def zero_png(width: int, height: int, mode: str = "L", text_bombs: int = 0) -> bytes:
    """A PNG of `width` x `height` black pixels (zlib shrinks them about 1,000 times), optionally
    preceded by `text_bombs` zTXt chunks of 1 MB of text each."""
    colour, per_pixel = _PNG_COLOUR[mode]
    raw = height * (1 + width * per_pixel)  # a filter byte per row, then the row: all zeros
    packer = zlib.compressobj(9)
    parts, left, block = [], raw, bytes(16 * 1024 * 1024)
    while left:
        step = min(left, len(block))
        parts.append(packer.compress(block[:step]))
        left -= step
    parts.append(packer.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    text = zlib.compress(b"x" * 1_000_000, 9)  # just under Pillow's 1 MiB a chunk
    texts = [b"Comment\0\0" + text for _ in range(text_bombs)]
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + b"".join(_chunk(b"zTXt", t) for t in texts)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def tall_png() -> bytes:
    """1 x 50,000,000 pixels in about 97 KB: 'w * h' looks like a 48 MP photo."""
    return zero_png(1, 50_000_000)


def big_jpeg(side: int = 7070, progressive: bool = False) -> bytes:
    """A `side` x `side` colour JPEG with a little drawn on it (7070: about 50 MP)."""
    image = Image.new("RGB", (side, side), (236, 234, 228))
    draw = ImageDraw.Draw(image)
    for i in range(0, side, max(1, side // 40)):
        draw.line((0, i, side, side - i), fill=(30, 30, 30), width=3)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90, progressive=progressive)
    return out.getvalue()


def many_scans_jpeg(scans: int = 200) -> bytes:
    """A small progressive JPEG whose last scan is repeated until it has `scans` scans: each
    scan is a pass over the whole image's coefficients."""
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 200, 200)).save(out, format="JPEG", progressive=True)
    data = out.getvalue()
    last = data.rindex(b"\xff\xda")
    end = data.rindex(b"\xff\xd9")
    have = data.count(b"\xff\xda")
    return data[:end] + data[last:end] * (scans - have) + data[end:]


def eps() -> bytes:
    """Encapsulated PostScript: Pillow would hand it to Ghostscript to rasterise."""
    return (
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 7000 7000\n"
        b"/Helvetica findfont 12 scalefont setfont 72 720 moveto (hoso) show showpage\n%%EOF\n"
    )


def foreign(fmt: str) -> bytes:
    """A receipt that decodes fine, in a format phones do not send (TIFF, BMP, GIF...)."""
    image, _, _ = receipt_image()
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def webp(width: int, height: int, lossless: bool = False) -> bytes:
    image = Image.new("RGB", (width, height), (236, 234, 228))
    ImageDraw.Draw(image).line((0, 0, width, height), fill=(0, 0, 0), width=5)
    out = io.BytesIO()
    image.save(out, format="WEBP", lossless=lossless, quality=80)
    return out.getvalue()


def noisy_png(width: int, height: int, noisy_rows: int) -> bytes:
    """An RGBA PNG whose first rows are random (they do not compress: a large body) and the
    rest black: the most a decode holds, with the most bytes sent."""
    rng = np.random.default_rng(5)
    pixels = np.zeros((height, width, 4), np.uint8)
    pixels[:noisy_rows] = rng.integers(0, 256, (noisy_rows, width, 4), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, "RGBA").save(out, format="PNG", compress_level=1)
    return out.getvalue()


def noisy_progressive_jpeg(width: int = 4000, height: int = 3000) -> bytes:
    """A progressive colour JPEG of random grey: libjpeg holds all its coefficients."""
    rng = np.random.default_rng(6)
    grey = Image.fromarray(rng.integers(0, 256, (height, width), dtype=np.uint8), "L")
    out = io.BytesIO()
    grey.convert("RGB").save(out, format="JPEG", quality=60, progressive=True)
    return out.getvalue()


def cmyk_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("CMYK", (4096, 3072), (10, 20, 30, 40)).save(out, format="JPEG")
    return out.getvalue()


# name -> (builder, content type): every hostile upload kind the tests and the benchmark send.
# The content type is what an attacker chooses: the body is what is checked.
HOSTILE: dict[str, tuple[Callable[[], bytes], str]] = {
    "png 1 x 50,000,000": (tall_png, "image/png"),
    "png 16384 x 16384 (bomb)": (lambda: zero_png(16384, 16384), "image/png"),
    "png 3500 x 3500 rgba, 7 MB of noise": (lambda: noisy_png(3500, 3500, 500), "image/png"),
    "png 7000 x 7000 grey": (lambda: zero_png(7000, 7000), "image/png"),
    "png with 64 MB of ztxt text": (lambda: zero_png(64, 64, text_bombs=64), "image/png"),
    "jpeg 7070 x 7070": (big_jpeg, "image/jpeg"),
    "jpeg 7070 x 7070 progressive": (lambda: big_jpeg(progressive=True), "image/jpeg"),
    "jpeg 4000 x 3000 progressive noise": (noisy_progressive_jpeg, "image/jpeg"),
    "jpeg 200 scans": (many_scans_jpeg, "image/jpeg"),
    "jpeg cmyk 4096 x 3072": (cmyk_jpeg, "image/jpeg"),
    "webp 4000 x 3000": (lambda: webp(4000, 3000), "image/webp"),
    "webp 2000 x 1500 lossless": (lambda: webp(2000, 1500, lossless=True), "image/webp"),
    "eps": (eps, "image/x-eps"),
    "tiff": (lambda: foreign("TIFF"), "image/tiff"),
    "bmp": (lambda: foreign("BMP"), "image/bmp"),
    "gif": (lambda: foreign("GIF"), "image/gif"),
}
