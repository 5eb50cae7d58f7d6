"""The pool page's words for a SIM's state and a modem's last error: Vietnamese, whatever the
modem or our services said."""

from __future__ import annotations

import pytest

from gateway.core.modem_words import CMS_ERRORS, error_label, sim_label
from tests.readable import unreadable


@pytest.mark.parametrize(
    ("state", "shown"),
    [
        ("READY", "Sẵn sàng"),
        ('"READY"', "Sẵn sàng"),
        ("SIM PIN", "Cần mã PIN"),
        ("SIM PUK", "SIM bị khoá: cần mã PUK"),
        ("NOT INSERTED", "Chưa lắp SIM"),
        ("SIM BUSY", "SIM đang bận"),
        ("", None),
        (None, None),
    ],
)
def test_a_sim_state_reads_in_vietnamese(state: str | None, shown: str | None) -> None:
    assert sim_label(state) == shown


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        ("+CMS ERROR: 1", "Số người nhận không tồn tại"),
        ("+CMS ERROR: 322", "Bộ nhớ tin nhắn đầy"),
        ("+CMS ERROR: 331", "Không có sóng mạng"),
        ("+CMS ERROR: 500", "Lỗi không xác định"),
        ("+CMS ERROR: 69: SIM hết tiền", "SIM hết tiền"),
        ("+CMS ERROR: 99", "Lỗi do nhà mạng báo"),  # a network cause we name no better
        ("+CMS ERROR: 515", "Lỗi modem"),  # the manufacturer's own
        ("+CME ERROR: 13", "Lỗi modem"),
        ("SIM hết tiền", "SIM hết tiền"),
        ("/dev/ttyUSB0: no +CPIN answer", "Modem không báo trạng thái SIM"),
        ("command timed out: AT+CSQ", "Modem không trả lời"),
        (
            "[Errno 2] could not open port /dev/ttyUSB9: No such file",
            "Không mở được cổng nối modem",
        ),
        ("something nobody foresaw", "Lỗi modem"),
        (None, None),
    ],
)
def test_a_modem_error_reads_in_vietnamese(error: str | None, shown: str | None) -> None:
    assert error_label(error) == shown


def test_every_label_is_readable_vietnamese() -> None:
    for label in CMS_ERRORS.values():
        assert not unreadable(label)
        assert not label.isascii(), label  # Vietnamese words, not the modem's
