"""The emulator's PDU codec: known vectors, cross-checks with python-gsmmodem, round trips."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from gsmmodem.pdu import decodeSmsPdu, encodeSmsSubmitPdu
from hypothesis import given
from hypothesis import strategies as st

from modem.emulator import gsm7, pdu, userdata
from modem.emulator.fields import (
    TOA_NATIONAL,
    DcsAlphabet,
    PduError,
    Reader,
    decode_address,
    decode_timestamp,
    encode_address,
    encode_timestamp,
)
from modem.emulator.userdata import ConcatElement, UserData

HELLO_SUBMIT = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"
HELLO_DELIVER = "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37"
GSM7_TEXT = st.text(alphabet=st.sampled_from(gsm7.BASIC.replace("\xa0", "") + "^{}\\[~]|€\f"))
ANY_TEXT = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], max_codepoint=0x1FFFF), max_size=200
)


def test_hellohello_submit_vector_decodes_to_its_fields() -> None:
    msg = pdu.decode_submit(HELLO_SUBMIT)
    assert msg.destination == "+46708251358"
    assert msg.text == "hellohello"
    assert msg.reference == 0
    assert msg.validity_format == pdu.VPF_RELATIVE
    assert msg.validity == b"\xaa"
    assert not msg.status_report_request
    assert not msg.reject_duplicates
    assert msg.smsc is None


def test_hellohello_submit_vector_is_reencoded_byte_for_byte() -> None:
    assert pdu.encode_submit(pdu.decode_submit(HELLO_SUBMIT)) == (HELLO_SUBMIT, 23)


def test_hellohello_deliver_vector_decodes_sender_time_and_text() -> None:
    msg = pdu.decode_deliver(HELLO_DELIVER)
    assert msg.smsc == "+27381000015"
    assert msg.sender == "27838890001"
    assert msg.text == "hellohello"
    assert msg.timestamp == datetime(1999, 3, 29, 15, 16, 59, tzinfo=timezone(timedelta(hours=2)))
    assert pdu.encode_deliver(msg)[0] == HELLO_DELIVER


def test_submit_flags_rd_srr_and_udhi_are_read_from_the_first_octet() -> None:
    msg = pdu.SmsSubmit(
        "0912345678",
        UserData("part", DcsAlphabet.GSM7, ConcatElement(7, 2, 1)),
        reference=9,
        reject_duplicates=True,
        status_report_request=True,
    )
    hex_pdu, _ = pdu.encode_submit(msg)
    first = bytes.fromhex(hex_pdu)[1]
    assert first == 0x01 | 0x04 | 0x10 | 0x20 | 0x40
    back = pdu.decode_submit(hex_pdu)
    assert back.reject_duplicates
    assert back.status_report_request
    assert back.user_data.concat == ConcatElement(7, 2, 1)


@pytest.mark.parametrize(
    "text", ["Hồ sơ của bạn đã được tiếp nhận", "x" * 400, "Chào bạn " * 30, "a€[]" * 60]
)
def test_pdus_from_python_gsmmodem_decode_to_the_text_it_encoded(text: str) -> None:
    parts = [pdu.decode_submit(str(p)) for p in encodeSmsSubmitPdu("+84912345678", text)]
    assert "".join(p.text for p in parts) == text
    assert {p.destination for p in parts} == {"+84912345678"}
    if len(parts) > 1:
        assert [p.user_data.concat.seq for p in parts if p.user_data.concat] == [
            n + 1 for n in range(len(parts))
        ]


@pytest.mark.parametrize("text", ["Xin chào", "HS 123", "Hồ sơ của bạn đã được tiếp nhận"])
def test_deliver_pdus_decode_in_python_gsmmodem(text: str) -> None:
    when = datetime(2024, 11, 26, 9, 30, 5, tzinfo=timezone(timedelta(hours=7)))
    [ud] = userdata.split_text(text)
    msg = pdu.SmsDeliver("+84987654321", ud, when, dcs=0x08 if ud.alphabet == "ucs2" else 0)
    decoded = decodeSmsPdu(pdu.encode_deliver(msg)[0])
    assert decoded["text"] == text
    assert decoded["number"] == "+84987654321"
    assert decoded["time"] == when


def test_status_report_decodes_in_python_gsmmodem() -> None:
    sent = datetime(2024, 11, 26, 9, 30, 5, tzinfo=timezone(timedelta(hours=7)))
    report = pdu.SmsStatusReport(42, "+84912345678", sent, sent + timedelta(seconds=3), 0, "+8498")
    decoded = decodeSmsPdu(pdu.encode_status_report(report)[0])
    assert decoded["type"] == "SMS-STATUS-REPORT"
    assert decoded["reference"] == 42
    assert decoded["number"] == "+84912345678"
    assert decoded["status"] == 0
    back = pdu.decode_status_report(pdu.encode_status_report(report)[0])
    assert replace(back, recipient_toa=None) == report


def test_national_and_alphanumeric_addresses_round_trip() -> None:
    for number, toa in [("0912345678", TOA_NATIONAL), ("VIETTEL", None), ("+84912345678", None)]:
        assert decode_address(Reader(encode_address(number, toa)))[0] == number


def test_negative_time_zone_sets_the_sign_bit() -> None:
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5)))
    raw = encode_timestamp(when)
    assert raw[6] & 0x08
    assert decode_timestamp(raw) == when


def test_truncated_pdu_raises_pdu_error() -> None:
    with pytest.raises(PduError):
        pdu.decode_submit(HELLO_SUBMIT[:20])


def test_extension_characters_count_two_septets() -> None:
    assert gsm7.septet_length("€[]") == 6
    assert len(userdata.split_text("€" * 80)) == 1
    assert len(userdata.split_text("€" * 81)) == 2


@pytest.mark.parametrize(
    ("text", "parts"),
    [("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3), ("ồ" * 70, 1), ("ồ" * 71, 2)],
)
def test_texts_are_split_at_the_standard_sizes(text: str, parts: int) -> None:
    assert len(userdata.split_text(text)) == parts


def test_split_never_breaks_an_escape_sequence_or_a_surrogate_pair() -> None:
    for text in ["a" * 152 + "€€€", "ồ" * 66 + "👋👋"]:
        chunks = userdata.split_text(text)
        assert "".join(c.text for c in chunks) == text
        for chunk in chunks:
            userdata.encode(chunk)  # each part fits on its own


@given(GSM7_TEXT, st.integers(0, 6))
def test_septet_packing_round_trips_with_any_fill(text: str, fill: int) -> None:
    septets = gsm7.encode(text)
    assert gsm7.decode(gsm7.unpack(gsm7.pack(septets, fill), len(septets), fill)) == text


@given(
    text=ANY_TEXT,
    ref=st.integers(0, 0xFFFF),
    wide=st.booleans(),
    rd=st.booleans(),
    srr=st.booleans(),
    mr=st.integers(0, 255),
    number=st.from_regex(r"\+?[0-9]{3,15}", fullmatch=True),
)
def test_submit_round_trips_for_any_text(
    text: str, ref: int, wide: bool, rd: bool, srr: bool, mr: int, number: str
) -> None:
    parts = userdata.split_text(text, ref, wide)
    decoded = []
    for ud in parts:
        msg = pdu.SmsSubmit(number, ud, mr, rd, srr, dcs=0x08 if ud.alphabet == "ucs2" else 0)
        hex_pdu, length = pdu.encode_submit(msg)
        assert length == len(bytes.fromhex(hex_pdu)) - 1
        back = pdu.decode_submit(hex_pdu)
        assert replace(back, destination_toa=None) == msg
        decoded.append(back.text)
    assert "".join(decoded) == text


@given(
    text=ANY_TEXT,
    minutes=st.integers(-48, 56).map(lambda q: q * 15),
    stamp=st.datetimes(datetime(2000, 1, 1), datetime(2089, 12, 31)),
)
def test_deliver_round_trips_with_time_zones(text: str, minutes: int, stamp: datetime) -> None:
    when = stamp.replace(microsecond=0, tzinfo=timezone(timedelta(minutes=minutes)))
    for ud in userdata.split_text(text, 3):
        msg = pdu.SmsDeliver("+84987654321", ud, when, dcs=0x08 if ud.alphabet == "ucs2" else 0)
        back = pdu.decode_deliver(pdu.encode_deliver(msg)[0])
        assert replace(back, sender_toa=None) == msg
