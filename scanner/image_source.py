"""Images and camera frames dropped into a folder, decoded with zxing-cpp.

Each new file in the folder (oldest first) is decoded; every code found is a code read, then the
file moves to ``done/`` (or ``unreadable/`` when nothing was found), so a restart does not read it
again. Barcodes are decoded in one place, `gateway.receipts.decode` (zxing-cpp, only the formats
we print, only our codes): image files through Pillow (`decode_image`), and binary PGM/PPM frames
(what a frame grabber such as ffmpeg or v4l2 writes most simply) read here without an image
library and handed over as pixels (`decode_netpbm`, `decode_frame`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from gateway.receipts.decode import decode_frame, decode_image

log = logging.getLogger(__name__)

Decoder = Callable[[bytes], list[str]]
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".pgm", ".ppm"})
PILLOW_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "PPM")  # those files (PPM: PGM too)


class ImageFolderSource:
    """The codes found in images appearing in `folder`, until `stop` is set."""

    def __init__(
        self,
        folder: str | Path,
        *,
        decode: Decoder | None = None,
        stop: threading.Event | None = None,
        poll_seconds: float = 0.2,
    ) -> None:
        self.folder = Path(folder)
        self.decode = decode or default_decoder()
        self.stop = stop or threading.Event()
        self.poll_seconds = poll_seconds
        self.done = self.folder / "done"
        self.unreadable = self.folder / "unreadable"

    def __iter__(self) -> Iterator[str]:
        self.done.mkdir(parents=True, exist_ok=True)
        self.unreadable.mkdir(parents=True, exist_ok=True)
        while not self.stop.is_set():
            found = False
            for path in self._new_images():
                found = True
                yield from self._read(path)
                if self.stop.is_set():
                    return
            if not found:
                self.stop.wait(self.poll_seconds)

    def _new_images(self) -> list[Path]:
        try:
            files = [
                p
                for p in self.folder.iterdir()
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
            ]
        except OSError as exc:
            log.warning("scanner.images_unavailable folder=%s error=%s", self.folder, exc)
            return []
        return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))

    def _read(self, path: Path) -> Iterator[str]:
        try:
            texts = self.decode(path.read_bytes())
        except (OSError, ValueError) as exc:
            log.warning("scanner.image_unreadable file=%s error=%s", path.name, exc)
            texts = []
        yield from texts
        # Moved only once its codes are spooled: a crash in between reads the image again.
        target = self.done if texts else self.unreadable
        try:
            path.replace(target / path.name)
        except OSError:
            log.warning("scanner.image_not_moved file=%s", path.name, exc_info=True)


def default_decoder() -> Decoder:
    def decode(data: bytes) -> list[str]:
        return [d.text for d in decode_image(data, PILLOW_FORMATS)]

    return decode


def decode_netpbm(data: bytes) -> list[str]:
    """The codes in a binary PGM (P5) or PPM (P6) image, 8 bits per channel."""
    magic, width, height, maxval, pixels = _parse_netpbm(data)
    if maxval != 255:
        raise ValueError("only 8-bit PGM/PPM frames are supported")
    channels = 3 if magic == b"P6" else 1
    if len(pixels) < width * height * channels:  # checked first: a short P6 raised IndexError
        raise ValueError("truncated image")
    frame = np.frombuffer(pixels, dtype=np.uint8, count=width * height * channels)
    if magic == b"P6":  # RGB -> grey, the decoder binarises anyway
        rgb = frame.reshape(height, width, 3).astype(np.uint32)
        grey = (rgb[:, :, 0] * 299 + rgb[:, :, 1] * 587 + rgb[:, :, 2] * 114) // 1000
        frame = grey.astype(np.uint8)
    return [d.text for d in decode_frame(frame.reshape(height, width))]


def _parse_netpbm(data: bytes) -> tuple[bytes, int, int, int, bytes]:
    fields: list[bytes] = []
    pos = 0
    while len(fields) < 4:
        while pos < len(data) and data[pos : pos + 1].isspace():
            pos += 1
        if data[pos : pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        start = pos
        while pos < len(data) and not data[pos : pos + 1].isspace():
            pos += 1
        if start == pos:
            raise ValueError("not a PGM/PPM image")
        fields.append(data[start:pos])
    magic = fields[0]
    if magic not in (b"P5", b"P6"):
        raise ValueError("not a binary PGM/PPM image")
    try:
        width, height, maxval = (int(f) for f in fields[1:])
    except ValueError as exc:
        raise ValueError("bad PGM/PPM header") from exc
    if width < 1 or height < 1:  # a zero-sized view is a TypeError in memoryview.cast
        raise ValueError(f"bad PGM/PPM size {width}x{height}")
    return magic, width, height, maxval, data[pos + 1 :]
