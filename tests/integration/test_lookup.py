"""The citizen lookup page "Tra cứu hồ sơ" through the real app and a real Redis: the timeline
only with the right secret, one neutral page otherwise, sloppy and short codes, photos, and the
rate limit per address."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from typing import Any

import redis
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import FileStorage

from gateway.core.codes import display_short_code
from gateway.http.lookup import LOOKUPS_PER_MINUTE
from gateway.receipts import render_receipt
from gateway.store.dossiers import DossierStore
from tests.conftest import Clock
from tests.factories import event_body, registration_body
from tests.signing import AppClient

CODE = "000.00.20.H57-240423-0001"
SLOPPY = "ooo 00 20 h57 240423 OOO1"
NAME = "Trần Thị Canary"
PHONE = "0987650123"
NOTE = "Thiếu bản sao CCCD-canary"
BEFORE_DUE = datetime(2024, 4, 25, 3, 0, tzinfo=UTC).timestamp()  # 25/04 10:00 in Vietnam
AFTER_DUE = datetime(2024, 4, 29, 3, 0, tzinfo=UTC).timestamp()


def register(department: AppClient, n: int = 1, **overrides: Any) -> dict[str, Any]:
    body = registration_body(n, applicant_name=NAME, phones=[PHONE], **overrides)
    answer = department.post("/api/v1/dossiers", body)
    assert answer.status == 201, answer.text
    return dict(answer.body)


def push(department: AppClient, code: str, event: dict[str, Any]) -> None:
    answer = department.post(f"/api/v1/dossiers/{code}/events", event)
    assert answer.status == 201, answer.text


def moved_along(department: AppClient) -> dict[str, Any]:
    """A dossier received at the one-stop desk, processed, sent back for a missing paper."""
    made = register(department)
    push(department, CODE, event_body("a", 2, minutes=30, desk="Bộ phận một cửa"))
    push(department, CODE, event_body("b", 4, minutes=120, desk="Phòng Tư pháp"))
    push(department, CODE, event_body("c", 4, minutes=180, desk="Lãnh đạo UBND"))
    push(department, CODE, event_body("d", 5, minutes=240, desk="Phòng Tư pháp", note=NOTE))
    return made


def look_up(
    web: FlaskClient,
    code: str,
    secret: str | None = None,
    address: str = "127.0.0.1",
    **files: Any,
) -> Any:
    form: dict[str, Any] = {"ma": code, **files}
    if secret is not None:
        form["bi_mat"] = secret
    return web.post(
        "/",
        data=form,
        content_type="multipart/form-data",
        environ_base={"REMOTE_ADDR": address},
    )


def text_of(html: str) -> str:
    """The page's visible words, spaces folded (enough to read the timeline in order)."""
    without_script = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", without_script).split())


def assert_no_canary(html: str, secret: str) -> None:
    for leak in (NAME, PHONE, PHONE[1:], NOTE, "Phòng Tư pháp", "Lãnh đạo", secret):
        assert leak not in html


def test_the_form_is_vietnamese_accessible_and_takes_a_photo(app: Flask) -> None:
    page = app.test_client().get("/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    assert '<html lang="vi">' in html
    assert "<title>Tra cứu hồ sơ</title>" in html
    for field, label in (("ma", "Mã hồ sơ"), ("bi_mat", "Mã bí mật")):
        assert f'<label for="{field}">{label}</label>' in html
        assert f'id="{field}" name="{field}"' in html
    assert 'type="file" accept="image/*" capture="environment"' in html
    assert 'enctype="multipart/form-data"' in html
    assert "/api/v1/decode" in html
    assert 'name="viewport"' in html
    css = app.test_client().get("/static/lookup/lookup.css")
    assert (css.status_code, css.mimetype) == (200, "text/css")
    css.close()


def test_the_receipts_tracking_link_fills_the_code_in(app: Flask) -> None:
    html = app.test_client().get("/?ma=K7M2-QX4").get_data(as_text=True)
    assert 'value="K7M2-QX4"' in html
    assert "Không tìm thấy" not in html  # a link is not a lookup


def test_the_right_secret_shows_the_timeline_with_dates_and_desks(
    app: Flask, tuphap: AppClient, clock: Clock
) -> None:
    made = moved_along(tuphap)
    clock.now = BEFORE_DUE
    page = look_up(app.test_client(), CODE, made["secret"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    words = text_of(html)
    assert f"Hồ sơ {CODE}" in words
    assert "Cấp bản sao trích lục hộ tịch" in words
    assert "Trạng thái: Yêu cầu bổ sung giấy tờ" in words
    assert "Ngày nhận 23/04/2024 08:30" in words
    assert "Ngày hẹn trả 26/04/2024" in words
    assert "Quá hạn" not in words
    steps = words[words.index("Quá trình giải quyết") :]
    expected = [
        "23/04/2024 08:30 Được tiếp nhận",  # registered with status 2 at received_at
        "23/04/2024 09:00 Chuyển đến Bộ phận một cửa 23/04/2024",
        "23/04/2024 10:30 Đang xử lý Nơi xử lý: Phòng Tư pháp",
        "23/04/2024 11:30 Chuyển đến Lãnh đạo UBND 23/04/2024",
        f"23/04/2024 12:30 Yêu cầu bổ sung giấy tờ Nơi xử lý: Phòng Tư pháp {NOTE}",
    ]
    positions = [steps.index(line) for line in expected]
    assert positions == sorted(positions)
    assert NAME not in html  # the applicant's name and phone are not needed to follow progress
    assert PHONE[1:] not in html


def test_past_the_appointment_date_the_dossier_reads_overdue(
    app: Flask, tuphap: AppClient, clock: Clock
) -> None:
    made = moved_along(tuphap)
    clock.now = AFTER_DUE
    words = text_of(look_up(app.test_client(), CODE, made["secret"]).get_data(as_text=True))
    assert "Ngày hẹn trả 26/04/2024 Quá hạn" in words
    assert (  # an apology and whom to ask; never a new date nobody set
        "Hồ sơ chưa có kết quả đúng ngày hẹn trả 26/04/2024. Mong ông/bà thông cảm; mọi thắc"
        " mắc xin liên hệ Bộ phận một cửa."
    ) in words
    assert "Đổi ngày hẹn" not in words


def test_a_new_appointment_is_the_one_shown_with_how_it_changed(
    app: Flask, tuphap: AppClient, clock: Clock
) -> None:
    made = moved_along(tuphap)
    postponed = event_body(
        "e", 5, minutes=300, due_at="2024-05-03T17:00:00+07:00", note="Chờ kết quả xác minh"
    )
    push(tuphap, CODE, postponed)
    clock.now = AFTER_DUE  # past the first appointment, before the new one
    words = text_of(look_up(app.test_client(), CODE, made["secret"]).get_data(as_text=True))
    assert "Ngày hẹn trả 03/05/2024 Đổi ngày hẹn" in words
    assert (
        "23/04/2024 13:30: hẹn lại từ ngày 26/04/2024 sang ngày 03/05/2024. Lý do: Chờ kết quả"
        " xác minh"
    ) in words
    assert "Quá hạn" not in words
    assert "Mong ông/bà thông cảm" not in words


def test_a_settled_dossier_is_never_overdue(app: Flask, tuphap: AppClient, clock: Clock) -> None:
    made = register(tuphap)
    push(tuphap, CODE, event_body("a", 4, minutes=30, desk="Phòng Tư pháp"))
    push(tuphap, CODE, event_body("b", 9, minutes=90, desk="Bộ phận một cửa"))
    clock.now = AFTER_DUE
    words = text_of(look_up(app.test_client(), CODE, made["secret"]).get_data(as_text=True))
    assert "Trạng thái: Đã xử lý xong" in words
    assert "Quá hạn" not in words


def test_unknown_code_and_wrong_secret_get_the_same_page(app: Flask, tuphap: AppClient) -> None:
    web = app.test_client()
    unknown = look_up(web, SLOPPY, "ABCDEFGH")  # before the dossier exists
    made = moved_along(tuphap)
    wrong = look_up(web, SLOPPY, "ABCDEFGH")
    last = "Z" if made["secret"][-1] != "Z" else "Y"  # one character off, never the secret
    almost = look_up(web, SLOPPY, made["secret"][:-1] + last)
    pages = [p.get_data() for p in (unknown, wrong, almost)]
    assert all(p.status_code == 200 for p in (unknown, wrong, almost))
    assert len(set(pages)) == 1
    html = pages[0].decode()
    assert "Không tìm thấy thông tin hồ sơ." in html
    assert f'value="{SLOPPY}"' in html  # the code typed is echoed back; the secret is not
    assert 'id="bi_mat" name="bi_mat" type="text" maxlength="64"' in html
    assert_no_canary(html, made["secret"])
    assert CODE not in html
    assert made["short_code"] not in html


def test_without_a_secret_the_page_asks_for_it_whether_or_not_the_code_exists(
    app: Flask, tuphap: AppClient
) -> None:
    web = app.test_client()
    before = [look_up(web, SLOPPY), look_up(web, SLOPPY, ""), look_up(web, SLOPPY, " - ")]
    made = moved_along(tuphap)
    after = [look_up(web, SLOPPY), look_up(web, SLOPPY, ""), look_up(web, SLOPPY, " - ")]
    pages = {p.get_data() for p in before + after}
    assert len(pages) == 1
    html = pages.pop().decode()
    words = text_of(html)
    assert "Cần nhập mã bí mật để xem hồ sơ." in words
    assert "Mã bí mật gồm 8 ký tự, in trên giấy biên nhận ở dòng “Mã bí mật”." in words
    assert "Không tìm thấy" not in words
    assert "autofocus" in html
    assert_no_canary(html, made["secret"])


def test_a_mistyped_code_is_said_to_be_wrong_without_looking_it_up(
    app: Flask, tuphap: AppClient, redis_client: redis.Redis
) -> None:
    made = moved_along(tuphap)
    short = made["short_code"]
    wrong_check = short[:-1] + ("0" if short[-1] != "0" else "1")
    web = app.test_client()
    for typo in (wrong_check, "PAZCGM7", CODE[:-1] + "A", "12345"):
        before = redis_client.info("commandstats")
        html = look_up(web, typo, made["secret"]).get_data(as_text=True)
        after = redis_client.info("commandstats")
        words = text_of(html)
        assert "Mã hồ sơ không đúng." in words, typo
        assert "Vui lòng kiểm tra lại trên giấy biên nhận" in words
        assert "Trạng thái" not in words
        assert "cmdstat_evalsha" not in after or after["cmdstat_evalsha"] == before.get(
            "cmdstat_evalsha"
        ), typo  # only the rate counter: nothing about any dossier was read
    assert "Vui lòng nhập mã hồ sơ" in look_up(web, "", made["secret"]).get_data(as_text=True)


def test_a_ready_result_says_where_to_fetch_it_and_since_when(
    app: Flask, tuphap: AppClient, clock: Clock
) -> None:
    made = register(tuphap)
    push(tuphap, CODE, event_body("a", 4, minutes=30, desk="Phòng Tư pháp"))
    push(tuphap, CODE, event_body("b", 9, minutes=90, desk="Bộ phận trả kết quả"))
    clock.now = BEFORE_DUE
    words = text_of(look_up(app.test_client(), CODE, made["secret"]).get_data(as_text=True))
    assert "Nơi nhận kết quả Bộ phận trả kết quả" in words
    assert (
        "Kết quả đã sẵn sàng từ 23/04/2024 10:00. Mời ông/bà mang giấy biên nhận đến "
        "Bộ phận trả kết quả để nhận." in words
    )
    assert "Đang ở" not in words


def test_the_neutral_page_differs_only_by_the_code_typed(app: Flask, tuphap: AppClient) -> None:
    made = register(tuphap)
    web = app.test_client()
    known = look_up(web, CODE, "ABCDEFGH").get_data(as_text=True)
    unknown = look_up(web, "000.00.20.H57-240423-0999", "ABCDEFGH").get_data(as_text=True)
    assert known.replace(CODE, "X") == unknown.replace("000.00.20.H57-240423-0999", "X")
    assert_no_canary(known, made["secret"])


def test_sloppy_codes_short_codes_and_sloppy_secrets_work(
    app: Flask, tuphap: AppClient, clock: Clock
) -> None:
    made = moved_along(tuphap)
    clock.now = BEFORE_DUE
    web = app.test_client()
    short = made["short_code"]
    secret = made["secret"]
    for typed, given in [
        (SLOPPY, secret),
        ("000002 0h57240423 0001", secret),
        (short, secret),
        (display_short_code(short).lower(), f" {secret[:4].lower()} {secret[4:]} "),
        (f"  {short.lower()}  ", f"{secret[:4]}-{secret[4:]}"),
    ]:
        html = look_up(web, typed, given).get_data(as_text=True)
        assert "Trạng thái: Yêu cầu bổ sung giấy tờ" in text_of(html), typed


def test_a_photo_of_the_receipt_works_without_javascript(
    app: Flask, tuphap: AppClient, redis_client: redis.Redis, clock: Clock
) -> None:
    made = moved_along(tuphap)
    clock.now = BEFORE_DUE
    dossier = DossierStore(redis_client).get(CODE)
    png = render_receipt(
        dossier,
        width_mm=58,
        tracking_url=f"https://hoso.example.vn/?ma={dossier.short_code}",
        office="UBND xã Hòa Bình",
        printed_at=datetime(2024, 4, 23, 1, 30, tzinfo=UTC),
    ).png()
    web = app.test_client()
    photo = FileStorage(stream=io.BytesIO(png), filename="bien-nhan.png")
    html = look_up(web, "", made["secret"], anh=photo).get_data(as_text=True)
    assert "Trạng thái: Yêu cầu bổ sung giấy tờ" in text_of(html)
    junk = FileStorage(stream=io.BytesIO(b"not an image"), filename="x.jpg")
    html = look_up(web, "", made["secret"], anh=junk).get_data(as_text=True)
    assert "Không đọc được mã trên ảnh." in html
    assert "Không tìm thấy" not in html


def test_too_many_lookups_from_one_address_get_429_in_vietnamese(
    app: Flask, tuphap: AppClient, clock: Clock
) -> None:
    made = register(tuphap)
    clock.now = float(int(BEFORE_DUE) // 60 * 60)  # the start of a minute
    web = app.test_client()
    for _ in range(LOOKUPS_PER_MINUTE):
        assert look_up(web, CODE, "ABCDEFGH").status_code == 200
    limited = look_up(web, CODE, made["secret"])  # even the right secret waits
    html = limited.get_data(as_text=True)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "60"
    assert limited.mimetype == "text/html"
    assert "Bạn đã tra cứu quá nhiều lần trong một phút." in html
    assert "Yêu cầu bổ sung" not in html
    assert (
        look_up(web, CODE, made["secret"], "10.0.0.7").status_code == 200
    )  # another address is not held
    assert web.get("/").status_code == 200  # the form itself is never limited
    clock.advance(60)
    assert look_up(web, CODE, made["secret"]).status_code == 200
