"""The citizen's journey: chị Lan hands in two dossiers at the counter of UBND phường Bến Nghé and
follows them by SMS from her phone and on the lookup page, as the office's whole installation
runs (`tests.e2e.stack`). Every SMS she (or anyone) reads is read in full, as it came over the
air, and the page as Chromium shows it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.core.codes import display_short_code, short_code
from gateway.core.sms_text import strip_accents
from gateway.core.times import shown_date, shown_time
from tests.e2e.browser import PHONE, chromium_page, needs_chromium, shoot
from tests.e2e.stack import Stack
from tests.factories import registration_body
from tests.signing import HttpClient

LAN = "0901234567"
HUSBAND = "0987000111"
OFFICE = "UBND phuong Ben Nghe"  # as the SMS spell it (unaccented GSM-7)
HOTLINE = "028 3822 1234"
STRANGER_REPLY = (
    "Khong tra cuu duoc ho so. Vui long kiem tra ma ho so va gui kem ma bi mat in tren giay bien"
    " nhan: HS <ma ho so> <ma bi mat>."
)

pytestmark = [pytest.mark.slow, needs_chromium]


def now() -> datetime:
    return datetime.now(UTC)


def sms(text: str) -> str:
    """A Vietnamese text as the SMS carries it: unaccented GSM-7 (the default)."""
    return strip_accents(text)


def register(department: HttpClient, n: int, received: datetime, due: datetime) -> dict[str, str]:
    body = registration_body(
        n,
        phones=[LAN],
        applicant_name="Nguyễn Thị Lan",
        received_at=received.isoformat(),
        due_at=due.isoformat(),
    )
    made = department.post("/api/v1/dossiers", body)
    assert made.status == 201, made.text
    return dict(made.body)


def push(department: HttpClient, code: str, event_id: str, status: int, **more: str) -> datetime:
    """The department's system says what happened to the dossier, now; returns when."""
    at = now()
    body = {"event_id": event_id, "status": status, "at": at.isoformat(), **more}
    pushed = department.post(f"/api/v1/dossiers/{code}/events", body)
    assert pushed.status == 201, pushed.text
    return at


def page_text(stack: Stack, typed: str, secret: str, shot: str) -> str:
    """The lookup page as chị Lan reads it on her phone after typing the code and the secret."""
    with chromium_page(PHONE, timeout_ms=60_000, is_mobile=True, has_touch=True) as page:
        page.goto(f"{stack.base}/?ma={typed}")
        page.get_by_label("Mã bí mật").fill(secret)
        page.get_by_role("button", name="Tra cứu").click()
        page.wait_for_selector("#ket-qua")
        shoot(page, f"journey-citizen-{shot}")
        return " ".join(page.inner_text("body").split())


@pytest.mark.timeout(900)
def test_the_citizen_follows_her_dossiers_by_sms_and_on_the_lookup_page(stack: Stack) -> None:
    tuphap = stack.department("tuphap")
    lan, husband = stack.phone(LAN), stack.phone(HUSBAND)

    # At the counter: the dossier is registered and taken up by the justice office at once.
    received = now() - timedelta(minutes=1)
    due = received + timedelta(days=5)
    a = register(tuphap, 1, received, due)
    code, short, secret = a["code"], a["short_code"], a["secret"]
    taken = push(tuphap, code, "a-4", 4, desk="Phòng Tư pháp")
    lan.reads(
        f"{OFFICE} da tiep nhan ho so {code}. Hen tra ket qua: {shown_date(due)}. Tra cuu: soan"
        f" HS {short} gui so nay."
    )

    # She asks how it is going, from her phone, to the number on the receipt.
    lan.send(f"HS {short}", modem="m1")
    in_progress = f"Ho so {code}: Dang xu ly. Dang o: Phong Tu phap. Hen tra: {shown_date(due)}."
    lan.reads(in_progress, modem="m1")  # answered from the number she wrote to

    # Her husband asks from his phone: without the secret he learns nothing, exactly what a
    # code that does not exist gets; with the secret printed on the receipt he gets the answer.
    husband.send(f"HS {code}", modem="m2")
    husband.reads(STRANGER_REPLY, modem="m2")
    husband.send(f"HS {short_code(999_999)}", modem="m2")
    husband.reads(STRANGER_REPLY, modem="m2")
    husband.send(f"hs {display_short_code(short).lower()} {secret.lower()}", modem="m2")
    husband.reads(in_progress, modem="m2")

    # A typo in the short code (the check character catches it).
    typo = short[:-1] + ("2" if short[-1] != "2" else "3")
    lan.send(f"HS {typo}")
    lan.reads("Ma ho so khong dung, kiem tra lai tren giay bien nhan. Soan HD de xem huong dan.")

    # Her dossiers, then no more messages, then messages again.
    lan.send("TRA")
    lan.reads(f"Ho so cua ban: {short} (Dang xu ly). Xem chi tiet: HS <ma ho so>.")
    lan.send("HUY")
    lan.reads("Ban da ngung nhan tin nhan ve ho so. De nhan lai, soan DK.")
    lan.send("DK")
    lan.reads("Ban se nhan tin nhan khi ho so co thay doi. De ngung nhan, soan HUY.")

    # The office needs one more paper: she is told, and her question is answered with it.
    missing = push(
        tuphap, code, "a-5", 5, desk="Bộ phận một cửa", note="Bản sao CCCD có chứng thực"
    )
    lan.reads(
        f"Ho so {code} can bo sung: Ban sao CCCD co chung thuc. Vui long nop tai Bo phan mot cua."
    )
    lan.send(f"HS {short}")
    lan.reads(
        f"Ho so {code}: Yeu cau bo sung giay to. Can bo sung: Ban sao CCCD co chung thuc. Nop"
        f" tai: Bo phan mot cua. Hen tra: {shown_date(due)}."
    )

    # She brings it; the result is ready at the results desk.
    brought = push(tuphap, code, "a-4b", 4, desk="Phòng Tư pháp")
    ready_at = push(tuphap, code, "a-9", 9, desk="Bộ phận trả kết quả")
    lan.reads(
        f"Ho so {code} da co ket qua. Moi ong/ba mang giay bien nhan den Bo phan tra ket qua de"
        " nhan."
    )
    lan.send(f"HS {short}")
    lan.reads(
        f"Ho so {code}: Da xu ly xong. Moi nhan ket qua tai Bo phan tra ket qua tu"
        f" {shown_time(ready_at)}, nho mang giay bien nhan."
    )

    # Her other dossier, handed in ten days ago, is late: registered now from the department's
    # records, she is told its lookup code and, with it, an apology that names no new date.
    old_received = now() - timedelta(days=10)
    old_due = now() - timedelta(days=1, hours=2)
    b = register(tuphap, 2, old_received, old_due)
    late_code, late_short = b["code"], b["short_code"]
    late_taken = push(tuphap, late_code, "b-4", 4, desk="Phòng Tài nguyên và Môi trường")
    lan.reads_together(
        f"{OFFICE} da tiep nhan ho so {late_code}. Hen tra ket qua: {shown_date(old_due)}. Tra"
        f" cuu: soan HS {late_short} gui so nay.",
        f"{OFFICE} xin loi ong/ba: ho so {late_code} chua co ket qua dung hen ngay"
        f" {shown_date(old_due)}. Moi thac mac xin lien he {HOTLINE}.",
    )

    # The department gives it a new appointment: the apology states the department's date.
    new_due = now() + timedelta(days=7)
    postponed_at = push(
        tuphap,
        late_code,
        "b-hen-lai",
        4,
        due_at=new_due.isoformat(),
        note="Chờ kết quả xác minh của Công an phường",
    )
    lan.reads(
        f"{OFFICE} xin loi ong/ba: ho so {late_code} chua the tra ket qua nhu da hen. Xin hen lai"
        f" ngay {shown_date(new_due)}. Ly do: Cho ket qua xac minh cua Cong an phuong. Mong"
        " ong/ba thong cam."
    )
    lan.send("TRA")
    lan.reads(
        f"Ho so cua ban: {short} (Da xu ly xong); {late_short} (Dang xu ly). Xem chi tiet: HS"
        " <ma ho so>."
    )

    # On the lookup page, with the secret printed on each receipt.
    assert page_text(stack, display_short_code(late_short), b["secret"], "late") == (
        "UBND phường Bến Nghé Tra cứu hồ sơ Theo dõi tiến độ giải quyết hồ sơ hành chính của bạn"
        f" Hồ sơ {late_code} Cấp bản sao trích lục hộ tịch Trạng thái: Đang xử lý"
        " Nơi tiếp nhận UBND phường Bến Nghé"
        f" Ngày nhận {shown_time(old_received)} Ngày hẹn trả {shown_date(new_due)}"
        f" Đổi ngày hẹn {shown_time(postponed_at)}: hẹn lại từ ngày {shown_date(old_due)} sang"
        f" ngày {shown_date(new_due)}. Lý do: Chờ kết quả xác minh của Công an phường"
        " Đang ở Phòng Tài nguyên và Môi trường"
        f" Quá trình giải quyết {shown_time(old_received)} Được tiếp nhận"
        f" {shown_time(late_taken)} Đang xử lý Nơi xử lý: Phòng Tài nguyên và Môi trường"
        " Tra cứu hồ sơ khác"
        " Hoặc nhắn tin HS <mã hồ sơ> <mã bí mật> gửi 0912 345 678."
        f" Đường dây hỗ trợ: {HOTLINE}"
    )
    assert page_text(stack, code, secret, "ready") == (
        "UBND phường Bến Nghé Tra cứu hồ sơ Theo dõi tiến độ giải quyết hồ sơ hành chính của bạn"
        f" Hồ sơ {code} Cấp bản sao trích lục hộ tịch Trạng thái: Đã xử lý xong"
        " Nơi tiếp nhận UBND phường Bến Nghé"
        f" Ngày nhận {shown_time(received)} Ngày hẹn trả {shown_date(due)}"
        " Nơi nhận kết quả Bộ phận trả kết quả"
        f" Kết quả đã sẵn sàng từ {shown_time(ready_at)}. Mời ông/bà mang giấy biên nhận đến"
        " Bộ phận trả kết quả để nhận."
        f" Quá trình giải quyết {shown_time(received)} Được tiếp nhận"
        f" {shown_time(taken)} Đang xử lý Nơi xử lý: Phòng Tư pháp"
        f" {shown_time(missing)} Yêu cầu bổ sung giấy tờ Nơi xử lý: Bộ phận một cửa"
        " Bản sao CCCD có chứng thực"
        f" {shown_time(brought)} Đang xử lý Nơi xử lý: Phòng Tư pháp"
        f" {shown_time(ready_at)} Đã xử lý xong Nơi xử lý: Bộ phận trả kết quả"
        " Tra cứu hồ sơ khác"
        " Hoặc nhắn tin HS <mã hồ sơ> <mã bí mật> gửi 0912 345 678."
        f" Đường dây hỗ trợ: {HOTLINE}"
    )

    # Nothing else reached either phone.
    assert lan.unread() == []
    assert husband.unread() == []
