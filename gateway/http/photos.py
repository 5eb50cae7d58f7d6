"""Photos uploaded to the gateway: `POST /api/v1/decode` and the lookup page's photo field.

Each photo is checked on its header before any pixel is decoded (`gateway.receipts.open_photo`:
JPEG, PNG or WebP within size limits), then decoded in one of this process's decode slots. A
decode may hold up to about 100 MB, so each gateway process runs `DECODES_AT_ONCE` of them; when
every slot is taken the upload is refused at once (503 with Retry-After) rather than queued, so
the process's other threads keep answering.

What a refusal says is written for a citizen (Vietnamese): the lookup page shows it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from flask import current_app

from gateway.http.problems import Problem
from gateway.receipts import (
    Decoded,
    ImageTooLarge,
    NotAnImage,
    UnsupportedImage,
    decode_photo,
    open_photo,
)

MAX_PHOTO_BYTES = 8 * 1024 * 1024
DECODES_AT_ONCE = 1  # per gateway process (each gunicorn worker)
RETRY_AFTER_SECONDS = 2  # about one decode of a 12 MP photo, with room
VIETNAMESE = {"Content-Language": "vi"}  # the lookup page shows these details as they are
_EXTENSION = "hoso.decode_slots"


class DecodersBusy(Exception):
    """Every decode slot of this gateway process is taken."""


class DecodeSlots:
    """How many photos this process decodes at once; taking a slot never waits."""

    def __init__(self, at_once: int) -> None:
        self._free = threading.BoundedSemaphore(at_once)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        if not self._free.acquire(blocking=False):
            raise DecodersBusy()
        try:
            yield
        finally:
            self._free.release()


def decode_slots() -> DecodeSlots:
    """This app's (this process's) decode slots."""
    slots: DecodeSlots = current_app.extensions.setdefault(_EXTENSION, DecodeSlots(DECODES_AT_ONCE))
    return slots


def codes_in_photo(data: bytes) -> list[Decoded]:
    """The codes read from an uploaded photo. Raises `NotAnImage` (refused on its header, or
    broken) or `DecodersBusy`."""
    photo = open_photo(data)  # no slot is taken for what the header refuses
    with decode_slots().held():
        return decode_photo(photo)


def too_large() -> Problem:
    """The body (the photo's bytes) is over `MAX_PHOTO_BYTES`."""
    return Problem(
        413,
        "body-too-large",
        "Request body too large",
        f"Ảnh quá lớn (tối đa {MAX_PHOTO_BYTES // (1024 * 1024)} MB). Vui lòng chụp lại"
        " hoặc nhập mã hồ sơ.",
        VIETNAMESE,
    )


def refusal(exc: NotAnImage | DecodersBusy) -> Problem:
    """The answer to a photo that was not decoded."""
    if isinstance(exc, DecodersBusy):
        return Problem(
            503,
            "decoder-busy",
            "Decoder busy",
            "Máy chủ đang bận đọc ảnh khác. Vui lòng thử lại sau ít giây.",
            {**VIETNAMESE, "Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, ImageTooLarge):
        size = f" ({_number(exc.size[0])} x {_number(exc.size[1])} điểm ảnh)" if exc.size else ""
        return Problem(
            422,
            "image-too-large",
            "Image too large",
            f"Ảnh quá lớn{size}. Vui lòng chụp giấy biên nhận bằng máy ảnh của điện thoại"
            " ở cỡ ảnh thông thường.",
            VIETNAMESE,
        )
    if isinstance(exc, UnsupportedImage):
        detail = "Chỉ nhận ảnh JPEG, PNG hoặc WebP (ảnh chụp bằng điện thoại)."
    else:
        detail = "Không đọc được tệp ảnh (tệp hỏng hoặc không phải ảnh). Vui lòng chụp lại."
    return Problem(422, "not-an-image", "Not an image", detail, VIETNAMESE)


def _number(n: int) -> str:
    """A whole number as Vietnamese write it: 50.000.000."""
    return f"{n:,}".replace(",", ".")
