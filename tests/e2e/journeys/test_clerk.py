"""The counter clerk's journey: at the one-stop counter of UBND phường Bến Nghé the clerk prints
the receipt of a dossier received a few minutes earlier (and reads what it says); at the justice
office's desk the clerk scans the papers that arrive with a counter station (`hoso scanner`
reading the scanner on stdin), and reads, in Vietnamese, what each scan did - those that move the
dossier and those that do not (a dossier with later news, one already handed back, a code no
dossier has, something that is no code)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.core.codes import display_short_code, short_code
from gateway.core.times import shown_date, shown_time
from tests.e2e.stack import Stack
from tests.e2e.station import StationProcess, barcodes, receipt_png, station_env
from tests.factories import registration_body
from tests.readable import assert_readable, readable
from tests.signing import HttpClient

DESK = "Phòng Tư pháp"
MOVED = f"hồ sơ đã đến {DESK}, trạng thái: Đang xử lý."


def now() -> datetime:
    return datetime.now(UTC)


def register(department: HttpClient, n: int, received: datetime) -> dict[str, str]:
    body = registration_body(
        n,
        received_at=received.isoformat(),
        due_at=(received + timedelta(days=3)).isoformat(),
    )
    made = department.post("/api/v1/dossiers", body)
    assert made.status == 201, made.text
    return dict(made.body)


def push(
    department: HttpClient, code: str, event_id: str, status: int, at: datetime, **more: str
) -> None:
    body = {"event_id": event_id, "status": status, "at": at.isoformat(), **more}
    pushed = department.post(f"/api/v1/dossiers/{code}/events", body)
    assert pushed.status == 201, pushed.text


def minutes_around(before: datetime, after: datetime) -> set[str]:
    """The times a person may read for a moment between `before` and `after`."""
    return {shown_time(before), shown_time(after)}


@pytest.mark.timeout(600)
def test_the_clerk_prints_a_receipt_and_reads_what_each_scan_did(
    stack: Stack, tmp_path: Path
) -> None:
    tuphap = stack.department("tuphap")
    received = (now() - timedelta(minutes=9)).replace(second=0, microsecond=0)
    a = register(tuphap, 1, received)
    code, short, secret = a["code"], a["short_code"], a["secret"]

    # The receipt: "Ngày nhận" is when the dossier was received, "In lúc" when it is printed.
    before = now()
    html = tuphap.get(f"/api/v1/dossiers/{code}/receipt?format=html").text
    after = now()
    text = " ".join(readable(html).split())
    assert text in {
        f"Giấy biên nhận {code} UBND phường Bến Nghé GIẤY BIÊN NHẬN HỒ SƠ Mã hồ sơ: {code}"
        " Thủ tục: Cấp bản sao trích lục hộ tịch Mã thủ tục: 1.001776"
        " Người nộp: Nguyễn Văn An Điện thoại: +8490*****67"
        f" Ngày nhận: {shown_time(received)} Hẹn trả: {shown_date(received + timedelta(days=3))}"
        f" {display_short_code(short)} Mã bí mật: {secret}"
        f" Tra cứu qua SMS: Soạn HS {display_short_code(short)} {secret} gửi 0912 345 678"
        f" Tra cứu trực tuyến: {stack.base}/?ma={short} Đường dây nóng: 028 3822 1234"
        f" Cấp bởi hệ thống hoso In lúc: {printed}"
        for printed in minutes_around(before, after)
    }
    assert_readable("the receipt", text)
    printed = barcodes(receipt_png(tuphap, code))
    assert printed["Code128"] == short  # what the scanner under the bars reads

    # More papers coming to the justice office today.
    b = register(tuphap, 2, received)  # the department has news about it later than the scan
    c = register(tuphap, 3, received)  # already handed back to the citizen
    push(tuphap, c["code"], "c-9", 9, now() - timedelta(minutes=6), desk="Bộ phận trả kết quả")
    push(tuphap, c["code"], "c-10", 10, now() - timedelta(minutes=5))

    # The justice office's station, set up by the administrator.
    set_up = stack.hoso("stations", "set", "tp-1", "--desk", DESK, "--status", "4")
    assert set_up.returncode == 0, set_up.stderr
    env = station_env(
        stack.gateway,
        "tp-1",
        tmp_path / "spool.sqlite3",
        HOSO_STATION_STAFF="Minh",
        HOSO_STATION_DEBOUNCE_SECONDS="600",  # the same paper scanned twice today is one scan
    )
    station = StationProcess(env, tmp_path / "station.log")
    lines: list[str] = []

    def reads(expected: str | set[str]) -> None:
        line = station.line()
        lines.append(line)
        if isinstance(expected, str):
            assert line == expected
        else:
            assert line in expected

    try:
        reads(
            f"SAN_SANG Quầy tp-1 sẵn sàng. Bộ phận: {DESK} (theo máy chủ). Nguồn quét: stdin."
            " Chờ gửi: 0 lượt quét."
        )
        first_scan = now()
        station.scan(printed["Code128"])  # the receipt's barcode: the dossier moves here
        reads(f"OK 1 {short} đã lưu tại quầy, đang gửi lên máy chủ.")
        first_scanned = minutes_around(first_scan, now())
        reads(f"DA_CHUYEN 1 {short}: {MOVED}")
        station.scan(printed["Code128"])  # the same paper again
        reads(f"OK 1 {short} quét lặp lại, chỉ tính một lần.")

        station.scan("xin chào")  # a scanner misread, or a key pressed
        reads("SAI xin chào: không phải mã hồ sơ. Hãy quét mã vạch hoặc mã QR trên giấy biên nhận.")

        # The department's news about B is a minute and a half ahead of the scan: recorded in
        # the handoff record, but the dossier stays where the department says it is.
        push(tuphap, b["code"], "b-4", 4, now() + timedelta(seconds=90), desk="Bộ phận một cửa")
        before = now()
        station.scan(b["short_code"])
        reads(f"OK 2 {b['short_code']} đã lưu tại quầy, đang gửi lên máy chủ.")
        after = now()
        reads(
            {
                f"KHONG_CHUYEN 2 {b['short_code']}: đã ghi vào phiếu kiểm soát nhưng hồ sơ không"
                f" chuyển, vì hồ sơ đã có cập nhật sau giờ quét ({t}). Hồ sơ đang ở Bộ phận một"
                " cửa, trạng thái: Đang xử lý."
                for t in minutes_around(before, after)
            }
        )

        station.scan(c["code"])  # already handed back: it cannot be "processing" again
        reads(f"OK 3 {c['code']} đã lưu tại quầy, đang gửi lên máy chủ.")
        reads(
            f"TU_CHOI 3 {c['code']}: hồ sơ không chuyển. Hồ sơ đang ở trạng thái Đã trả kết quả,"
            " không thể chuyển sang Đang xử lý tại quầy này."
        )

        nobodys = short_code(999_999)  # a well-formed code no dossier has
        station.scan(nobodys)
        reads(f"OK 4 {nobodys} đã lưu tại quầy, đang gửi lên máy chủ.")
        reads(f"TU_CHOI 4 {nobodys}: máy chủ không có hồ sơ mã này. Kiểm tra lại giấy biên nhận.")
    finally:
        station.stop()
    for line in lines:
        assert_readable("a station line", line)

    # The handoff record the clerk prints: the scans that reached the justice office.
    record = " ".join(
        readable(tuphap.get(f"/api/v1/dossiers/{code}/handoffs?format=html").text).split()
    )
    due = received + timedelta(days=3)
    assert record in {
        f"Phiếu kiểm soát quá trình giải quyết hồ sơ {code} Phiếu kiểm soát quá trình giải quyết"
        f" hồ sơ Mã hồ sơ: {code} ({short}) · Thủ tục: Cấp bản sao trích lục hộ tịch"
        f" Ngày nhận: {shown_time(received)} · Ngày hẹn trả: {shown_time(due)} · Trạng thái:"
        " Đang xử lý # Tên cơ quan, bộ phận giao Tên cơ quan, bộ phận nhận Người giao Người nhận"
        " Thời gian giao, nhận Thời gian ở bước trước (giờ) Thời gian cho phép (giờ) Ghi chú"
        f" 1 Tiếp nhận {DESK} Minh {scanned}"
        for scanned in first_scanned
    }
    assert_readable("the handoff record", record)
