"""The administrator's journey: anh Tuấn makes his account as `make run`'s banner says, logs in
to the dashboard (Chromium), takes a modem out of service from the pool page and puts it back,
sends again an SMS the network refused, and reads the API keys page. Each confirmation and each
row he reads is asserted as the page shows it."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from gateway.core.times import shown_date, shown_time
from tests.e2e.browser import DESKTOP, chromium_page, needs_chromium, shoot
from tests.e2e.stack import Stack, eventually
from tests.factories import registration_body
from tests.readable import assert_readable

USER, PASSWORD = "tuan", "mat-khau-rat-dai-2024"
CITIZEN = "0901234567"

# The modems as `make run` leaves them: no live change of their caps.
STACK = {"high_caps": False}

pytestmark = [pytest.mark.slow, needs_chromium]


def cells(page: Page, row: str) -> list[str]:
    """The text of each cell of a table row, as read."""
    return [" ".join(t.split()) for t in page.locator(row).locator("td").all_inner_texts()]


def reload_until(page: Page, row: str, column: int, text: str) -> None:
    """Reloads the page (as a person presses F5) until the row's cell reads `text`."""

    def shows() -> bool:
        page.reload()
        found = cells(page, row)
        return len(found) > column and found[column] == text

    eventually(shows, f"{row} column {column} reading {text!r}")


@pytest.mark.timeout(900)
def test_the_administrator_runs_the_modem_pool_resends_a_failed_sms_and_reads_the_keys(
    stack: Stack,
) -> None:
    made = stack.hoso("admin", "create-user", USER, "--role", "admin", "--password-stdin",
                      stdin=PASSWORD + "\n")  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stdout == f"{USER}: account created (province-admin, office *)\n"
    tuphap = stack.department("tuphap")
    citizen = stack.phone(CITIZEN)
    now = datetime.now(UTC)
    due = now + timedelta(days=20)
    body = registration_body(1, received_at=now.isoformat(), due_at=due.isoformat())
    registered = tuphap.post("/api/v1/dossiers", body)
    assert registered.status == 201, registered.text
    code = registered.body["code"]
    citizen.reads(
        f"UBND phuong Ben Nghe da tiep nhan ho so {code}. Hen tra ket qua: {shown_date(due)}."
        f" Tra cuu: soan HS {registered.body['short_code']} gui so nay."
    )

    with chromium_page(DESKTOP, timeout_ms=60_000) as page:
        # Logging in: the dashboard asks first, then shows the modem pool.
        page.goto(stack.base + "/admin/")
        expect(page).to_have_title("Đăng nhập · Hồ sơ một cửa")
        page.get_by_label("Tên đăng nhập").fill(USER)
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        expect(page.locator("h1")).to_have_text("Modem")
        expect(page.locator("header .who")).to_contain_text(f"{USER} (quản trị)")
        m1, m2 = 'tr[data-modem="m1"]', 'tr[data-modem="m2"]'
        assert cells(page, m1)[1] == cells(page, m2)[1] == "Hoạt động"
        shoot(page, "journey-admin-1-pool")

        # Taking m1 out of service: a confirmation, the state at once, and the way back.
        page.locator(m1).get_by_role("button", name="Tắt").click()
        expect(page.locator("p.flash.ok")).to_have_text(
            "Đã tắt modem m1: không gửi tin nào qua modem này cho đến khi bật lại."
        )
        assert cells(page, m1)[1] in {  # the modem service lets go of it within seconds
            "Đã tắt dịch vụ modem đang ngừng dùng modem này đã thay đổi trên trang này",
            "Đã tắt đã thay đổi trên trang này",
        }
        expect(page.locator(m1).get_by_role("button", name="Bật lại")).to_be_visible()
        expect(page.locator(m1).get_by_role("button", name="Tắt")).to_have_count(0)
        shoot(page, "journey-admin-2-m1-off")
        reload_until(page, m1, 1, "Đã tắt đã thay đổi trên trang này")
        expect(page.locator("p.flash")).to_have_count(0)  # a confirmation is shown once

        # Meanwhile citizens are answered through m2.
        citizen.send(f"HS {code}", modem="m2")
        citizen.reads(
            f"Ho so {code}: Duoc tiep nhan. Dang o: Bo phan mot cua. Hen tra: {shown_date(due)}.",
            modem="m2",
        )

        # Putting it back: a confirmation, then the modem up again.
        page.locator(m1).get_by_role("button", name="Bật lại").click()
        expect(page.locator("p.flash.ok")).to_have_text(
            "Đã bật lại modem m1: dịch vụ modem dùng lại modem này sau vài giây."
        )
        expect(page.locator(m1).get_by_role("button", name="Tắt")).to_be_visible()
        reload_until(page, m1, 1, "Hoạt động đã thay đổi trên trang này")
        shoot(page, "journey-admin-3-m1-back")

        # The network refuses what m1 sends for a while (unassigned number, +CMS ERROR: 1): a
        # reply fails, and the administrator sees it among the failed SMS.
        stack.sim_command("fault", "--modem", "m1", "errors", "1.0", "1")
        citizen.send(f"HS {code}", modem="m1")
        page.goto(stack.base + "/admin/messages?state=failed")
        failed = "table.messages tbody tr"
        reload_until(page, failed, 5, "Thất bại")
        shown = cells(page, failed)
        failed_id = shown[0]
        reply = (
            f"Ho so {code}: Duoc tiep nhan. Dang o: Bo phan mot cua. Hen tra: {shown_date(due)}."
        )
        assert shown[2:] == [
            "+8490*****67",
            "Trả lời tình trạng hồ sơ",
            code,
            "Thất bại",
            "m1",
            "1",
            "+CMS ERROR: 1",
            reply,
            "Gửi lại",
        ]
        assert re.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", shown[1])
        shoot(page, "journey-admin-4-failed")

        # The network accepts again; the administrator sends it again from the page.
        stack.sim_command("fault", "--modem", "m1", "clear")
        page.locator(failed).get_by_role("button", name="Gửi lại").click()
        expect(page.locator("p.notice")).to_have_text(
            re.compile(r"Đã xếp hàng gửi lại thành tin nhắn số \d+\.")
        )
        copy_id = re.sub(r"\D", "", page.locator("p.notice").inner_text())
        citizen.reads(reply)
        page.goto(stack.base + f"/admin/messages?dossier={code}")
        copy_row, original_row = f'tr[data-sms="{copy_id}"]', f'tr[data-sms="{failed_id}"]'
        reload_until(page, copy_row, 5, "Đã đến máy")  # delivered: the status report came
        assert cells(page, copy_row)[0] == f"{copy_id} gửi lại của {failed_id}"
        assert cells(page, original_row)[0] == f"{failed_id} đã gửi lại: {copy_id}"
        assert cells(page, original_row)[5] == "Thất bại"
        shoot(page, "journey-admin-5-resent")

        # The API keys: each one the departments and stations use, when it was made, its
        # fingerprint (the same as `hoso keys list` says), never its secret.
        listed = stack.hoso("keys", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        [key] = [json.loads(line) for line in listed.stdout.splitlines()]
        page.get_by_role("navigation").get_by_role("link", name="Khóa API").click()
        expect(page.locator("h1")).to_have_text("Khóa API")
        created = datetime.fromisoformat(key["created_at"])
        assert cells(page, "table.keys tbody tr") == [
            key["key_id"],
            "Phòng ban",
            "tuphap",
            "UBND phường Bến Nghé",  # the office: the installation's one, from [sms]
            shown_time(created),
            "đang dùng",
            key["fingerprint"],
            "Thu hồi",
        ]
        shoot(page, "journey-admin-6-keys")
        for path in ("/admin/modems", "/admin/messages", "/admin/keys"):
            page.goto(stack.base + path)
            assert_readable(path, page.inner_text("main"))
