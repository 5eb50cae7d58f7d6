"""What the pool page says of a SIM's state and of a modem's last error, in Vietnamese.

Modems answer in the words of 3GPP TS 27.007 (+CPIN: READY, SIM PIN...) and TS 27.005 (+CMS
ERROR: <code>), and our own services in English technical terms: the administrator reads a
Vietnamese sentence, with the modem's own words kept beside it (small) for a report to the
vendor or the carrier.
"""

from __future__ import annotations

import re

# +CPIN? answers (TS 27.007 §8.3) and the two states the modem service infers.
SIM_STATES: dict[str, str] = {
    "READY": "Sẵn sàng",
    "SIM PIN": "Cần mã PIN",
    "SIM PUK": "SIM bị khoá: cần mã PUK",
    "SIM PIN2": "Cần mã PIN2",
    "SIM PUK2": "Cần mã PUK2",
    "PH-SIM PIN": "Modem khoá với SIM khác: cần mã",
    "PH-NET PIN": "Modem khoá mạng: cần mã mở mạng",
    "NOT INSERTED": "Chưa lắp SIM",
    "SIM BUSY": "SIM đang bận",
    "NOT READY": "SIM chưa sẵn sàng",
}

# +CMS ERROR codes (TS 27.005 §3.2.5; 0-127 are the network's TS 24.011 causes, 128-255 TS
# 23.040's TP-FCS) an administrator meets, and what they mean for the office.
CMS_ERRORS: dict[int, str] = {
    1: "Số người nhận không tồn tại",
    8: "Nhà mạng từ chối gửi",
    10: "Cuộc gọi bị cấm",
    21: "Tin nhắn bị từ chối",
    27: "Máy người nhận không hoạt động",
    28: "Số người nhận không xác định",
    29: "Dịch vụ bị từ chối",
    30: "Thuê bao không xác định",
    38: "Mạng không hoạt động",
    41: "Lỗi tạm thời của mạng",
    42: "Mạng đang nghẽn",
    47: "Không đủ tài nguyên mạng",
    50: "Chưa đăng ký dịch vụ SMS",
    69: "Mạng không hỗ trợ",
    96: "Tin nhắn không hợp lệ",
    111: "Lỗi giao thức",
    127: "Lỗi mạng",
    300: "Modem lỗi",
    301: "Dịch vụ SMS của modem đang bận",
    302: "Modem không cho phép thao tác này",
    303: "Modem không hỗ trợ thao tác này",
    304: "Tham số PDU không hợp lệ",
    305: "Tham số văn bản không hợp lệ",
    310: "Chưa lắp SIM",
    311: "Cần mã PIN",
    312: "Modem khoá với SIM khác",
    313: "SIM hỏng",
    314: "SIM đang bận",
    315: "SIM không đúng loại",
    316: "SIM bị khoá: cần mã PUK",
    320: "Lỗi bộ nhớ",
    321: "Vị trí bộ nhớ không hợp lệ",
    322: "Bộ nhớ tin nhắn đầy",
    330: "Không biết số tổng đài tin nhắn (SMSC)",
    331: "Không có sóng mạng",
    332: "Mạng không trả lời kịp",
    340: "Không chờ xác nhận tin nhắn",
    500: "Lỗi không xác định",
}

NO_CREDIT = "SIM hết tiền"
CMS = re.compile(r"\+CMS ERROR:\s*(\d+)")
CME = re.compile(r"\+CME ERROR:\s*(\d+)")
# Our own services' words (modem/, the quarantine) and what they mean.
WORDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"timed? ?out|no answer|không trả lời", re.I), "Modem không trả lời"),
    (re.compile(r"no \+CPIN answer", re.I), "Modem không báo trạng thái SIM"),
    (
        re.compile(r"could not open|cannot open|no such file|permission denied|serial", re.I),
        "Không mở được cổng nối modem",
    ),
    (re.compile(r"quarantin", re.I), "Tạm ngừng gửi sau nhiều lỗi liên tiếp"),
)


def sim_label(state: str | None) -> str | None:
    """A SIM state as the pool page says it; an unknown one as the modem said it."""
    if not state:
        return None
    return SIM_STATES.get(state.strip().strip('"').upper(), state)


def error_label(error: str | None) -> str | None:
    """What a modem's last error means, in Vietnamese ("Lỗi modem" when nothing known does)."""
    if not error:
        return None
    if NO_CREDIT in error:  # the owner's conclusion beside the modem's code: it says more
        return NO_CREDIT
    found = CMS.search(error)
    if found:
        code = int(found.group(1))
        return CMS_ERRORS.get(code, "Lỗi do nhà mạng báo" if code < 300 else "Lỗi modem")
    if CME.search(error):
        return "Lỗi modem"
    for pattern, label in WORDS:
        if pattern.search(error):
            return label
    return "Lỗi modem"
