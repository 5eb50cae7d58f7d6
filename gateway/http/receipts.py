"""Receipts for departments (PNG, SVG, HTML for 58/80 mm thermal printers, signed by the
dossier's office: its name, address, hotline and number to text), and decoding of a photographed
receipt for anyone (the citizen lookup page), rate limited per address. A decode's refusals are
written for the citizen (Vietnamese, `gateway.http.photos`)."""

from __future__ import annotations

import json

from flask import Blueprint, Response, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from gateway.core.office_contact import contact_of
from gateway.core.tracking import tracking_url
from gateway.http.answers import json_answer, now
from gateway.http.context import services
from gateway.http.dossiers import resolve
from gateway.http.photos import (
    MAX_PHOTO_BYTES,
    VIETNAMESE,
    DecodersBusy,
    codes_in_photo,
    refusal,
    too_large,
)
from gateway.http.problems import Problem
from gateway.http.proxies import client_address
from gateway.http.signed import signed
from gateway.receipts import NotAnImage, render_receipt
from gateway.store.credentials import ClientKind

bp = Blueprint("receipts", __name__, url_prefix="/api/v1")

DECODES_PER_MINUTE = 30  # per address (`Services.decode_limit`)
MEDIA = {"png": "image/png", "svg": "image/svg+xml", "html": "text/html"}


@bp.get("/dossiers/<code>/receipt")
@signed(ClientKind.DEPARTMENT)
def receipt(code: str) -> Response:
    wanted = request.args.get("format", "png")
    width = request.args.get("width", "80")
    if wanted not in MEDIA or width not in ("58", "80"):
        raise Problem(
            422, "invalid-field", "Invalid field", "format: png, svg or html; width: 58 or 80"
        )
    svc = services()
    dossier = svc.dossiers.get(resolve(code), g.client.owner, g.client.office)
    office = contact_of(svc.offices.get(dossier.office), svc.settings.sms.number)
    made = render_receipt(
        dossier,
        width_mm=int(width),
        tracking_url=tracking_url(svc.settings.gateway.public_url, dossier.short_code),
        office=office.name,
        sms_number=office.number,
        hotline=office.hotline,
        address=office.address,
        printed_at=now(),
    )
    body: bytes | str = (
        made.png() if wanted == "png" else made.svg() if wanted == "svg" else made.html()
    )
    return Response(body, mimetype=MEDIA[wanted])


@bp.post("/decode")
def decode() -> Response:
    """The dossier codes in a photo of a receipt: the image as the body (image/*) or as the
    `image` field of a form. Answers codes only: whether a dossier exists is not revealed."""
    _limit_by_address()
    try:
        data = _photo_bytes()
    except RequestEntityTooLarge as exc:
        raise too_large() from exc
    try:
        found = codes_in_photo(data)
    except (NotAnImage, DecodersBusy) as exc:
        raise refusal(exc) from exc
    codes = [{"kind": d.kind, "text": d.text, "format": d.format} for d in found]
    unique = list({json.dumps(c, sort_keys=True): c for c in codes}.values())
    return json_answer({"codes": unique}, 200)


def _photo_bytes() -> bytes:
    """The uploaded photo, whole: at most `MAX_PHOTO_BYTES`, chunked bodies included."""
    request.max_content_length = MAX_PHOTO_BYTES
    if request.mimetype.startswith("multipart/"):
        upload = request.files.get("image")
        if upload is None:
            raise Problem(
                422, "invalid-field", "Invalid field", "Thiếu trường image (tệp ảnh).", VIETNAMESE
            )
        data = upload.read()
    elif request.mimetype.startswith("image/") or request.mimetype == "application/octet-stream":
        data = request.get_data()
    else:
        raise Problem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "Hãy gửi ảnh: thân yêu cầu image/jpeg, image/png, image/webp, hoặc biểu mẫu có trường"
            " image.",
            VIETNAMESE,
        )
    assert isinstance(data, bytes)
    return data


def _limit_by_address() -> None:
    svc = services()
    tally = svc.decode_limit.hit(client_address(), svc.clock())
    if tally.over:
        raise Problem(
            429,
            "rate-limited",
            "Too many requests",
            f"Đã gửi quá nhiều ảnh (tối đa {DECODES_PER_MINUTE} ảnh mỗi phút). Vui lòng thử lại"
            " sau một phút.",
            {**VIETNAMESE, "Retry-After": str(tally.retry_after)},
        )
