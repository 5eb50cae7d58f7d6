"""The administrators' dashboard in a real headless Chromium (Debian's, driven by Playwright)
against a real `hoso gateway`, with a bank of emulated modems driven by an in-process modem
service on the gateway's Redis: logging in, seeing the pool, disabling a modem (and checking the
modem service stops using it), and previewing an edited SMS template.

Screenshots go to `test-artifacts/admin-*.png` (git-ignored) for a person to look at."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Page, expect

from config.settings import Settings
from gateway.core.messages import Priority
from gateway.store.modems import ModemRegistry
from gateway.store.outbox import Outbox
from gateway.store.users import AdminUsers
from modem.emulator.bank import Bank
from modem.service import ModemService
from tests.e2e.browser import DESKTOP, chromium_page, needs_chromium
from tests.e2e.browser import shoot as browser_shoot
from tests.e2e.conftest import Gateway, running_gateway
from tests.integration.test_modem_service import HIGH_CAPS, eventually, quick_device

USER = "quantri"
PASSWORD = "mat-khau-rat-dai-2024"
CODE = "000.00.20.H57-240423-0001"  # the preview's sample dossier code

pytestmark = needs_chromium


def shoot(page: Page, name: str) -> Path:
    return browser_shoot(page, f"admin-{name}")


def create_admin(gateway: Gateway) -> None:
    made = subprocess.run(
        [
            *(sys.executable, "-m", "hoso.cli", "admin", "create-user", USER),
            *("--role", "admin", "--password-stdin"),
        ],
        input=PASSWORD + "\n",
        env=gateway.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, made.stderr


@pytest.fixture
def desktop() -> Iterator[Page]:
    with chromium_page(DESKTOP) as page:
        yield page


@pytest.fixture
def bank(tmp_path: Path) -> Iterator[Bank]:
    with Bank(tmp_path / "sim", ["m1", "m2"], status_report_delay=0.2, fresh_ledger=True) as b:
        yield b


@pytest.fixture
def service(bank: Bank, gateway: Gateway) -> Iterator[ModemService]:
    registry = ModemRegistry(gateway.redis.client())
    for modem in bank.ids:
        # Configured live with their ports (as an administrator adds a modem), so the dashboard
        # knows their settings and shows a disabled one as such; high caps so nothing waits.
        registry.change(modem, port=str(bank.dir / modem), **HIGH_CAPS)
    svc = ModemService(
        Settings(),
        gateway.redis.client(),
        redis.Redis(unix_socket_path=str(gateway.redis.socket)),
        sim_dir=bank.dir,
        make_device=quick_device,
        failover_after=3.0,
    )
    thread = threading.Thread(target=svc.run, daemon=True)
    thread.start()
    try:
        yield svc
    finally:
        svc.stop()
        thread.join(30)


# The modem service lets go of a modem once the modem's current AT exchange is over (it never
# leaves a port mid-command): on a loaded machine a reconnect's set-up commands can take longer
# than `eventually`'s 15 s, so what the service does is waited for this long.
SERVICE_WAIT = 60.0


def state(client: redis.Redis, modem: str) -> str | None:
    return ModemRegistry(client).health(modem).get("state")


def test_an_admin_disables_a_modem_and_previews_a_template(
    gateway: Gateway, bank: Bank, service: ModemService, desktop: Page
) -> None:
    client = gateway.redis.client()
    create_admin(gateway)
    eventually(
        lambda: state(client, "m1") == state(client, "m2") == "up",
        SERVICE_WAIT,
        what="m1, m2 up",
    )
    page = desktop

    # Logging in: the login page, then back to where we were going (the modem pool).
    page.goto(gateway.base + "/admin/modems")
    expect(page).to_have_title("Đăng nhập · Hồ sơ một cửa")
    page.get_by_label("Tên đăng nhập").fill(USER)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    shoot(page, "1-login")
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.locator("h1")).to_have_text("Modem")
    expect(page.locator("header .who")).to_contain_text(f"{USER} (quản trị)")

    # The pool: both modems up.
    m1 = page.locator('tr[data-modem="m1"]')
    m2 = page.locator('tr[data-modem="m2"]')
    expect(page.locator("table.modems tbody tr[data-modem]")).to_have_count(2)
    for row in (m1, m2):
        expect(row).to_have_class("state-up")
        expect(row.locator(".badge")).to_have_text("Hoạt động")
        expect(row.get_by_role("button", name="Tắt")).to_be_visible()
    shoot(page, "2-modems-up")

    # Disabling m1 from the page: the service lets go of it and publishes it as disabled.
    m1.get_by_role("button", name="Tắt").click()
    expect(m1).to_have_class("state-disabled")
    expect(m1.locator(".badge")).to_have_text("Đã tắt")
    expect(m1.get_by_role("button", name="Bật lại")).to_be_visible()
    expect(m2.locator(".badge")).to_have_text("Hoạt động")
    shoot(page, "3-m1-disabled")
    eventually(
        lambda: state(client, "m1") == "disabled",
        SERVICE_WAIT,
        what="m1 disabled by the service",
    )
    assert state(client, "m2") == "up"

    # An SMS pinned to m1 now leaves through m2.
    outbox = Outbox(client)
    before = len(bank.sent())
    outbox.enqueue(
        "+84903000009", "pinned to m1", Priority.REPLY, int(time.time() * 1000), via="m1"
    )
    eventually(lambda: len(bank.sent()) == before + 1, SERVICE_WAIT, what="the pinned SMS sent")
    assert [(s.modem, s.text) for s in bank.sent()[before:]] == [("m2", "pinned to m1")]
    assert bank.sent("m1") == []

    # A template: change its body, preview it, see the text and part count follow.
    page.get_by_role("navigation").get_by_role("link", name="Mẫu tin nhắn").click()
    expect(page.locator("h1")).to_have_text("Mẫu tin nhắn")
    page.locator("table.templates").get_by_role("link", name="reply_status").first.click()
    expect(page.locator("h1")).to_have_text("Mẫu tin nhắn: reply_status")
    expect(page.locator("#preview-parts")).to_have_text("1")
    expect(page.locator("#preview-text")).to_contain_text(CODE)
    shoot(page, "4-template")
    body = "Kiem tra: ho so {code} {status}. " + "Vui long mang giay bien nhan khi den. " * 5
    page.locator("#body").fill(body)
    page.get_by_role("button", name="Xem trước").click()
    expect(page.locator("#body")).to_have_value(body)
    expect(page.locator("#preview-text")).to_contain_text(f"Kiem tra: ho so {CODE} Dang xu ly.")
    expect(page.locator("#preview-parts")).to_have_text("2")
    expect(page.locator("#preview-alphabet")).to_have_text("gsm7")
    expect(page.locator("#error")).to_be_hidden()
    shoot(page, "5-template-preview")


@pytest.fixture
def live_gateway(tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(tmp_path, HOSO_ADMIN_REFRESH_SECONDS="1") as running:
        yield running


def test_the_pool_page_refreshes_itself(live_gateway: Gateway, desktop: Page) -> None:
    registry = ModemRegistry(live_gateway.redis.client())
    registry.change("m1", port="/dev/hoso/modem-m1")
    registry.publish_health("m1", {"state": "up", "operator": "Viettel", "signal_dbm": -71})
    create_admin(live_gateway)
    page = desktop
    page.goto(live_gateway.base + "/admin/login?next=/admin/modems")
    page.get_by_label("Tên đăng nhập").fill(USER)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    m1 = page.locator('tr[data-modem="m1"]')
    expect(m1).to_contain_text("Viettel")
    expect(page.locator("p.refresh")).to_contain_text("Trang tự cập nhật mỗi 1 giây")
    page.evaluate("window.notReloaded = true")

    # The modem service reports a change; the page shows it without anyone touching it.
    registry.publish_health("m1", {"state": "down", "operator": "", "last_error": "no answer"})
    expect(m1).to_have_class("state-down", timeout=10_000)
    expect(m1).to_contain_text("no answer")
    assert page.evaluate("window.notReloaded === undefined")
    shoot(page, "6-refreshed")

    # Pages that are not live (a template being edited) never reload under the editor.
    page.goto(live_gateway.base + "/admin/templates")
    expect(page.locator("body")).not_to_have_attribute("data-refresh", "1")


@pytest.fixture
def emulated_service(bank: Bank, gateway: Gateway) -> Iterator[ModemService]:
    """As `make run` drives its emulated modems: found in the emulator's directory, named in no
    config file and never changed live before the test."""
    client = gateway.redis.client()
    for modem in bank.ids:
        ModemRegistry(client).reset(modem)
    svc = ModemService(
        Settings(),
        client,
        redis.Redis(unix_socket_path=str(gateway.redis.socket)),
        sim_dir=bank.dir,
        make_device=quick_device,
        failover_after=3.0,
    )
    thread = threading.Thread(target=svc.run, daemon=True)
    thread.start()
    try:
        yield svc
    finally:
        svc.stop()
        thread.join(30)


def log_in_as_admin(page: Page, gateway: Gateway) -> None:
    page.goto(gateway.base + "/admin/login?next=/admin/modems")
    page.get_by_label("Tên đăng nhập").fill(USER)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.locator("h1")).to_have_text("Modem")


def reload_until(page: Page, badge: str, modem: str) -> None:
    """Reloads the pool page until the modem's badge reads `badge` (the service applies a
    change within a few seconds)."""
    row = page.locator(f'tr[data-modem="{modem}"] .badge')

    def shows() -> bool:
        page.reload()
        return row.inner_text() == badge

    eventually(shows, SERVICE_WAIT, what=f"{modem} shown as {badge}")


def test_an_admin_disables_and_reenables_an_emulated_modem_from_the_page(
    gateway: Gateway, bank: Bank, emulated_service: ModemService, desktop: Page
) -> None:
    client = gateway.redis.client()
    if AdminUsers(client).get(USER) is None:  # the module's gateway may have it already
        create_admin(gateway)
    eventually(
        lambda: state(client, "m1") == state(client, "m2") == "up",
        SERVICE_WAIT,
        what="m1, m2 up",
    )
    page = desktop
    log_in_as_admin(page, gateway)
    m1 = page.locator('tr[data-modem="m1"]')
    expect(m1.locator(".badge")).to_have_text("Hoạt động")

    # Disabling: a confirmation, the state shown at once, and the way back offered.
    m1.get_by_role("button", name="Tắt").click()
    expect(page.locator("p.flash.ok")).to_have_text(
        "Đã tắt modem m1: không gửi tin nào qua modem này cho đến khi bật lại."
    )
    expect(m1.locator(".badge")).to_have_text("Đã tắt")
    expect(m1.get_by_role("button", name="Bật lại")).to_be_visible()
    expect(m1.get_by_role("button", name="Tắt")).to_have_count(0)
    shoot(page, "6-emulated-m1-disabled")
    eventually(
        lambda: state(client, "m1") == "disabled", SERVICE_WAIT, what="the service let m1 go"
    )
    page.reload()
    expect(m1.locator(".badge")).to_have_text("Đã tắt")  # still, once the service reported it
    expect(page.locator("p.flash")).to_have_count(0)  # a confirmation is shown once

    # Re-enabling from the page: a confirmation, then the modem back up.
    m1.get_by_role("button", name="Bật lại").click()
    expect(page.locator("p.flash.ok")).to_have_text(
        "Đã bật lại modem m1: dịch vụ modem dùng lại modem này sau vài giây."
    )
    expect(m1.get_by_role("button", name="Tắt")).to_be_visible()
    reload_until(page, "Hoạt động", "m1")
    assert state(client, "m1") == "up"
    shoot(page, "7-emulated-m1-up-again")

    # A change of caps on a modem no file names: confirmed, shown, and undone with one button.
    m2 = page.locator('tr[data-modem="m2"]')
    m2.get_by_label("/ngày").fill("120")
    m2.get_by_role("button", name="Lưu giới hạn").click()
    expect(page.locator("p.flash.ok")).to_have_text("Đã lưu giới hạn gửi của modem m2.")
    expect(m2).to_contain_text("/ 120")
    m2.get_by_role("button", name="Bỏ các thay đổi").click()
    expect(page.locator("p.flash.ok")).to_contain_text("Modem m2 đã trở về cấu hình gốc")
    expect(m2).to_contain_text("/ 300")
    expect(m2.get_by_role("button", name="Bỏ các thay đổi")).to_have_count(0)
