"""What a modem could not do, what is waiting on its SIM, what its prepaid credit is: the codes a
modem service publishes with a modem's health, and the Vietnamese lines the pool page shows.

Pure: `modem_notes` turns the published fields (strings, as Redis holds them) into what a person
reads; thresholds were applied by the modem service, which knows the carrier's settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum

from gateway.core.modem_states import ModemState
from gateway.core.numbers import shown_number
from gateway.core.times import shown_time


class Limit(StrEnum):
    """Something a modem refused; the modem still works, with the consequence in `LABELS`."""

    NO_PDU = "no_pdu"  # AT+CMGF=0 refused: the modem cannot be used at all
    NO_CMEE = "no_cmee"  # AT+CMEE=1 refused: errors come without their code
    STORAGE_FIXED = "storage_fixed"  # no +CPMS form accepted: storage as the modem chose
    NO_INDICATIONS = "no_indications"  # no +CNMI accepted: storage is polled, no hints
    DIRECT_DELIVERY = "direct_delivery"  # received SMS come as +CMT, not stored
    REPORTS_DIRECT = "reports_direct"  # status reports come as +CDS only, not stored
    NO_REPORTS = "no_reports"  # no status reports at all
    NO_SIGNAL = "no_signal"  # AT+CSQ refused
    NO_REGISTRATION = "no_registration"  # AT+CREG? refused: registration taken from AT+COPS?
    NO_OPERATOR_NAME = "no_operator_name"  # AT+COPS=3,0 refused
    NO_HANGUP = "no_hangup"  # AT+CVHU=0 refused
    NO_STORAGE_COUNT = "no_storage_count"  # AT+CPMS? refused: SMS waiting on the SIM unknown
    NO_USSD = "no_ussd"  # AT+CUSD refused or unanswered: the balance cannot be read


LABELS: dict[str, str] = {
    Limit.NO_PDU: "Không hỗ trợ chế độ PDU: không dùng được modem này",
    Limit.NO_CMEE: "Không báo mã lỗi (AT+CMEE): lỗi gửi chỉ hiện là ERROR",
    Limit.STORAGE_FIXED: "Không chọn được bộ nhớ tin nhắn: dùng bộ nhớ mặc định của modem",
    Limit.NO_INDICATIONS: "Không báo tin mới (AT+CNMI): tin đến được đọc mỗi 2 giây",
    Limit.DIRECT_DELIVERY: "Tin đến được chuyển thẳng (+CMT), không lưu vào SIM: "
    "tin đến lúc dịch vụ modem dừng có thể mất",
    Limit.REPORTS_DIRECT: "Báo cáo gửi chỉ chuyển thẳng (+CDS): báo cáo đến lúc dịch vụ "
    "modem dừng bị mất",
    Limit.NO_REPORTS: "Không nhận báo cáo gửi: không biết tin đã đến máy người nhận chưa",
    Limit.NO_SIGNAL: "Không đọc được mức sóng (AT+CSQ)",
    Limit.NO_REGISTRATION: "Không đọc được trạng thái đăng ký mạng (AT+CREG?): suy ra từ nhà mạng",
    Limit.NO_OPERATOR_NAME: "Không đặt được tên nhà mạng dạng chữ (AT+COPS=3,0)",
    Limit.NO_HANGUP: "Không đặt được cách ngắt cuộc gọi (AT+CVHU=0)",
    Limit.NO_STORAGE_COUNT: "Không đếm được tin nhắn trên SIM (AT+CPMS?)",
    Limit.NO_USSD: "Không đọc được số dư qua USSD (AT+CUSD)",
}


def limit_label(code: str) -> str:
    return LABELS.get(code, code)


def parse_limits(value: str | None) -> tuple[str, ...]:
    """The codes of a published `limits` field ("no_cmee,no_reports")."""
    return tuple(code for code in (value or "").split(",") if code)


@dataclass(frozen=True, slots=True)
class ModemNotes:
    """What the pool page shows of a modem besides its state: all Vietnamese, times local."""

    limits: tuple[str, ...]  # labels of what the modem could not do
    sim_waiting: int  # SMS known to wait on the SIM, not yet taken in
    balance_vnd: int | None
    balance_text: str | None  # "12.345 đ"
    valid_until: str | None  # dd/mm/yyyy
    balance_read_at: str | None  # dd/mm/yyyy HH:MM
    warnings: tuple[str, ...]  # alarms a person must act on


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _day(value: str | None) -> str | None:
    try:
        return date.fromisoformat(value).strftime("%d/%m/%Y") if value else None
    except ValueError:
        return None


def _local(ms: str | None) -> str | None:
    stamp = _int(ms)
    if stamp is None:
        return None
    return shown_time(datetime.fromtimestamp(stamp / 1000, UTC))


def vnd_text(amount: int | None) -> str | None:
    """An amount of đồng as Vietnamese write it: 12.345 đ."""
    return None if amount is None else f"{shown_number(amount, 0)} đ"


def modem_notes(health: Mapping[str, str], balance: Mapping[str, str]) -> ModemNotes:
    """`health`: the modem's published health (may be empty: no report); `balance`: its last
    balance reading (may be empty: never read)."""
    waiting = _int(health.get("sim_waiting")) or 0
    state = health.get("state", "")
    warnings: list[str] = []
    if waiting and state != ModemState.UP:
        warnings.append(f"{waiting} tin nhắn đang chờ trên SIM của modem không hoạt động")
    if health.get("no_credit") == "1":
        warnings.append("SIM hết tiền: gửi bị từ chối, tin nhắn chuyển sang modem khác")
    elif balance.get("low") == "1":
        warnings.append("Số dư thấp: cần nạp tiền cho SIM")
    days = _int(balance.get("valid_days"))
    if balance.get("validity_low") == "1" and days is not None:
        warnings.append(f"SIM sắp hết hạn sử dụng (còn {max(days, 0)} ngày)")
    return ModemNotes(
        limits=tuple(limit_label(c) for c in parse_limits(health.get("limits"))),
        sim_waiting=waiting,
        balance_vnd=_int(balance.get("vnd")),
        balance_text=vnd_text(_int(balance.get("vnd"))),
        valid_until=_day(balance.get("valid_until")),
        balance_read_at=_local(balance.get("read_ms")),
        warnings=tuple(warnings),
    )
