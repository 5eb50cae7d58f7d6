"""The citizen lookup page in a real headless Chromium (Debian's, driven by Playwright) on a
phone-sized screen, against a real `hoso gateway`: typing a sloppy code and the secret, reading
the code from a photo of the receipt, and the same page with JavaScript off.

Screenshots go to `test-artifacts/` (git-ignored) for a person to look at."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, ViewportSize, expect, sync_playwright

from gateway.receipts import render_receipt
from gateway.store.dossiers import DossierStore
from tests.e2e.browser import ARGS, ARTIFACTS, CHROMIUM, needs_chromium
from tests.e2e.conftest import Gateway
from tests.factories import event_body, registration_body

PHONE: ViewportSize = {"width": 390, "height": 844}
NAME = "Lê Văn Canary"

pytestmark = needs_chromium

Phone = Callable[..., AbstractContextManager[Page]]


@pytest.fixture(scope="module")
def phone() -> Iterator[Phone]:
    """Opens a page in a fresh Chromium profile with a phone's screen."""
    with sync_playwright() as pw:

        @contextmanager
        def open_page(javascript: bool = True) -> Iterator[Page]:
            with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
                context: BrowserContext = pw.chromium.launch_persistent_context(
                    profile,
                    executable_path=str(CHROMIUM),
                    headless=True,
                    args=ARGS,
                    viewport=PHONE,
                    device_scale_factor=2,
                    is_mobile=True,
                    has_touch=True,
                    locale="vi-VN",
                    java_script_enabled=javascript,
                )
                try:
                    context.set_default_timeout(15_000)
                    yield context.pages[0] if context.pages else context.new_page()
                finally:
                    context.close()

        yield open_page


def registered(gateway: Gateway, n: int) -> dict[str, Any]:
    """A dossier at the land office, waiting for a missing paper."""
    department = gateway.department(f"dept-{n}")
    body = registration_body(n, applicant_name=NAME)
    made = department.post("/api/v1/dossiers", body)
    assert made.status == 201, made.text
    code = made.body["code"]
    for event in (
        event_body("a", 4, minutes=60, desk="Phòng Tài nguyên và Môi trường"),
        event_body("b", 5, minutes=180, desk="Bộ phận một cửa", note="Thiếu bản đồ địa chính"),
    ):
        pushed = department.post(f"/api/v1/dossiers/{code}/events", event)
        assert pushed.status == 201, pushed.text
    return dict(made.body)


def shoot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"lookup-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def expect_timeline(page: Page, code: str) -> None:
    result = page.locator("#ket-qua")
    expect(result.locator("h2")).to_have_text(f"Hồ sơ {code}")
    expect(result.locator(".status")).to_have_text("Yêu cầu bổ sung giấy tờ")
    expect(result.locator(".overdue").first).to_have_text("Quá hạn")  # due 26/04/2024
    steps = result.locator(".timeline li")
    expect(steps).to_have_count(3)
    expect(steps.nth(0)).to_contain_text("23/04/2024 08:30")
    expect(steps.nth(0)).to_contain_text("Được tiếp nhận")
    expect(steps.nth(1)).to_contain_text("Đang xử lý")
    expect(steps.nth(1)).to_contain_text("Nơi xử lý: Phòng Tài nguyên và Môi trường")
    expect(steps.nth(2)).to_contain_text("Thiếu bản đồ địa chính")
    expect(page.locator("body")).not_to_contain_text(NAME)


def test_a_citizen_types_a_sloppy_code_and_the_secret_and_sees_the_timeline(
    gateway: Gateway, phone: Phone
) -> None:
    made = registered(gateway, 711)
    sloppy = made["code"].lower().replace(".", " ").replace("0", "o")
    with phone() as page:
        page.goto(gateway.base + "/")
        expect(page).to_have_title("Tra cứu hồ sơ")
        assert page.locator("html").get_attribute("lang") == "vi"
        page.get_by_label("Mã hồ sơ").fill(sloppy)
        page.get_by_label("Mã bí mật").fill(made["secret"].lower())
        shoot(page, "1-form")
        page.get_by_role("button", name="Tra cứu").click()
        expect_timeline(page, made["code"])
        shoot(page, "2-timeline")
        overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        assert not overflow  # nothing wider than the phone's screen


def test_a_wrong_secret_gets_the_neutral_message(gateway: Gateway, phone: Phone) -> None:
    made = registered(gateway, 712)
    with phone() as page:
        page.goto(gateway.base + "/")
        page.get_by_label("Mã hồ sơ").fill(made["short_code"])
        page.get_by_label("Mã bí mật").fill("ABCDEFGH")
        page.get_by_role("button", name="Tra cứu").click()
        expect(page.get_by_role("alert")).to_contain_text("Không tìm thấy thông tin hồ sơ.")
        expect(page.get_by_label("Mã hồ sơ")).to_have_value(made["short_code"])
        expect(page.get_by_label("Mã bí mật")).to_have_value("")
        expect(page.locator("body")).not_to_contain_text("Yêu cầu bổ sung")
        shoot(page, "3-not-found")


def test_a_photo_of_the_receipt_fills_the_code_in(
    gateway: Gateway, phone: Phone, tmp_path: Path
) -> None:
    made = registered(gateway, 713)
    dossier = DossierStore(gateway.redis.client()).get(made["code"])
    photo = tmp_path / "bien-nhan.png"
    photo.write_bytes(
        render_receipt(
            dossier,
            width_mm=80,
            tracking_url=f"{gateway.base}/?ma={dossier.short_code}",
            office="UBND phường Bến Nghé",
            printed_at=datetime(2024, 4, 23, 1, 30, tzinfo=UTC),
        ).png()
    )
    with phone() as page:
        page.goto(gateway.base + "/")
        with page.expect_response("**/api/v1/decode") as decoded:
            page.get_by_label("Hoặc chụp ảnh giấy biên nhận").set_input_files(photo)
        assert decoded.value.status == 200
        expect(page.get_by_label("Mã hồ sơ")).to_have_value(made["code"])
        expect(page.locator("#anh-trang-thai")).to_contain_text("Đã đọc mã hồ sơ")
        expect(page.get_by_label("Mã bí mật")).to_be_focused()
        shoot(page, "4-photo-read")
        page.keyboard.type(made["secret"])
        page.keyboard.press("Enter")
        expect_timeline(page, made["code"])


def test_the_page_works_without_javascript(gateway: Gateway, phone: Phone) -> None:
    made = registered(gateway, 714)
    with phone(javascript=False) as page:
        page.goto(f"{gateway.base}/?ma={made['short_code']}")  # the receipt's QR link
        expect(page.get_by_label("Mã hồ sơ")).to_have_value(made["short_code"])
        page.get_by_label("Mã bí mật").fill(made["secret"])
        page.get_by_role("button", name="Tra cứu").click()
        expect_timeline(page, made["code"])
        shoot(page, "5-no-javascript")
