"""The leader's journey: chị Hoa, who heads the office, follows late dossiers on the dashboard
(Chromium, a viewer's account). A dossier past its appointment and still being processed is on
the overdue page and counted by the charts - before the citizen is sent the apology, after it,
and until the dossier is finished; then it leaves both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from gateway.core.times import shown_date, shown_time
from tests.e2e.browser import DESKTOP, chromium_page, needs_chromium, shoot
from tests.e2e.stack import Stack
from tests.factories import registration_body
from tests.readable import assert_readable
from tests.signing import HttpClient

USER, PASSWORD = "hoa", "lanh-dao-xem-thoi-2024"
CITIZEN = "0912555666"
JUSTICE = "Phòng Tư pháp"

pytestmark = [pytest.mark.slow, needs_chromium]


def register(department: HttpClient, n: int, received: datetime, due: datetime, phone: str) -> str:
    body = registration_body(
        n, phones=[phone], received_at=received.isoformat(), due_at=due.isoformat()
    )
    made = department.post("/api/v1/dossiers", body)
    assert made.status == 201, made.text
    return str(made.body["code"])


def push(department: HttpClient, code: str, event_id: str, status: int, **more: str) -> None:
    body = {"event_id": event_id, "status": status, "at": datetime.now(UTC).isoformat(), **more}
    pushed = department.post(f"/api/v1/dossiers/{code}/events", body)
    assert pushed.status == 201, pushed.text


def text(page: Page, selector: str) -> str:
    return " ".join(page.locator(selector).inner_text().split())


def overdue_page(page: Page, stack: Stack) -> str:
    page.goto(stack.base + "/admin/overdue")
    expect(page.locator("h1")).to_have_text("Hồ sơ quá hạn")
    return text(page, "main")


def charts(page: Page, stack: Stack) -> dict[str, str]:
    """What the charts page says about late dossiers: the count, the justice office's row of
    the desks' table, the late dossiers by procedure (table and chart)."""
    page.goto(stack.base + "/admin/charts")
    expect(page.locator("h1")).to_have_text("Biểu đồ")
    desk = page.locator(f'table.desks tr[data-desk="{JUSTICE}"]')
    return {
        "count": text(page, "main p:nth-of-type(2)"),
        "desk overdue": desk.locator("td.n-overdue").inner_text() if desk.count() else "",
        "by procedure": text(page, "table.overdue-procedures tbody"),
        "chart": text(page, "main figure:nth-of-type(2)"),
    }


@pytest.mark.timeout(900)
def test_a_late_dossier_stays_on_the_overdue_page_and_in_the_charts_until_it_is_finished(
    stack: Stack,
) -> None:
    made = stack.hoso("admin", "create-user", USER, "--role", "viewer", "--password-stdin",
                      stdin=PASSWORD + "\n")  # fmt: skip
    assert made.returncode == 0, made.stderr
    tuphap = stack.department("tuphap")
    citizen = stack.phone(CITIZEN)
    now = datetime.now(UTC)
    # Late: due a day, two hours and a half ago, still at the justice office.
    due = now - timedelta(days=1, hours=2, minutes=30)
    late = register(tuphap, 1, now - timedelta(days=6), due, CITIZEN)
    push(tuphap, late, "l-4", 4, desk=JUSTICE)
    # On time: due in three days, at the same desk.
    on_time = register(tuphap, 2, now - timedelta(hours=1), now + timedelta(days=3), "0912777888")
    push(tuphap, on_time, "o-4", 4, desk=JUSTICE)

    listed = (
        "Hồ sơ quá hạn Mọi hồ sơ đã qua ngày hẹn trả mà chưa giải quyết xong, dù đã gửi tin nhắn"
        " xin lỗi hay chưa. Mã hồ sơ Thủ tục Trạng thái Nơi giữ hồ sơ Hẹn trả Trễ"
        f" {late} Cấp bản sao trích lục hộ tịch Đang xử lý {JUSTICE} {shown_time(due)}"
        " 1 ngày 2 giờ Trang tự cập nhật mỗi 15 giây."
    )
    counted = {
        "count": "1 hồ sơ đã quá hạn mà chưa giải quyết xong.",
        "desk overdue": "1",
        "by procedure": "Cấp bản sao trích lục hộ tịch 1",
        "chart": f"Hồ sơ quá hạn chưa giải quyết xong theo quầy 0 2 4 6 8 10 Số hồ sơ {JUSTICE} 1",
    }
    with chromium_page(DESKTOP, timeout_ms=60_000) as page:
        page.goto(stack.base + "/admin/login?next=/admin/overdue")
        page.get_by_label("Tên đăng nhập").fill(USER)
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        expect(page.locator("header .who")).to_contain_text(f"{USER} (chỉ xem)")

        # Late: listed and counted (whether or not the apology has left yet).
        assert overdue_page(page, stack) == listed
        assert charts(page, stack) == counted
        shoot(page, "journey-leader-1-charts")

        # The citizen is told the dossier's lookup code and sent the apology...
        citizen.reads_together(
            f"UBND phuong Ben Nghe da tiep nhan ho so {late}. Hen tra ket qua: {shown_date(due)}."
            f" Tra cuu: soan HS {late_short(tuphap, late)} gui so nay.",
            f"UBND phuong Ben Nghe xin loi ong/ba: ho so {late} chua co ket qua dung hen ngay"
            f" {shown_date(due)}. Moi thac mac xin lien he 028 3822 1234.",
        )
        # ... and the dossier is still late: listed and counted.
        assert overdue_page(page, stack) == listed
        shoot(page, "journey-leader-2-overdue-after-apology")
        assert charts(page, stack) == counted
        assert_readable("/admin/charts", text(page, "main"))

        # Finished: it leaves the list and the charts' count of late dossiers.
        push(tuphap, late, "l-9", 9, desk="Bộ phận trả kết quả")
        assert overdue_page(page, stack) == (
            "Hồ sơ quá hạn Mọi hồ sơ đã qua ngày hẹn trả mà chưa giải quyết xong, dù đã gửi tin"
            " nhắn xin lỗi hay chưa. Không có hồ sơ nào quá hạn. Trang tự cập nhật mỗi 15 giây."
        )
        shoot(page, "journey-leader-3-finished")
        assert charts(page, stack) == {
            "count": "0 hồ sơ đã quá hạn mà chưa giải quyết xong.",
            "desk overdue": "0",
            "by procedure": "Không có.",
            "chart": "Hồ sơ quá hạn chưa giải quyết xong theo quầy 0 2 4 6 8 10 Số hồ sơ"
            " (chưa có số liệu)",
        }
    citizen.reads(
        f"Ho so {late} da co ket qua. Moi ong/ba mang giay bien nhan den Bo phan tra ket qua de"
        " nhan."
    )


def late_short(department: HttpClient, code: str) -> str:
    answer = department.get(f"/api/v1/dossiers/{code}")
    assert answer.status == 200, answer.text
    return str(answer.body["short_code"])
