"""Counter scans through the real app and Redis: handoffs, idempotency by (station, seq),
clear refusals, offline replays, and the handoff record."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
import redis
import zxingcpp
from flask import Flask
from PIL import Image, ImageDraw, ImageFont

from gateway.core.codes import short_code
from gateway.core.sms_text import strip_accents
from gateway.core.stations import Station
from gateway.receipts import fonts, qr
from gateway.receipts.layout import PAPERS
from gateway.store.credentials import ClientKind, Keyring
from gateway.store.stations import Stations
from scanner.spool import Spool
from scanner.station import CounterStation, Feedback
from scanner.uploader import HttpReply, StationInfo, Unreachable, Uploader
from tests.conftest import MASTER_KEY, Clock
from tests.factories import registration_body
from tests.integration.conftest import _client
from tests.signing import AppClient

SCANS = "/api/v1/scans"
CODE = "000.00.20.H57-240423-0001"
T = datetime(2024, 4, 23, 2, 0, tzinfo=UTC)


def scan(
    client: AppClient, station: str, seq: int, code: str, hours: float, staff: str | None = None
) -> dict[str, object]:
    body: dict[str, object] = {
        "station_id": station,
        "seq": seq,
        "code": code,
        "scanned_at": (T + timedelta(hours=hours)).isoformat(),
    }
    if staff is not None:
        body["staff"] = staff
    answer = client.post(SCANS, body)
    return {"status": answer.status, "body": answer.body}


@pytest.fixture
def stations(redis_client: redis.Redis) -> Stations:
    s = Stations(redis_client)
    s.save(Station("quay-1", "Bộ phận một cửa", "Quầy 1", allowed_hours=2))
    s.save(Station("tp-1", "Phòng Tư pháp", "Tư pháp", status=4, allowed_hours=24))
    s.save(Station("tra-kq", "Bộ phận trả kết quả", status=9))
    return s


@pytest.fixture
def quay(app: Flask, redis_client: redis.Redis, clock: Clock, stations: Stations) -> AppClient:
    return _client(app, redis_client, clock, ClientKind.STATION, "quay-1")


@pytest.fixture
def tuphap_station(
    app: Flask, redis_client: redis.Redis, clock: Clock, stations: Stations
) -> AppClient:
    return _client(app, redis_client, clock, ClientKind.STATION, "tp-1")


@pytest.fixture
def result_counter(
    app: Flask, redis_client: redis.Redis, clock: Clock, stations: Stations
) -> AppClient:
    return _client(app, redis_client, clock, ClientKind.STATION, "tra-kq")


@pytest.fixture
def registered(tuphap: AppClient) -> dict[str, str]:
    answer = tuphap.post("/api/v1/dossiers", registration_body(1))
    assert answer.status == 201
    return answer.body  # type: ignore[no-any-return]


def test_a_scan_hands_the_paper_to_the_stations_desk(
    quay: AppClient, registered: dict[str, str], tuphap: AppClient
) -> None:
    first = scan(quay, "quay-1", 1, registered["short_code"], 1, staff="Lan")
    assert first["status"] == 201
    assert first["body"]["holder"] == "Bộ phận một cửa"  # type: ignore[index]
    assert first["body"]["status"]["code"] == 2  # type: ignore[index]  # a handoff only
    read = tuphap.get(f"/api/v1/dossiers/{CODE}").body
    assert read["holder"] == "Bộ phận một cửa"


def test_the_same_station_and_seq_is_one_scan(quay: AppClient, registered: dict[str, str]) -> None:
    first = scan(quay, "quay-1", 7, registered["short_code"], 1)
    again = scan(quay, "quay-1", 7, registered["short_code"], 1)
    assert (first["status"], again["status"]) == (201, 200)
    assert first["body"] == again["body"]


def test_a_station_implies_a_status_and_sloppy_codes_are_understood(
    tuphap_station: AppClient, registered: dict[str, str]
) -> None:
    answer = scan(tuphap_station, "tp-1", 1, "0000020h572404230001", 2)
    assert answer["status"] == 201
    assert answer["body"]["status"] == {"code": 4, "label": "Đang xử lý"}  # type: ignore[index]


def test_clear_refusals_for_unknown_codes_forbidden_transitions_and_wrong_stations(
    quay: AppClient, result_counter: AppClient, registered: dict[str, str], tuphap: AppClient
) -> None:
    unknown = scan(quay, "quay-1", 2, "000.00.20.H57-240423-9999", 1)
    assert unknown["status"] == 404
    tuphap.post(
        f"/api/v1/dossiers/{CODE}/events",
        {"event_id": "e", "status": 5, "at": (T + timedelta(hours=1)).isoformat()},
    )
    forbidden = scan(result_counter, "tra-kq", 1, registered["short_code"], 2)  # 5 -> 9
    assert forbidden["status"] == 409
    assert forbidden["body"]["type"] == "/problems/invalid-transition"  # type: ignore[index]
    wrong = scan(quay, "tp-1", 3, registered["short_code"], 1)  # another station's id
    assert wrong["status"] == 422


def test_a_department_key_cannot_scan_and_a_station_key_cannot_read(
    tuphap: AppClient, quay: AppClient, registered: dict[str, str]
) -> None:
    assert scan(tuphap, "tuphap", 1, registered["short_code"], 1)["status"] == 401
    assert quay.get(f"/api/v1/dossiers/{CODE}").status == 401


def test_scans_replayed_after_an_outage_take_their_place_in_the_record_without_moving_the_holder(
    quay: AppClient, tuphap_station: AppClient, registered: dict[str, str], tuphap: AppClient
) -> None:
    short = registered["short_code"]
    # online: the justice desk scanned it at 05:00
    assert scan(tuphap_station, "tp-1", 1, short, 5, staff="Minh")["status"] == 201
    # the counter was offline: its 01:00 scan arrives now
    late = scan(quay, "quay-1", 1, short, 1, staff="Lan")
    assert late["status"] == 201
    assert late["body"]["current"] is False  # type: ignore[index]
    assert late["body"]["holder"] == "Phòng Tư pháp"  # type: ignore[index]
    record = tuphap.get(f"/api/v1/dossiers/{CODE}/handoffs").body["handoffs"]
    assert [(r["from_desk"], r["to_desk"], r["received_by"]) for r in record] == [
        (None, "Bộ phận một cửa", "Lan"),
        ("Bộ phận một cửa", "Phòng Tư pháp", "Minh"),
    ]
    assert record[1]["handed_over_by"] == "Lan"
    assert record[1]["hours_at_previous"] == 4.0
    assert record[1]["hours_allowed_at_previous"] == 2.0
    assert record[1]["late"] is True


def test_the_handoff_record_prints_as_a_page(
    quay: AppClient, tuphap_station: AppClient, registered: dict[str, str], tuphap: AppClient
) -> None:
    scan(quay, "quay-1", 1, registered["short_code"], 1, staff="Lan")
    scan(tuphap_station, "tp-1", 1, registered["short_code"], 2, staff="Minh")
    page = tuphap.get(f"/api/v1/dossiers/{CODE}/handoffs?format=html")
    assert page.status == 200
    assert "Phiếu kiểm soát quá trình giải quyết hồ sơ" in page.text
    assert "Phòng Tư pháp" in page.text
    assert "Minh" in page.text
    assert tuphap.get(f"/api/v1/dossiers/{CODE}/handoffs?format=pdf").status == 422


def test_a_stations_scans_are_idempotent_under_repeated_uploads(
    quay: AppClient, registered: dict[str, str], tuphap: AppClient
) -> None:
    for _ in range(3):
        for seq in range(1, 6):
            assert scan(quay, "quay-1", seq, registered["short_code"], seq)["status"] in (200, 201)
    history = tuphap.get(f"/api/v1/dossiers/{CODE}").body["history"]
    assert len([h for h in history if h["source"] == "station:quay-1"]) == 5


# -- what each scan did, as the gateway answers it -----------------------------------------------


def test_every_answer_says_whether_the_scan_moved_the_dossier(
    quay: AppClient,
    tuphap_station: AppClient,
    result_counter: AppClient,
    registered: dict[str, str],
    tuphap: AppClient,
) -> None:
    short = registered["short_code"]
    moved = scan(tuphap_station, "tp-1", 1, short, 5)
    assert (moved["status"], moved["body"]["outcome"]) == (201, "moved")  # type: ignore[index]
    again = scan(tuphap_station, "tp-1", 1, short, 5)  # the same upload again: the same answer
    assert (again["status"], again["body"]["outcome"]) == (200, "moved")  # type: ignore[index]
    late = scan(quay, "quay-1", 1, short, 1)  # scanned before the justice desk's scan
    assert (late["status"], late["body"]["outcome"]) == (201, "out-of-order")  # type: ignore[index]
    unknown = scan(quay, "quay-1", 2, "000.00.20.H57-240423-9999", 6)
    assert unknown["status"] == 404
    assert unknown["body"]["outcome"] == "unknown-dossier"  # type: ignore[index]
    tuphap.post(
        f"/api/v1/dossiers/{CODE}/events",
        {"event_id": "e5", "status": 5, "at": (T + timedelta(hours=6)).isoformat()},
    )
    refused = scan(result_counter, "tra-kq", 1, short, 7)  # 5 -> 9 is not a transition
    assert refused["status"] == 409
    assert refused["body"] == {  # the problem, with what it means for the scan
        "type": "/problems/invalid-transition",
        "title": "Status change not allowed",
        "status": 409,
        "detail": f"dossier {CODE}: status 5 cannot become 9",
        "outcome": "transition-refused",
        "dossier_status": {"code": 5, "label": "Yêu cầu bổ sung giấy tờ"},
        "station_status": {"code": 9, "label": "Đã xử lý xong"},
    }
    wrong = scan(quay, "tp-1", 3, short, 7)
    assert (wrong["status"], wrong["body"]["outcome"]) == (422, "not-this-station")  # type: ignore[index]
    history = tuphap.get(f"/api/v1/dossiers/{CODE}").body["history"]
    assert [h["source"] for h in history if h["source"].startswith("station:")] == [
        "station:tp-1",
        "station:quay-1",
    ]


def test_a_scan_dated_beyond_the_clock_skew_allowance_is_refused_and_later_scans_still_move(
    quay: AppClient, registered: dict[str, str], tuphap: AppClient, clock: Clock
) -> None:
    def scan_ahead(seq: int, seconds: float) -> dict[str, object]:
        at = datetime.fromtimestamp(clock(), UTC) + timedelta(seconds=seconds)
        body = {"station_id": "quay-1", "seq": seq, "code": registered["short_code"]}
        answer = quay.post(SCANS, body | {"scanned_at": at.isoformat()})
        return {"status": answer.status, "body": answer.body}

    months = scan_ahead(1, 90 * 86400)
    assert months["status"] == 422
    problem = months["body"]
    assert problem["type"] == "/problems/invalid-field"  # type: ignore[index]  # as for events
    assert problem["outcome"] == "time-in-future"  # type: ignore[index]
    assert problem["allowed_seconds"] == 300  # type: ignore[index]
    assert problem["detail"].startswith("scanned_at: ")  # type: ignore[index]
    assert "is in the future" in problem["detail"]  # type: ignore[index]
    assert "at most 300 s ahead is accepted" in problem["detail"]  # type: ignore[index]
    assert scan_ahead(2, 302)["status"] == 422  # the request itself takes a second
    read = tuphap.get(f"/api/v1/dossiers/{CODE}").body
    assert [h["source"] for h in read["history"]] == ["tuphap"]  # nothing recorded
    now = scan_ahead(3, 0)
    assert (now["status"], now["body"]["outcome"]) == (201, "moved")  # type: ignore[index]
    within = scan_ahead(4, 250)  # a clock a little ahead, within the allowance: accepted
    assert (within["status"], within["body"]["outcome"]) == (201, "moved")  # type: ignore[index]


def test_a_station_reads_the_desk_the_gateway_assigns_it(
    app: Flask,
    redis_client: redis.Redis,
    clock: Clock,
    tuphap_station: AppClient,
    tuphap: AppClient,
) -> None:
    assert tuphap_station.get("/api/v1/stations/me").body == {
        "station_id": "tp-1",
        "desk": "Phòng Tư pháp",
        "name": "Tư pháp",
        "status": {"code": 4, "label": "Đang xử lý"},
        "allowed_hours": 24,
        "configured": True,
    }
    stranger = _client(app, redis_client, clock, ClientKind.STATION, "quay-9")
    assert stranger.get("/api/v1/stations/me").body == {
        "station_id": "quay-9",
        "desk": "quay-9",
        "name": "",
        "status": None,
        "allowed_hours": None,
        "configured": False,
    }
    assert tuphap.get("/api/v1/stations/me").status == 401  # a department's key is not a station's


# -- the receipt handed over at the counter ------------------------------------------------------


def test_the_receipt_shows_when_the_dossier_was_received_and_apart_when_it_was_printed(
    tuphap: AppClient, clock: Clock
) -> None:
    """Received at 08:58, printed at 09:07 and again at 10:30: the paper says 08:58 both times."""
    received = datetime(2024, 4, 23, 1, 58, tzinfo=UTC)  # 08:58 in Hà Nội
    body = registration_body(1, received_at="2024-04-23T08:58:00+07:00")
    assert tuphap.post("/api/v1/dossiers", body).status == 201
    target = f"/api/v1/dossiers/{CODE}/receipt"
    payloads = []
    for printed, shown in (
        (received + timedelta(minutes=9), "23/04/2024 09:07"),
        (received + timedelta(hours=1, minutes=32), "23/04/2024 10:30"),
    ):
        clock.now = printed.timestamp() - 1  # the signed request moves the clock one second
        png = tuphap.client.get(target, headers=tuphap.signer.headers("GET", target, b""))
        assert png.status_code == 200
        payloads.append(qr_text(png.get_data()))
        assert qr.parse_payload(payloads[-1])["TGC"] == "2024-04-23T08:58+07:00"
        assert png_text_lines(png.get_data()) == {
            "Ngày nhận: 23/04/2024 08:58",
            f"In lúc: {shown}",
        }
        clock.now = printed.timestamp() - 1
        html = tuphap.get(target + "?format=html").text
        assert "Ngày nhận: 23/04/2024 08:58" in text_of(html)
        assert f"In lúc: {shown}" in text_of(html)
        clock.now = printed.timestamp() - 1
        svg = tuphap.get(target + "?format=svg").text
        assert "Ngày nhận: 23/04/2024 08:58" in text_of(svg)
        assert f"In lúc: {shown}" in text_of(svg)
    assert payloads[0] == payloads[1]  # a reprint carries the same QR code


def qr_text(png: bytes) -> str:
    """The QR code's text, as zxing-cpp reads it off the printed image."""
    image = Image.open(io.BytesIO(png)).convert("L")
    found = zxingcpp.read_barcodes(
        image, formats=zxingcpp.BarcodeFormats([zxingcpp.BarcodeFormat.QRCodeModel2])
    )
    assert len(found) == 1
    return str(found[0].text)


def text_of(markup: str) -> str:
    """The text a reader sees in HTML or SVG: one line per element's text, spaces collapsed."""
    parser = _Text()
    parser.feed(markup)
    return "\n".join(parser.lines)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self._skip = 0
        self._row = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("style", "title")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("style", "title")
        if tag in ("p", "tr", "text", "div") and self._row.strip():
            self.lines.append(" ".join(self._row.split()))
            self._row = ""

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._row += " " + data


def png_text_lines(png: bytes) -> set[str]:
    """The time lines found in the printed pixels of an 80 mm receipt: where a label ("Ngày
    nhận:", "In lúc:") is printed, every time of the morning of 23/04/2024 is drawn again after
    it, dot for dot, in the receipt's font, and compared with the whole printed line."""
    image = np.array(Image.open(io.BytesIO(png)).convert("1"), dtype=bool)
    width = image.shape[1]
    size = PAPERS[80].text_dots
    font, accented = fonts.font_of(size, False)  # the font the receipt is printed with
    assert isinstance(font, ImageFont.FreeTypeFont)
    ascent, descent = font.getmetrics()

    def ink(text: str) -> np.ndarray:
        line = Image.new("1", (width, ascent + descent), 1)
        draw = ImageDraw.Draw(line)
        draw.fontmode = "1"
        draw.text((0, 0), text if accented else strip_accents(text), font=font, fill=0)
        return np.array(line, dtype=bool)

    found: set[str] = set()
    for label in ("Ngày nhận:", "In lúc:"):
        head = ink(label)
        columns = int(font.getlength(label if accented else strip_accents(label)))
        rows = head.shape[0]
        tops = [
            y
            for y in range(image.shape[0] - rows)
            if np.array_equal(image[y : y + rows, :columns], head[:, :columns])
        ]
        assert len(tops) == 1, f"{label} printed once"
        printed = image[tops[0] : tops[0] + rows]
        for hour in range(7, 12):
            for minute in range(60):
                text = f"{label} 23/04/2024 {hour:02d}:{minute:02d}"
                if np.array_equal(printed, ink(text)):
                    found.add(text)
    return found


# -- the clerk's seat: the station's own loop and uploader against this app ------------------------


class AppTransport:
    """The station's HTTP, handed to the app in this process (Flask's test client)."""

    def __init__(self, app: Flask) -> None:
        self.client = app.test_client()

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> HttpReply:
        answer = self.client.post(urlsplit(url).path, data=body, headers=headers)
        return HttpReply(answer.status_code, answer.get_data())

    def get(self, url: str, headers: dict[str, str], timeout: float | None = None) -> HttpReply:
        answer = self.client.get(urlsplit(url).path, headers=headers)
        return HttpReply(answer.status_code, answer.get_data())


class Seat:
    """A counter station: its scans are made on the PC's clock, uploaded on the gateway's."""

    def __init__(
        self, app: Flask, redis_client: redis.Redis, clock: Clock, station_id: str, tmp: Path
    ) -> None:
        key = Keyring(redis_client, MASTER_KEY).create(
            ClientKind.STATION, station_id.removesuffix("-wrong"), datetime.now(UTC)
        )
        self.out = io.StringIO()
        self.pc_clock = Clock(clock())
        self.spool = Spool(tmp / f"{station_id}.sqlite3", station_id)
        feedback = Feedback(self.out)
        self.uploader = Uploader(
            self.spool,
            "http://gateway.invalid",
            key.key_id,
            key.secret,
            clock,
            transport=AppTransport(app),
            events=feedback,
        )
        self.station = CounterStation(self.spool, feedback, self.pc_clock)
        self.read = 0

    def scan(self, text: str, at: datetime | None = None) -> list[str]:
        """What the counter reads after scanning `text` (and the upload that follows)."""
        if at is not None:
            self.pc_clock.now = at.timestamp()
        self.station.handle(text)
        self.uploader.step()
        lines = self.out.getvalue().splitlines()
        new, self.read = lines[self.read :], len(lines)
        return new


def test_the_clerk_reads_in_vietnamese_what_each_scan_did(
    app: Flask,
    redis_client: redis.Redis,
    clock: Clock,
    stations: Stations,
    tuphap: AppClient,
    tmp_path: Path,
) -> None:
    nine = datetime(2024, 4, 23, 2, 0, tzinfo=UTC)  # 09:00 in Hà Nội
    clock.now = nine.timestamp()
    codes = [
        tuphap.post("/api/v1/dossiers", registration_body(n)).body["short_code"] for n in (1, 2, 3)
    ]
    one, two, three = codes
    clock.now = (nine + timedelta(minutes=20)).timestamp()  # the events below are past
    desk = "Bộ phận trả kết quả"
    tuphap.post(  # dossier 2: the result desk has it since 09:10
        f"/api/v1/dossiers/{code_of(2)}/events",
        {"event_id": "d2", "status": 9, "at": "2024-04-23T09:10:00+07:00", "desk": desk},
    )
    for event_id, status, at in (("d3a", 9, "09:01"), ("d3b", 10, "09:02")):  # 3: returned
        tuphap.post(
            f"/api/v1/dossiers/{code_of(3)}/events",
            {"event_id": event_id, "status": status, "at": f"2024-04-23T{at}:00+07:00"},
        )
    clock.now = (nine + timedelta(minutes=20)).timestamp()
    seat = Seat(app, redis_client, clock, "tp-1", tmp_path)

    assert seat.scan(one.lower(), nine + timedelta(minutes=15)) == [
        f"OK 1 {one} đã lưu tại quầy, đang gửi lên máy chủ.",
        f"DA_CHUYEN 1 {one}: hồ sơ đã đến Phòng Tư pháp, trạng thái: Đang xử lý.",
    ]
    assert seat.scan(f"http://127.0.0.1:8080/?ma={two}", nine + timedelta(minutes=5)) == [
        f"OK 2 {two} đã lưu tại quầy, đang gửi lên máy chủ.",
        f"KHONG_CHUYEN 2 {two}: đã ghi vào phiếu kiểm soát nhưng hồ sơ không chuyển, vì hồ sơ"
        " đã có cập nhật sau giờ quét (23/04/2024 09:05). Hồ sơ đang ở Bộ phận trả kết quả,"
        " trạng thái: Đã xử lý xong.",
    ]
    assert seat.scan(f"MHS:{code_of(3)}", nine + timedelta(minutes=16)) == [
        f"OK 3 {code_of(3)} đã lưu tại quầy, đang gửi lên máy chủ.",
        f"TU_CHOI 3 {code_of(3)}: hồ sơ không chuyển. Hồ sơ đang ở trạng thái Đã trả kết quả,"
        " không thể chuyển sang Đang xử lý tại quầy này.",
    ]
    assert seat.scan("TEN:CAP BAN SAO TRICH LUC HO TICH") == []  # the QR's other lines
    typo = three[:-1] + ("2" if three[-1] != "2" else "3")  # the check character is wrong
    assert seat.scan(typo) == [
        f"SAI {typo}: không phải mã hồ sơ. Hãy quét mã vạch hoặc mã QR trên giấy biên nhận."
    ]
    unknown = short_code(999_999)
    assert seat.scan(unknown, nine + timedelta(minutes=17)) == [
        f"OK 4 {unknown} đã lưu tại quầy, đang gửi lên máy chủ.",
        f"TU_CHOI 4 {unknown}: máy chủ không có hồ sơ mã này. Kiểm tra lại giấy biên nhận.",
    ]
    # The PC's clock runs an hour ahead: the scan is refused, not recorded as the future.
    assert seat.scan(two, nine + timedelta(hours=1, minutes=20)) == [
        f"OK 5 {two} đã lưu tại quầy, đang gửi lên máy chủ.",
        f"TU_CHOI 5 {two}: giờ quét 23/04/2024 10:20 đi trước giờ máy chủ hơn 300 giây, lượt"
        " quét không được ghi. Kiểm tra đồng hồ máy tính này.",
    ]
    assert seat.scan(one, nine + timedelta(minutes=18)) == [  # set right, scans move again
        f"OK 6 {one} đã lưu tại quầy, đang gửi lên máy chủ.",
        f"DA_CHUYEN 6 {one}: hồ sơ đã đến Phòng Tư pháp, trạng thái: Đang xử lý.",
    ]
    assert seat.scan(one) == [f"OK 6 {one} quét lặp lại, chỉ tính một lần."]
    wrong = Seat(app, redis_client, clock, "tp-1-wrong", tmp_path)  # tp-1's key, another id
    assert wrong.scan(one, nine + timedelta(minutes=19)) == [
        f"OK 1 {one} đã lưu tại quầy, đang gửi lên máy chủ.",
        f"TU_CHOI 1 {one}: khóa của máy này dành cho quầy khác, lượt quét không được ghi."
        " Báo quản trị viên.",
    ]


def code_of(n: int) -> str:
    return f"000.00.20.H57-240423-{n:04d}"


class LosingTransport(AppTransport):
    """Hands the scan to the app, then loses the answer (the connection drops on the way back)."""

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> HttpReply:
        super().post(url, body, headers)
        raise Unreachable("ConnectionResetError: the answer was lost")


def test_a_station_restarted_within_the_same_second_signs_nothing_twice(
    app: Flask,
    redis_client: redis.Redis,
    clock: Clock,
    stations: Stations,
    tuphap: AppClient,
    tmp_path: Path,
) -> None:
    """The gateway accepts a signature once: a restart in the second of the last request must
    neither be told its key is refused nor stop uploading."""
    short = tuphap.post("/api/v1/dossiers", registration_body(1)).body["short_code"]
    seat = Seat(app, redis_client, clock, "tp-1", tmp_path)
    clock.now = float(int(clock()))  # the whole story happens within this second
    assert seat.uploader.fetch_station().desk == "Phòng Tư pháp"
    seat.uploader.transport = LosingTransport(app)
    seat.station.handle(short)
    assert seat.uploader.step().failed  # recorded by the gateway; the answer never came back
    again = Uploader(  # the station restarted, in the same second
        seat.spool,
        "http://gateway.invalid",
        seat.uploader.key_id,
        seat.uploader.secret,
        clock,
        transport=AppTransport(app),
        events=seat.uploader.events,
    )
    assert again.fetch_station() == StationInfo("Phòng Tư pháp")
    assert again.step().sent == 1
    assert seat.out.getvalue().splitlines() == [
        f"OK 1 {short} đã lưu tại quầy, đang gửi lên máy chủ.",
        "MAT_KET_NOI Chưa gửi được lên máy chủ (1 lượt chờ gửi). Cứ tiếp tục quét: lượt quét"
        " được lưu tại quầy và sẽ gửi khi có kết nối.",
        f"DA_CHUYEN 1 {short}: hồ sơ đã đến Phòng Tư pháp, trạng thái: Đang xử lý.",
    ]
