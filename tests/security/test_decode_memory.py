"""Issue 11, finding 1 (high): memory exhaustion through photo decoding.

`POST /api/v1/decode` is public. A 97 KB PNG declaring 1 x 50,000,000 pixels passed the area
check and was decoded whole (1.4 GB); a 7070 x 7070 JPEG cost 450 MB; EPS reached Ghostscript.
Each hostile upload is sent to a real `hoso gateway` (gunicorn, 2 workers, a fresh gateway per
upload so that no earlier request's memory is reused) and the peak resident memory of the worker
that served it (VmHWM from /proc, reset before the request) may grow by at most `PEAK_BOUND`,
the request body included. A phone photo of a real receipt is still read, after the downscale.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PIL import Image

from tests.e2e.conftest import Gateway, running_gateway
from tests.factories import registration_body
from tests.security.hostile_images import HOSTILE, phone_photo
from tests.security.worker_memory import MIB, peak_increase

PEAK_BOUND = 100 * MIB  # the target: no request costs more than ~100 MB
DECODE = "/api/v1/decode"

# kind -> (status, problem type slug, or "" for a decoded image)
OUTCOMES = {
    "png 1 x 50,000,000": (422, "image-too-large"),
    "png 16384 x 16384 (bomb)": (422, "image-too-large"),
    "png 3500 x 3500 rgba, 7 MB of noise": (200, ""),  # about the most a PNG decode holds
    "png 7000 x 7000 grey": (200, ""),  # thumbnailed to 4096 x 3072
    "png with 64 MB of ztxt text": (422, "not-an-image"),
    "jpeg 7070 x 7070": (200, ""),  # decoded at 1/2: 3535 x 3535, grey
    "jpeg 7070 x 7070 progressive": (422, "image-too-large"),  # 150 MB of coefficients
    "jpeg 4000 x 3000 progressive noise": (200, ""),  # 36 MB of coefficients
    "jpeg 200 scans": (422, "not-an-image"),
    "jpeg cmyk 4096 x 3072": (422, "not-an-image"),
    "webp 4000 x 3000": (422, "image-too-large"),
    "webp 2000 x 1500 lossless": (200, ""),
    "eps": (422, "not-an-image"),
    "tiff": (422, "not-an-image"),
    "bmp": (422, "not-an-image"),
    "gif": (422, "not-an-image"),
}


@pytest.fixture
def fresh_gateway(tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(tmp_path) as gateway:
        warm_up(gateway)
        yield gateway


def warm_up(gateway: Gateway) -> None:
    """A few small decodes, so that Pillow's plugins are loaded in the workers beforehand."""
    for fmt in ("PNG", "JPEG", "WEBP") * 2:
        out = io.BytesIO()
        Image.new("RGB", (64, 64), (255, 255, 255)).save(out, format=fmt)
        answer = requests.post(
            gateway.base + DECODE,
            data=out.getvalue(),
            headers={"Content-Type": "image/*"},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text


def test_every_hostile_kind_has_an_expected_outcome() -> None:
    assert set(OUTCOMES) == set(HOSTILE)


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(HOSTILE))
def test_a_hostile_upload_is_refused_or_decoded_within_the_memory_bound(
    fresh_gateway: Gateway, kind: str
) -> None:
    build, content_type = HOSTILE[kind]
    data = build()
    with peak_increase(fresh_gateway.process.pid) as peaks:
        answer = requests.post(
            fresh_gateway.base + DECODE,
            data=data,
            headers={"Content-Type": content_type},
            timeout=120,
        )
    print(f"{kind} ({len(data):,} bytes): {answer.status_code}; {peaks.shown()}")
    status, slug = OUTCOMES[kind]
    assert answer.status_code == status, answer.text
    if slug:
        problem = answer.json()
        assert problem["type"] == f"/problems/{slug}"
        assert answer.headers["Content-Language"] == "vi"
        assert "ảnh" in problem["detail"].lower()
    else:
        assert answer.json() == {"codes": []}
    assert peaks.largest <= PEAK_BOUND


@pytest.mark.slow
@pytest.mark.parametrize("size", [(4000, 3000), (8000, 6000)])
def test_a_phone_photo_of_a_printed_receipt_is_read_after_the_downscale(
    fresh_gateway: Gateway, size: tuple[int, int]
) -> None:
    tuphap = fresh_gateway.department("tuphap")
    created = tuphap.post("/api/v1/dossiers", registration_body(601))
    assert created.status == 201, created.text
    code = created.body["code"]
    target = f"/api/v1/dossiers/{code}/receipt?format=png&width=80"
    printed = requests.get(
        fresh_gateway.base + target, headers=tuphap.signer.headers("GET", target, b""), timeout=30
    )
    assert printed.status_code == 200, printed.text
    receipt = Image.open(io.BytesIO(printed.content)).convert("L")
    photo = phone_photo(receipt, size, quality=88 if size[0] <= 4000 else 75)
    assert len(photo) < 8 * MIB
    with peak_increase(fresh_gateway.process.pid) as peaks:
        answer = requests.post(
            fresh_gateway.base + DECODE,
            data=photo,
            headers={"Content-Type": "image/jpeg"},
            timeout=120,
        )
    print(f"photo {size} ({len(photo):,} bytes): {answer.status_code}; {peaks.shown()}")
    assert answer.status_code == 200, answer.text
    assert {(c["kind"], c["text"]) for c in answer.json()["codes"]} == {
        ("full", code),
        ("short", created.body["short_code"]),
    }
    assert peaks.largest <= PEAK_BOUND


# kind -> (status of the page, what it says)
LOOKUP_OUTCOMES = {
    "png 1 x 50,000,000": (422, "Ảnh quá lớn (1 x 50.000.000 điểm ảnh)"),
    "jpeg 7070 x 7070": (200, "Không đọc được mã trên ảnh."),  # decoded: no code on it
    "eps": (422, "Chỉ nhận ảnh JPEG, PNG hoặc WebP"),
    "tiff": (422, "Chỉ nhận ảnh JPEG, PNG hoặc WebP"),
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(LOOKUP_OUTCOMES))
def test_the_lookup_pages_photo_field_meets_the_same_checks_within_the_bound(
    fresh_gateway: Gateway, kind: str
) -> None:
    """The citizen page without JavaScript: the photo goes with the form (multipart)."""
    build, content_type = HOSTILE[kind]
    with peak_increase(fresh_gateway.process.pid) as peaks:
        page = requests.post(
            fresh_gateway.base + "/",
            data={"ma": "", "bi_mat": ""},
            files={"anh": ("anh.jpg", build(), content_type)},
            timeout=120,
        )
    print(f"lookup {kind}: {page.status_code}; {peaks.shown()}")
    status, said = LOOKUP_OUTCOMES[kind]
    assert page.status_code == status
    assert page.headers["Content-Type"].startswith("text/html")
    assert said in page.text
    assert peaks.largest <= PEAK_BOUND


@pytest.mark.slow
def test_a_photo_over_8_mib_on_the_lookup_page_is_refused_in_vietnamese(
    fresh_gateway: Gateway,
) -> None:
    page = requests.post(
        fresh_gateway.base + "/",
        data={"ma": "", "bi_mat": ""},
        files={"anh": ("anh.jpg", bytes(8 * MIB + 1), "image/jpeg")},
        timeout=120,
    )
    assert page.status_code == 413
    assert "Ảnh quá lớn (tối đa 8 MB)" in page.text
