"""Uploaded photos, before and while their pixels are decoded: which are accepted, and at what
size they are decoded.

Invariants:
- Only JPEG (and MPO, a JPEG with extra frames that phones write), PNG and WebP are opened:
  `Image.open(formats=...)` never lets another Pillow plugin see the bytes (EPS would reach
  Ghostscript; TIFF, BMP, GIF, ICO, PSD... are not what a phone camera produces).
- Every limit is checked on the header, which `Image.open` reads without decoding a pixel:
  each side, the area, and the bytes the decode will hold (`cost`), before any pixel is read.
- No decoded image is larger than `DECODE_SIDE` a side or `DECODE_AREA` in all: a JPEG is
  decoded straight at 1/2, 1/4 or 1/8 of its size (libjpeg's scaled decoding, Pillow's draft
  mode) and in grey; a PNG or WebP is decoded whole (within `COST_BUDGET`), then reduced.
- At most `COST_BUDGET` bytes of pixels (and JPEG coefficients) are held for a decode; with
  zxing-cpp's own buffers and the request body, one decode stays under about 100 MB.

HEIC is not accepted: its Pillow plugin (pillow-heif) bundles libheif and HEVC decoders, a large
native attack surface on a public endpoint, and decodes whole images only; phone browsers hand
a file field a JPEG anyway (iOS converts HEIC photos when uploading).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from PIL import Image, ImageFile, PngImagePlugin, UnidentifiedImageError
from PIL.JpegImagePlugin import JpegImageFile

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")  # what Image.open may try; MPO comes through JPEG
DECODE_SIDE = 4096  # a 12 MP phone photo (4032 x 3024) is decoded at full size
DECODE_AREA = 4096 * 3072
JPEG_REDUCTIONS = (1, 2, 4, 8)  # libjpeg decodes at these fractions of the size
MAX_SIDE = DECODE_SIDE * JPEG_REDUCTIONS[-1]  # beyond this a side cannot be brought down
COST_BUDGET = 64 * 1024 * 1024  # bytes of pixels and coefficients held for one decode
MAX_SCANS = 64  # a progressive JPEG has about 10; each scan costs a pass over the whole image
# Pillow's own bomb check (a warning above, an error above twice this) backs ours up: nothing
# larger than the largest JPEG we would reduce can be opened at all.
Image.MAX_IMAGE_PIXELS = DECODE_AREA * JPEG_REDUCTIONS[-1] ** 2
# PNG text chunks are decompressed while the header is read; we use none of them.
PngImagePlugin.MAX_TEXT_MEMORY = 4 * PngImagePlugin.MAX_TEXT_CHUNK

# Pillow's bytes per pixel of each mode it decodes our formats into ("RGB" is stored in 4).
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2}
_PROGRESSIVE_SOF = (0xC2,)
_SEQUENTIAL_SOF = (0xC0, 0xC1)
# libwebp holds the canvas twice (the frame and the one before it) as RGBA, Pillow copies it as
# bytes and again as its image, and a lossless frame needs one more ARGB buffer.
_WEBP_BYTES_PER_PIXEL = 4 * 5


class NotAnImage(ValueError):
    """The bytes or array given are not an image we can decode."""


class UnsupportedImage(NotAnImage):
    """The bytes are not an image in one of the formats accepted (another format, a JPEG coded
    in a way cameras do not use, or not an image at all)."""

    def __init__(self, formats: tuple[str, ...] = ACCEPTED_FORMATS) -> None:
        super().__init__(f"not an image in {', '.join(formats)}")
        self.formats = formats


class ImageTooLarge(NotAnImage):
    """The header declares more pixels than a phone photo has, or more than a decode may hold.
    `size` is None when Pillow's own bomb check refused it before the size was known."""

    def __init__(self, size: tuple[int, int] | None) -> None:
        shown = f"{size[0]} x {size[1]} pixels" if size else "too many pixels"
        super().__init__(f"image too large: {shown}")
        self.size = size


@dataclass(frozen=True, slots=True)
class Photo:
    """An accepted photo whose header was read: no pixel is decoded yet."""

    image: ImageFile.ImageFile
    reduction: int  # 1, 2, 4, 8: the JPEG is decoded at 1/reduction of its size
    cost: int  # bytes of pixels (and coefficients) the decode holds at its peak

    @property
    def format(self) -> str:
        return str(self.image.format)


def open_photo(data: bytes, formats: tuple[str, ...] = ACCEPTED_FORMATS) -> Photo:
    """The photo in `data`, checked on its header alone. Raises `UnsupportedImage` for any
    format but `formats` (Pillow's names; a station's local frame files may add "PPM"...),
    `ImageTooLarge` for one we will not decode, `NotAnImage` for a broken header."""
    try:
        image = Image.open(io.BytesIO(data), formats=formats)
    except UnidentifiedImageError as exc:
        raise UnsupportedImage(formats) from exc
    except (
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,  # raised only where warnings are errors (the tests)
    ) as exc:
        raise ImageTooLarge(None) from exc
    except (OSError, ValueError, SyntaxError, EOFError, KeyError, IndexError) as exc:
        raise NotAnImage("broken image header") from exc
    width, height = image.size
    if width < 1 or height < 1:
        raise NotAnImage("image without pixels")
    if width > MAX_SIDE or height > MAX_SIDE:
        raise ImageTooLarge((width, height))
    if isinstance(image, JpegImageFile):  # MPO too
        reduction, cost = _jpeg_plan(image, data)
    else:
        reduction, cost = 1, _whole_cost(image)
    if cost > COST_BUDGET:
        raise ImageTooLarge((width, height))
    return Photo(image, reduction, cost)


def grey(photo: Photo) -> Image.Image:
    """The photo's pixels in grey ("L"), EXIF orientation applied, at most `DECODE_SIDE` a side
    and `DECODE_AREA` in all. Raises `NotAnImage` if the pixel data is broken."""
    image = photo.image
    try:
        if photo.format in ("JPEG", "MPO"):  # decoded at the reduced size, in grey if it can
            w, h = image.size
            image.draft("L", (max(1, w // photo.reduction), max(1, h // photo.reduction)))
        image.load()
        orientation = _orientation(image)  # a PNG's eXIf chunk may follow its pixels
        pixels = image if image.mode == "L" else image.convert("L")
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        image.close()
        raise NotAnImage("broken image data") from exc
    factor = _fitting_reduction(*pixels.size)
    if factor > 1:  # box-averaged straight into the smaller image (resize() holds a third one)
        pixels = pixels.reduce(factor)
    if pixels is not image:
        image.close()  # frees the decoded pixels now, not when the caller lets go of the photo
    method = _TRANSPOSE.get(orientation)
    return pixels.transpose(method) if method is not None else pixels


def _fitting_reduction(width: int, height: int) -> int:
    """The smallest whole factor that brings an image within the decode limits."""
    factor = max(1, math.ceil(math.sqrt(width * height / DECODE_AREA)))
    while not _within(*_reduced(width, height, factor)):
        factor += 1
    return factor


def _within(width: int, height: int) -> bool:
    return width <= DECODE_SIDE and height <= DECODE_SIDE and width * height <= DECODE_AREA


def _reduced(width: int, height: int, reduction: int) -> tuple[int, int]:
    """The size of an image reduced by a whole factor (libjpeg and Pillow round up)."""
    return -(-width // reduction), -(-height // reduction)


def _jpeg_plan(image: JpegImageFile, data: bytes) -> tuple[int, int]:
    """(reduction, cost) of decoding a JPEG: the smallest libjpeg reduction that fits the
    decode limits, and the bytes held. A progressive or non-interleaved JPEG makes libjpeg keep
    every coefficient of the full-size image (2 bytes a sample) whatever the reduction, and
    read every scan before the first row comes out: those are bounded too."""
    width, height = image.size
    reduction = next((r for r in JPEG_REDUCTIONS if _within(*_reduced(width, height, r))), 0)
    if not reduction:
        raise ImageTooLarge((width, height))
    out_w, out_h = _reduced(width, height, reduction)
    if image.mode not in ("L", "RGB"):  # CMYK: print files, not photos (and no grey draft)
        raise UnsupportedImage()
    cost = out_w * out_h  # decoded straight into grey
    marker, components, first = _first_scan(data)
    if marker not in _SEQUENTIAL_SOF + _PROGRESSIVE_SOF:
        raise UnsupportedImage()  # lossless, hierarchical or arithmetic-coded: not a photo
    if marker in _PROGRESSIVE_SOF or components < len(image.layer):
        if data.count(b"\xff\xda", first) > MAX_SCANS:
            raise NotAnImage(f"JPEG with more than {MAX_SCANS} scans")
        cost += _coefficient_bytes(width, height, image.layer)
    return reduction, cost


def _coefficient_bytes(width: int, height: int, layers: list[tuple[int, int, int, int]]) -> int:
    h_max = max(layer[1] for layer in layers) or 1
    v_max = max(layer[2] for layer in layers) or 1
    total = 0
    for _, h, v, _ in layers:
        blocks_w = math.ceil(math.ceil(width * h / h_max) / 8)
        blocks_h = math.ceil(math.ceil(height * v / v_max) / 8)
        total += blocks_w * blocks_h * 64 * 2
    return total


def _first_scan(data: bytes) -> tuple[int, int, int]:
    """(start-of-frame marker, number of components in the first scan, its offset) of a JPEG,
    from its markers up to the first scan. Pillow has read and checked them already; this is
    what it does not keep."""
    at, sof, length = 2, 0, len(data)
    while at + 4 <= length:
        if data[at] != 0xFF:  # junk between segments: skipped, as Pillow and libjpeg do
            at += 1
            continue
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a segment
            at += 2
            continue
        size = int.from_bytes(data[at + 2 : at + 4], "big")
        if size < 3 or at + 2 + size > length:
            raise NotAnImage("broken JPEG markers")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            sof = marker
        if marker == 0xDA:
            return sof, data[at + 4], at
        at += 2 + size
    raise NotAnImage("JPEG without a scan")


def _whole_cost(image: ImageFile.ImageFile) -> int:
    """The bytes held at once to decode a PNG or WebP whole: the decoded image, its grey copy,
    and the grey copy reduced to the decode limits."""
    width, height = image.size
    if image.format == "WEBP":
        decoded = width * height * _WEBP_BYTES_PER_PIXEL
    else:
        decoded = width * height * _MODE_BYTES.get(image.mode, 4)
    grey = 0 if image.mode == "L" else width * height
    factor = _fitting_reduction(width, height)
    reduced = math.prod(_reduced(width, height, factor)) if factor > 1 else 0
    return decoded + grey + reduced


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(0x0112, 1))
    except (OSError, ValueError, SyntaxError, TypeError, KeyError, IndexError):
        return 1


_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
