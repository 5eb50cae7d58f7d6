"""A counter station (`hoso scanner`, reading codes on stdin) against a real `hoso gateway`: each
beeped scan becomes a handoff in the dossier's record, and the clerk reads, in Vietnamese, what
each scan did."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.core.codes import short_code
from gateway.core.times import shown_time
from gateway.core.tracking import tracking_url
from gateway.receipts import qr
from scanner.spool import Spool
from tests.e2e.conftest import Gateway, free_port
from tests.e2e.station import StationProcess, barcodes, receipt_png, station_env
from tests.factories import registration_body
from tests.signing import HttpClient


def test_scans_at_a_station_reach_the_handoff_record(gateway: Gateway, tmp_path: Path) -> None:
    tuphap = gateway.department("tuphap")
    created = tuphap.post("/api/v1/dossiers", registration_body(601)).body
    configured = gateway.hoso(
        "stations",
        "set",
        "tp-1",
        "--desk",
        "Phòng Tư pháp",
        "--status",
        "4",
        "--allowed-hours",
        "24",
    )
    assert configured.returncode == 0, configured.stderr
    env = station_env(gateway, "tp-1", tmp_path / "spool.sqlite3", HOSO_STATION_STAFF="Minh")
    station = StationProcess(env, tmp_path / "station.log")
    try:
        assert station.line().startswith("SAN_SANG Quầy tp-1 sẵn sàng. Bộ phận: Phòng Tư pháp")
        station.scan(created["short_code"].lower())  # as a 1D scanner reads it
        station.scan("not a code")
        short = created["short_code"]
        seen = {station.line(), station.line(), station.line()}
        assert seen == {
            f"OK 1 {short} đã lưu tại quầy, đang gửi lên máy chủ.",
            "SAI not a code: không phải mã hồ sơ. Hãy quét mã vạch hoặc mã QR trên giấy biên nhận.",
            f"DA_CHUYEN 1 {short}: hồ sơ đã đến Phòng Tư pháp, trạng thái: Đang xử lý.",
        }
        record = tuphap.get(f"/api/v1/dossiers/{created['code']}/handoffs").body["handoffs"]
        assert record[-1]["to_desk"] == "Phòng Tư pháp"
        assert record[-1]["received_by"] == "Minh"
        read = tuphap.get(f"/api/v1/dossiers/{created['code']}").body
        assert read["status"]["code"] == 4  # the station implies "processing"
        assert read["holder"] == "Phòng Tư pháp"
    finally:
        station.stop()


# -- the clerk's seat ------------------------------------------------------------------------------


def register(tuphap: HttpClient, n: int, received: datetime) -> dict[str, str]:
    body = registration_body(
        n,
        received_at=received.isoformat(),
        due_at=(received + timedelta(days=3)).isoformat(),
    )
    answer = tuphap.post("/api/v1/dossiers", body)
    assert answer.status == 201, answer.text
    return answer.body  # type: ignore[no-any-return]


def event(
    tuphap: HttpClient, code: str, event_id: str, status: int, at: datetime, **more: str
) -> None:
    body = {"event_id": event_id, "status": status, "at": at.isoformat(), **more}
    answer = tuphap.post(f"/api/v1/dossiers/{code}/events", body)
    assert answer.status == 201, answer.text


def test_the_clerk_reads_what_each_scan_did(gateway: Gateway, tmp_path: Path) -> None:
    """The clerk scans receipts and codes in every form a receipt prints, and some that do not
    move the dossier; each line the station prints is read in full."""
    tuphap = gateway.department("tuphap")
    configured = gateway.hoso("stations", "set", "tp-2", "--desk", "Phòng Tư pháp", "--status", "4")
    assert configured.returncode == 0, configured.stderr
    now = datetime.now(UTC).replace(microsecond=0)
    received = now - timedelta(hours=1)
    d = {n: register(tuphap, n, received) for n in range(701, 708)}
    html = tuphap.get(f"/api/v1/dossiers/{d[701]['code']}/receipt?format=html").text
    assert f"<th>Ngày nhận:</th><td>{shown_time(received)}</td>" in html  # not the print time
    printed_a = barcodes(receipt_png(tuphap, d[701]["code"]))
    printed_b = barcodes(receipt_png(tuphap, d[702]["code"]))
    printed_d = barcodes(receipt_png(tuphap, d[704]["code"]))
    assert printed_a["Code128"] == d[701]["short_code"]
    url_d = qr.parse_payload(printed_d["QR"])["URL"]  # the receipt's URL: the short code
    assert url_d.endswith(f"/?ma={d[704]['short_code']}")
    url_e = tracking_url(url_d.partition("/?")[0], d[705]["code"])  # the same, full code
    event(tuphap, d[706]["code"], "f9", 9, now - timedelta(minutes=10))
    event(tuphap, d[706]["code"], "f10", 10, now - timedelta(minutes=5))

    spool = tmp_path / "spool.sqlite3"
    env = station_env(gateway, "tp-2", spool, HOSO_STATION_DEBOUNCE_SECONDS="600")
    station = StationProcess(env, tmp_path / "station.log")
    moved = "hồ sơ đã đến Phòng Tư pháp, trạng thái: Đang xử lý."
    try:
        assert station.line() == (
            "SAN_SANG Quầy tp-2 sẵn sàng. Bộ phận: Phòng Tư pháp (theo máy chủ)."
            " Nguồn quét: stdin. Chờ gửi: 0 lượt quét."
        )
        a = d[701]["short_code"]
        station.scan(printed_a["Code128"])  # the Code128 under the bars
        assert station.line() == f"OK 1 {a} đã lưu tại quầy, đang gửi lên máy chủ."
        assert station.line() == f"DA_CHUYEN 1 {a}: {moved}"

        b = d[702]["code"]
        station.scan(printed_b["QR"])  # a 2D scanner typing the QR payload, line by line
        assert station.line() == f"OK 2 {b} đã lưu tại quầy, đang gửi lên máy chủ."
        assert station.line() == f"DA_CHUYEN 2 {b}: {moved}"

        c = d[703]["code"]
        station.scan(c.lower())  # the full code typed
        assert station.line() == f"OK 3 {c} đã lưu tại quầy, đang gửi lên máy chủ."
        assert station.line() == f"DA_CHUYEN 3 {c}: {moved}"

        station.scan(url_d)  # the tracking URL as the receipt prints it
        short_d = d[704]["short_code"]
        assert station.line() == f"OK 4 {short_d} đã lưu tại quầy, đang gửi lên máy chủ."
        assert station.line() == f"DA_CHUYEN 4 {short_d}: {moved}"

        e = d[705]["code"]
        station.scan(url_e)  # the tracking URL with the full code
        assert station.line() == f"OK 5 {e} đã lưu tại quầy, đang gửi lên máy chủ."
        assert station.line() == f"DA_CHUYEN 5 {e}: {moved}"
        station.scan(url_e)
        assert station.line() == f"OK 5 {e} quét lặp lại, chỉ tính một lần."

        typo = a[:-1] + ("2" if a[-1] != "2" else "3")
        station.scan(typo)  # a short code typed with a wrong check character
        assert station.line() == (
            f"SAI {typo}: không phải mã hồ sơ. Hãy quét mã vạch hoặc mã QR trên giấy biên nhận."
        )

        unknown = short_code(999_999)  # a well-formed code no dossier has
        station.scan(unknown)
        assert station.line() == f"OK 6 {unknown} đã lưu tại quầy, đang gửi lên máy chủ."
        assert station.line() == (
            f"TU_CHOI 6 {unknown}: máy chủ không có hồ sơ mã này. Kiểm tra lại giấy biên nhận."
        )

        f = d[706]["short_code"]
        station.scan(f)  # already handed back to the citizen: it cannot be "processing" again
        assert station.line() == f"OK 7 {f} đã lưu tại quầy, đang gửi lên máy chủ."
        assert station.line() == (
            f"TU_CHOI 7 {f}: hồ sơ không chuyển. Hồ sơ đang ở trạng thái Đã trả kết quả, không"
            " thể chuyển sang Đang xử lý tại quầy này."
        )

        g = d[707]["short_code"]  # the department's news is a minute and a half ahead of the scan
        event(
            tuphap,
            d[707]["code"],
            "g4",
            4,
            datetime.now(UTC) + timedelta(seconds=90),
            desk="Bộ phận một cửa",
        )
        before = datetime.now(UTC)
        station.scan(g)
        assert station.line() == f"OK 8 {g} đã lưu tại quầy, đang gửi lên máy chủ."
        late = station.line()
        after = datetime.now(UTC)
        assert late in {
            f"KHONG_CHUYEN 8 {g}: đã ghi vào phiếu kiểm soát nhưng hồ sơ không chuyển, vì hồ sơ"
            f" đã có cập nhật sau giờ quét ({shown_time(t)}). Hồ sơ đang ở Bộ phận một cửa,"
            " trạng thái: Đang xử lý."
            for t in (before, after)
        }
    finally:
        station.stop()

    # Scanned while the PC's clock was an hour ahead (set right since): refused on upload.
    ahead = now + timedelta(hours=1)
    kept = Spool(spool, "tp-2")
    kept.add(a, ahead)
    kept.close()
    before = datetime.now(UTC)
    station = StationProcess(env, tmp_path / "station.log")
    try:
        assert station.line() == (
            "SAN_SANG Quầy tp-2 sẵn sàng. Bộ phận: Phòng Tư pháp (theo máy chủ)."
            " Nguồn quét: stdin. Chờ gửi: 1 lượt quét."
        )
        assert station.line() == (
            f"TU_CHOI 9 {a}: giờ quét {shown_time(ahead)} đi trước giờ máy chủ hơn 300 giây,"
            " lượt quét không được ghi. Kiểm tra đồng hồ máy tính này."
        )
    finally:
        station.stop()
    after = datetime.now(UTC)

    # The gateway cannot be reached: the desk it said last time, and that it is not now.
    offline = env | {
        "HOSO_STATION_GATEWAY_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "HOSO_STATION_DEBOUNCE_SECONDS": "1.5",
    }
    station = StationProcess(offline, tmp_path / "station.log")
    try:
        assert station.line() in {
            f"SAN_SANG Quầy tp-2 sẵn sàng. Bộ phận: Phòng Tư pháp (theo lần kết nối trước, lúc"
            f" {shown_time(t)}; chưa kết nối được máy chủ). Nguồn quét: stdin. Chờ gửi: 0 lượt"
            " quét."
            for t in (before, after)
        }
        short_c = d[703]["short_code"]
        station.scan(short_c)
        assert station.line() == f"OK 10 {short_c} đã lưu tại quầy, đang gửi lên máy chủ."
        assert station.line() == (
            "MAT_KET_NOI Chưa gửi được lên máy chủ (1 lượt chờ gửi). Cứ tiếp tục quét: lượt quét"
            " được lưu tại quầy và sẽ gửi khi có kết nối."
        )
    finally:
        station.stop()
    history = tuphap.get(f"/api/v1/dossiers/{d[701]['code']}").body["history"]
    assert [h["source"] for h in history] == ["tuphap", "station:tp-2"]  # the future scan: not
