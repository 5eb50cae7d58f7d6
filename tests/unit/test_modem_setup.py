"""What the modem service makes of a modem's offers (`=?` answers), and what people read of it."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from gateway.core.modem_limits import LABELS, Limit, modem_notes, parse_limits, vnd_text
from modem.device_parse import answer_lists, range_values
from modem.device_setup import choose_cnmi, cnmi_meaning
from modem.emulator.profiles import PROFILES


def test_the_wavecom_doubly_wrapped_memory_lists_are_two_lists() -> None:
    assert answer_lists('(("SM","BM","SR"),("SM"))') == [["SM", "BM", "SR"], ["SM"]]


def test_three_memory_lists_and_cnmi_ranges_are_read_as_offered() -> None:
    assert (
        answer_lists('("ME","MT","SM","SR"),("ME","MT","SM","SR"),("ME","MT","SM","SR")')
        == [["ME", "MT", "SM", "SR"]] * 3
    )
    assert answer_lists("(0-3),(0-3),(0,2),(0,1),(0,1)") == [
        ["0-3"],
        ["0-3"],
        ["0", "2"],
        ["0", "1"],
        ["0", "1"],
    ]
    assert range_values(["0-1", "4-7"]) == {0, 1, 4, 5, 6, 7}


def test_stored_delivery_and_stored_reports_are_chosen_where_offered() -> None:
    assert choose_cnmi(answer_lists("(0-3),(0-3),(0,2),(0-2),(0,1)")) == "AT+CNMI=2,1,0,2,0"


def test_a_sim800_without_stored_reports_gets_direct_reports() -> None:
    command = choose_cnmi(answer_lists("(0-3),(0-3),(0,2),(0,1),(0,1)"))
    assert command == "AT+CNMI=2,1,0,1,0"
    assert cnmi_meaning(command) == ("direct", False)


def test_a_zte_without_direct_reports_keeps_stored_ones() -> None:
    assert choose_cnmi(answer_lists("(0-2),(0-3),(0,2),(0,2),(0,1)")) == "AT+CNMI=2,1,0,2,0"


def test_a_modem_offering_no_storage_announcement_gets_direct_delivery() -> None:
    command = choose_cnmi(answer_lists("(0,3),(0,2),(0),(0,1),(1)"))
    assert command == "AT+CNMI=3,2,0,1,1"
    assert cnmi_meaning(command) == ("direct", True)


def test_a_four_field_answer_gives_a_four_field_command() -> None:
    assert choose_cnmi(answer_lists("(0-2),(0-3),(0,2),(0-2)")) == "AT+CNMI=2,1,0,2"


def test_an_answer_that_cannot_be_understood_chooses_nothing() -> None:
    assert choose_cnmi(answer_lists("")) == ""
    assert choose_cnmi(answer_lists("(9),(8)")) == ""


@given(st.text(max_size=200))
def test_no_answer_makes_the_parsers_raise(text: str) -> None:
    lists = answer_lists(text)
    for group in lists:
        range_values(group)
    choose_cnmi(lists)


def test_every_profile_offers_storage_based_delivery_hoso_can_choose() -> None:
    for name, profile in PROFILES.items():
        ranges = ",".join(f"({r})" for r in profile.cnmi_ranges)
        assert choose_cnmi(answer_lists(ranges)).startswith(("AT+CNMI=2,1", "AT+CNMI=1,1")), name


def test_every_limitation_has_a_vietnamese_label() -> None:
    assert set(LABELS) == set(Limit)
    assert parse_limits("no_cmee,no_reports") == ("no_cmee", "no_reports")
    assert parse_limits("") == ()


def test_the_pool_page_warns_of_sms_waiting_on_a_modem_that_is_down() -> None:
    notes = modem_notes({"state": "down", "sim_waiting": "3", "limits": "no_pdu"}, {})
    assert notes.warnings == ("3 tin nhắn đang chờ trên SIM của modem không hoạt động",)
    assert notes.limits == ("Không hỗ trợ chế độ PDU: không dùng được modem này",)
    up = modem_notes({"state": "up", "sim_waiting": "3"}, {})
    assert up.warnings == ()  # being read: no alarm


def test_the_balance_reads_as_vietnamese_money_and_local_time() -> None:
    read = int(datetime(2026, 11, 27, 1, 5, tzinfo=UTC).timestamp() * 1000)
    notes = modem_notes(
        {"state": "up"},
        {"vnd": "12345", "valid_until": "2027-09-16", "read_ms": str(read), "low": "1"},
    )
    assert notes.balance_text == "12.345 đ"
    assert notes.valid_until == "16/09/2027"
    assert notes.balance_read_at == "27/11/2026 08:05"
    assert notes.warnings == ("Số dư thấp: cần nạp tiền cho SIM",)
    assert vnd_text(0) == "0 đ"
