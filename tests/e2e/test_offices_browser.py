"""A province administrator sets up a second office in the dashboard (Debian's Chromium, real
`hoso gateway`): the *Đơn vị* page (a refused field named, then saved, then edited), a key for a
department of that office on the *Khóa API* page; then a citizen of that office reads its name,
heading, hotline and number on the lookup page. What each person reads is checked as read
(`tests.readable`); the pages run under the gateway's Content-Security-Policy with no violation.

Screenshots go to `test-artifacts/offices-*.png` (git-ignored)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.e2e.browser import DESKTOP, PHONE, chromium_page, needs_chromium
from tests.e2e.browser import shoot as browser_shoot
from tests.e2e.conftest import Gateway, running_gateway
from tests.factories import registration_body
from tests.readable import assert_readable
from tests.security.dashboard import create_user
from tests.signing import DistinctSeconds, HttpClient, Signer

USER, PASSWORD = "tinh", "mat-khau-rat-dai-2024"
MAIN = "UBND phường Bến Nghé"
SMS = {
    "HOSO_SMS_OFFICE": MAIN,
    "HOSO_SMS_HOTLINE": "028 3822 1234",
    "HOSO_SMS_NUMBER": "0912 345 678",
}

ANSWER_STATUS = "Failed to load resource: the server responded with a status of"

pytestmark = needs_chromium


def shoot(page: Page, name: str) -> Path:
    return browser_shoot(page, f"offices-{name}")


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("province"), **SMS) as gateway:
        create_user(gateway, USER, PASSWORD)
        yield gateway


def cells(page: Page, row: str) -> list[str]:
    return [" ".join(t.split()) for t in page.locator(row).locator("td").all_inner_texts()]


def watch_console(page: Page) -> list[str]:
    """The page's console errors (a CSP violation is one), but the line an answer's status
    makes (the refused form's 422 is asserted as the page shows it)."""
    errors: list[str] = []

    def seen(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith(ANSWER_STATUS):
            errors.append(message.text)

    page.on("console", seen)
    return errors


def test_an_administrator_adds_an_office_and_its_citizens_read_it(province: Gateway) -> None:
    with chromium_page(DESKTOP, timeout_ms=30_000) as page:
        errors = watch_console(page)
        page.goto(province.base + "/admin/")
        page.get_by_label("Tên đăng nhập").fill(USER)
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.get_by_role("navigation").get_by_role("link", name="Đơn vị").click()
        expect(page.locator("h1")).to_have_text("Đơn vị")
        assert cells(page, 'tr[data-office="main"]') == [
            "main", MAIN, "UBND phuong Ben Nghe", "0912 345 678", "028 3822 1234", "–", "có", "Sửa"
        ]  # fmt: skip

        # A name with accents where SMS need none: refused, named, what was typed kept.
        form = page.locator("form.office")
        form.get_by_label("Mã đơn vị", exact=True).fill("tan-dinh")
        form.get_by_label("Tên đơn vị", exact=True).fill("UBND phường Tân Định")
        form.get_by_label("Tên ký trong SMS (không dấu)").fill("Tân Định")
        form.get_by_label("Số điện thoại nhận tin nhắn").fill("0913 000 111, 0913 000 222")
        form.get_by_label("Đường dây nóng").fill("028 3848 7777")
        form.get_by_role("button", name="Lưu đơn vị").click()
        expect(page.get_by_role("alert")).to_have_text(
            "Tên ký trong SMS (không dấu): tên trong SMS phải viết không dấu (bảng chữ GSM-7)."
            " Chưa lưu gì."
        )
        expect(form.get_by_label("Số điện thoại nhận tin nhắn")).to_have_value(
            "0913 000 111, 0913 000 222"
        )
        assert page.locator('tr[data-office="tan-dinh"]').count() == 0
        expect(page.locator("h2#sua")).to_have_text("Thêm đơn vị")  # still a new one
        shoot(page, "1-refused")

        form.get_by_label("Tên ký trong SMS (không dấu)").fill("")  # the name, unaccented
        form.get_by_label("Địa chỉ (in trên biên nhận)").fill("1 Trần Quang Khải, Quận 1")
        form.get_by_label("Tiêu đề trang tra cứu").fill("Bộ phận một cửa phường Tân Định")
        form.get_by_label("Dùng modem chung của tỉnh khi modem của đơn vị hỏng").select_option(
            label="không"
        )
        form.get_by_role("button", name="Lưu đơn vị").click()
        expect(page.get_by_role("status")).to_have_text("Đã lưu đơn vị tan-dinh.")
        assert cells(page, 'tr[data-office="tan-dinh"]') == [
            "tan-dinh",
            "UBND phường Tân Định",
            "UBND phuong Tan Dinh",
            "0913 000 111, 0913 000 222",
            "028 3848 7777",
            "1 Trần Quang Khải, Quận 1",
            "không",
            "Sửa",
        ]
        assert_readable("the offices page", page.inner_text("main"))
        shoot(page, "2-saved")

        # Editing starts from what is saved.
        page.locator('tr[data-office="tan-dinh"]').get_by_role("link", name="Sửa").click()
        expect(page.locator("h2#sua")).to_have_text("Sửa đơn vị tan-dinh")
        expect(form.get_by_label("Tên đơn vị", exact=True)).to_have_value("UBND phường Tân Định")
        expect(form.get_by_label("Đường dây nóng")).to_have_value("028 3848 7777")

        # A key for the office's justice department, from the keys page.
        page.get_by_role("navigation").get_by_role("link", name="Khóa API").click()
        page.get_by_label("Loại").select_option(label="Phòng ban")
        page.get_by_label("Mã phòng ban / quầy").fill("tuphap")
        page.get_by_label("Đơn vị", exact=True).select_option(label="UBND phường Tân Định")
        page.get_by_role("button", name="Tạo khóa").click()
        made = page.locator(".new-key p.ok").inner_text()
        found = re.fullmatch(
            r"Đã tạo khóa (\S+) cho Phòng ban tuphap của đơn vị UBND phường Tân Định\.", made
        )
        assert found is not None, made
        key_id, secret = found.group(1), page.locator("pre.secret").inner_text().strip()
        row = cells(page, f'tr[data-key="{key_id}"]')
        assert row[1:4] == ["Phòng ban", "tuphap", "UBND phường Tân Định"]
        shoot(page, "3-key")
        assert errors == []

    department = HttpClient(province.base, Signer(key_id, secret, DistinctSeconds()))
    registered = department.post("/api/v1/dossiers", registration_body(751))
    assert registered.status == 201, registered.text
    dossier = registered.body

    with chromium_page(PHONE, timeout_ms=30_000, is_mobile=True, has_touch=True) as phone:
        errors = watch_console(phone)
        phone.goto(province.base + "/")
        expect(phone.locator("header .office")).to_have_text(MAIN)  # no dossier yet: the default
        phone.get_by_label("Mã hồ sơ").fill(dossier["short_code"])
        phone.get_by_label("Mã bí mật").fill(dossier["secret"])
        phone.get_by_role("button", name="Tra cứu").click()
        expect(phone.locator("header .office")).to_have_text("Bộ phận một cửa phường Tân Định")
        expect(phone.locator("dd.office")).to_have_text(
            "UBND phường Tân Định, 1 Trần Quang Khải, Quận 1"
        )
        footer = " ".join(phone.locator("footer").inner_text().split())
        assert footer == (
            "Hoặc nhắn tin HS <mã hồ sơ> <mã bí mật> gửi 0913 000 111."
            " Đường dây hỗ trợ: 028 3848 7777"
        )
        assert_readable("the lookup page", phone.inner_text("body"))
        shoot(phone, "4-lookup")
        assert errors == []
