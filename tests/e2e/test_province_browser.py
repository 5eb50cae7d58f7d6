"""The province's leader in a real headless Chromium against a real `hoso gateway`: two offices'
departments register and move dossiers through the signed API, the figures are wiped back to
what a previous release stored and rebuilt with `hoso province rebuild` (then `hoso province
check` agrees); the leader compares the offices on /admin/province, drills down to an office,
a desk and a dossier, and downloads the table as a CSV file Excel reads.

Screenshots go to `test-artifacts/province-*.png` (git-ignored)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from config.settings import Settings
from gateway.store.dossiers import DossierStore
from gateway.store.offices import Offices
from gateway.store.province import ProvinceFigures
from tests.e2e.browser import DESKTOP, chromium_page, needs_chromium, shoot
from tests.e2e.conftest import Gateway, running_gateway
from tests.factories import registration_body
from tests.readable import assert_readable
from tests.signing import DistinctSeconds, HttpClient, Signer

USER, PASSWORD = "lanhdao-tinh", "lanh-dao-tinh-xem-2024"
JUSTICE, RESULTS = "Phòng Tư pháp", "Bộ phận trả kết quả"

pytestmark = [pytest.mark.slow, needs_chromium]


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(tmp_path) as running:
        yield running


def hoso(gateway: Gateway, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "hoso.cli", *args],
        input=stdin,
        env=gateway.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def department(gateway: Gateway, name: str, office: str) -> HttpClient:
    made = json.loads(hoso(gateway, "keys", "create", "--department", name, "--office", office,
                           "--json"))  # fmt: skip
    return HttpClient(gateway.base, Signer(made["key_id"], made["secret"], DistinctSeconds()))


def register(api: HttpClient, n: int, received: datetime, due: datetime) -> str:
    body = registration_body(n, received_at=received.isoformat(), due_at=due.isoformat())
    made = api.post("/api/v1/dossiers", body)
    assert made.status == 201, made.text
    return str(made.body["code"])


def push(api: HttpClient, code: str, event_id: str, status: int, desk: str) -> None:
    body = {"event_id": event_id, "status": status, "at": datetime.now(UTC).isoformat(),
            "desk": desk}  # fmt: skip
    pushed = api.post(f"/api/v1/dossiers/{code}/events", body)
    assert pushed.status == 201, pushed.text


def cells(page: Page, row: str) -> list[str]:
    return [" ".join(t.split()) for t in page.locator(row).locator("td").all_inner_texts()]


def test_a_leader_compares_offices_drills_down_to_a_dossier_and_downloads_the_csv(
    gateway: Gateway, tmp_path: Path
) -> None:
    client = gateway.redis.client()
    offices = Offices.of(client, Settings().sms)
    offices.set("phuong-a", {"name": "Phường Bến Thành"})
    offices.set("xa-b", {"name": "Xã Đông Thạnh"})
    hoso(gateway, "admin", "create-user", USER, "--role", "viewer", "--password-stdin",
         stdin=PASSWORD + "\n")  # fmt: skip
    a, b = department(gateway, "tuphap", "phuong-a"), department(gateway, "tuphap", "xa-b")
    now = datetime.now(UTC)
    # Bến Thành: one finished late, one finished on time, one overdue at the justice desk.
    late = register(a, 1, now - timedelta(days=5), now - timedelta(days=2))
    push(a, late, "late-4", 4, JUSTICE)
    push(a, late, "late-9", 9, RESULTS)
    on_time = register(a, 2, now - timedelta(days=1), now + timedelta(days=2))
    push(a, on_time, "ok-9", 9, RESULTS)
    waiting = register(a, 3, now - timedelta(days=4), now - timedelta(days=1))
    push(a, waiting, "wait-4", 4, JUSTICE)
    # Đông Thạnh: one open, not due yet, before any handoff.
    register(b, 4, now - timedelta(hours=3), now + timedelta(days=3))

    # The data as a previous release left it (no figures), then the upgrade step.
    figures = ProvinceFigures(client)
    figures.clear()
    figures.forget([c for batch in DossierStore(client).all_codes() for c in batch])
    assert figures.offices() == set()
    assert "4 dossier(s) counted" in hoso(gateway, "province", "rebuild")
    assert "0 differ" in hoso(gateway, "province", "check")

    with chromium_page(DESKTOP, timeout_ms=30_000, accept_downloads=True) as page:
        page.goto(gateway.base + "/admin/login?next=/admin/province")
        page.get_by_label("Tên đăng nhập").fill(USER)
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        expect(page.locator("h1")).to_have_text("Chỉ số phục vụ toàn tỉnh")
        # Name, finished, on time, late, on-time %, open, overdue now, average and p90 days,
        # where most wait.
        assert cells(page, 'table.offices tr[data-office="phuong-a"]')[:7] == [
            "Phường Bến Thành", "2", "1", "1", "50,0", "1", "1",
        ]  # fmt: skip
        assert cells(page, 'table.offices tr[data-office="phuong-a"]')[9] == f"{JUSTICE} (1)"
        assert cells(page, 'table.offices tr[data-office="xa-b"]')[:7] == [
            "Xã Đông Thạnh", "0", "0", "0", "–", "1", "0",
        ]  # fmt: skip
        assert_readable("/admin/province", page.locator("main").inner_text())
        shoot(page, "province-1-offices")

        with page.expect_download() as downloading:
            page.get_by_role("link", name="Tải bảng này (CSV)").first.click()
        body = Path(downloading.value.path()).read_bytes()
        assert body.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        assert rows[0][:4] == ["Mã đơn vị", "Đơn vị", "Đã giải quyết", "Đúng hạn"]
        row = next(r for r in rows if r[0] == "phuong-a")
        assert row[1:8] == ["Phường Bến Thành", "2", "1", "1", "50.0", "1", "1"]

        page.get_by_role("link", name="Phường Bến Thành").click()
        expect(page.locator("h1")).to_have_text("Phường Bến Thành")
        assert cells(page, f'table.desks tr[data-desk="{JUSTICE}"]')[:7] == [
            JUSTICE, "0", "0", "0", "–", "1", "1",
        ]  # fmt: skip
        assert_readable("/admin/province/phuong-a", page.locator("main").inner_text())
        shoot(page, "province-2-office")

        page.get_by_role("link", name=JUSTICE).click()
        expect(page.locator("h1")).to_have_text(f"Hồ sơ đang chờ tại {JUSTICE}")
        listed = cells(page, f'table.waiting tr[data-code="{waiting}"]')
        assert listed[0] == waiting
        assert listed[2] == "Đang xử lý"
        assert_readable("desk page", page.locator("main").inner_text())
        shoot(page, "province-3-desk")

        page.get_by_role("link", name=waiting).click()
        expect(page.locator("main")).to_contain_text(waiting)
        expect(page.locator("main")).to_contain_text("Đang xử lý")
