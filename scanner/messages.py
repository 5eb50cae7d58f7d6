"""Every line the station prints for the counter staff: Vietnamese, one line per event, after a
stable machine word (for the journal and for scripts). Times are local, dd/mm/yyyy HH:MM.

    SAN_SANG      started: the desk (bộ phận) the gateway has the station stand for, or the one it
                  said last time when it cannot be asked now
    OK            a scan is saved at the station (before the beep) and will be uploaded
    SAI           not a dossier code: nothing saved
    DA_CHUYEN     the gateway recorded the scan: the dossier is now at the station's desk
    KHONG_CHUYEN  recorded in the handoff record, but the dossier did not move (it has a later
                  event than the scan)
    TU_CHOI       the gateway refused the scan, for the reason given; nothing recorded
    MAT_KET_NOI   the gateway cannot be reached; scans go on being saved
    CO_KET_NOI    the gateway answers again
    LOI_KHOA      the gateway refused the station's key; uploads stop, scans are kept

Each function gives the line and how many times the bell rings with it.
"""

from __future__ import annotations

from datetime import datetime

from gateway.core.times import shown_time
from scanner.spool import SpooledScan
from scanner.uploader import ScanVerdict

MAX_SHOWN = 40  # characters of a refused text shown back

Line = tuple[str, int]  # (text, rings)


def ready(
    station_id: str,
    source: str,
    waiting: int,
    desk_now: str | None,
    last: tuple[str, datetime] | None,
    key_refused: bool = False,
) -> Line:
    if desk_now is not None:
        desk = f"{desk_now} (theo máy chủ)"
    else:
        why = "máy chủ từ chối khóa của quầy" if key_refused else "chưa kết nối được máy chủ"
        if last is None:
            desk = f"chưa biết ({why})"
        else:
            desk = f"{last[0]} (theo lần kết nối trước, lúc {shown_time(last[1])}; {why})"
    return (
        f"SAN_SANG Quầy {station_id} sẵn sàng. Bộ phận: {desk}. Nguồn quét: {source}."
        f" Chờ gửi: {waiting} lượt quét.",
        0,
    )


def recorded(scan: SpooledScan, *, repeat: bool, offline: bool, waiting: int) -> Line:
    head = f"OK {scan.seq} {scan.code}"
    if repeat:
        return f"{head} quét lặp lại, chỉ tính một lần.", 1
    if offline:
        return (
            f"{head} đã lưu tại quầy; chưa gửi được lên máy chủ, sẽ gửi sau"
            f" ({waiting} lượt chờ gửi).",
            1,
        )
    return f"{head} đã lưu tại quầy, đang gửi lên máy chủ.", 1


def not_a_code(text: str) -> Line:
    shown = text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."
    return (
        f"SAI {shown}: không phải mã hồ sơ. Hãy quét mã vạch hoặc mã QR trên giấy biên nhận.",
        3,
    )


def verdict(scan: SpooledScan, v: ScanVerdict) -> Line:
    """What the gateway did with the scan, and if the dossier did not move, why."""
    head = f"{scan.seq} {scan.code}"
    status = v.status_label()
    state = f", trạng thái: {status}" if status else ""
    if v.recorded and v.outcome != "out-of-order":
        desk = v.text("desk") or v.text("holder")
        if not desk:
            return f"DA_CHUYEN {head}: máy chủ đã ghi nhận lượt quét.", 0
        return f"DA_CHUYEN {head}: hồ sơ đã đến {desk}{state}.", 0
    if v.recorded:
        holder = v.text("holder")
        where = f"Hồ sơ đang ở {holder}{state}." if holder else f"Trạng thái hồ sơ: {status}."
        return (
            f"KHONG_CHUYEN {head}: đã ghi vào phiếu kiểm soát nhưng hồ sơ không chuyển, vì hồ sơ"
            f" đã có cập nhật sau giờ quét ({shown_time(_scanned(scan))}). {where}",
            2,
        )
    return f"TU_CHOI {head}: {_refusal(scan, v)}", 3


def offline(waiting: int) -> Line:
    return (
        f"MAT_KET_NOI Chưa gửi được lên máy chủ ({waiting} lượt chờ gửi). Cứ tiếp tục quét:"
        " lượt quét được lưu tại quầy và sẽ gửi khi có kết nối.",
        0,
    )


def online(waiting: int) -> Line:
    return f"CO_KET_NOI Đã kết nối lại máy chủ, còn {waiting} lượt chờ gửi.", 0


def key_refused() -> Line:
    return (
        "LOI_KHOA Máy chủ từ chối khóa của quầy (khóa sai hoặc đã thu hồi, hoặc đồng hồ máy tính"
        " lệch quá nhiều). Đã ngừng gửi; lượt quét vẫn được lưu tại quầy. Báo quản trị viên,"
        " sửa xong thì khởi động lại quầy.",
        3,
    )


def _refusal(scan: SpooledScan, v: ScanVerdict) -> str:
    not_recorded = "lượt quét không được ghi"
    if v.outcome == "transition-refused":
        now, wanted = v.status_label("dossier_status"), v.status_label("station_status")
        if now and wanted:
            return (
                f"hồ sơ không chuyển. Hồ sơ đang ở trạng thái {now}, không thể chuyển sang"
                f" {wanted} tại quầy này."
            )
        return "hồ sơ không chuyển: trạng thái của hồ sơ không cho phép nhận tại quầy này."
    if v.outcome == "unknown-dossier":
        return "máy chủ không có hồ sơ mã này. Kiểm tra lại giấy biên nhận."
    if v.outcome == "time-in-future":
        allowed = v.answer.get("allowed_seconds")
        by = f"hơn {allowed} giây" if isinstance(allowed, int) else "quá nhiều"
        return (
            f"giờ quét {shown_time(_scanned(scan))} đi trước giờ máy chủ {by}, {not_recorded}."
            " Kiểm tra đồng hồ máy tính này."
        )
    if v.outcome == "not-this-station":
        return f"khóa của máy này dành cho quầy khác, {not_recorded}. Báo quản trị viên."
    return f"máy chủ từ chối (HTTP {v.http_status}), {not_recorded}. Báo quản trị viên."


def _scanned(scan: SpooledScan) -> datetime:
    return datetime.fromisoformat(scan.scanned_at)
