"""Issue 11, finding 1, as a citizen meets it: a photo the gateway refuses on the lookup page, in a
real headless Chromium against a real `hoso gateway`. The page's few lines of JavaScript send
the photo to `/api/v1/decode`; a refusal written for the citizen (Content-Language: vi) is shown
as it is, instead of "could not read the code"."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import PHONE, chromium_page, needs_chromium
from tests.e2e.conftest import Gateway, running_gateway
from tests.security.hostile_images import eps, tall_png

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("gateway")) as running:
        yield running


@pytest.fixture
def page() -> Iterator[Page]:
    """A phone's Chromium, as every browser test drives it (15 s for actions and `expect`)."""
    with chromium_page(PHONE, is_mobile=True, has_touch=True) as opened:
        yield opened


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "build", "said"),
    [
        ("anh.png", tall_png, "Ảnh quá lớn (1 x 50.000.000 điểm ảnh)"),
        ("anh.eps", eps, "Chỉ nhận ảnh JPEG, PNG hoặc WebP"),
    ],
)
def test_a_refused_photo_is_explained_to_the_citizen_in_vietnamese(
    gateway: Gateway, page: Page, tmp_path: Path, name: str, build: Callable[[], bytes], said: str
) -> None:
    photo = tmp_path / name
    photo.write_bytes(build())
    page.goto(gateway.base + "/")
    with page.expect_response("**/api/v1/decode") as decoded:
        page.get_by_label("Hoặc chụp ảnh giấy biên nhận").set_input_files(photo)
    assert decoded.value.status == 422
    expect(page.locator("#anh-trang-thai")).to_contain_text(said)
    expect(page.get_by_label("Mã hồ sơ")).to_have_value("")
