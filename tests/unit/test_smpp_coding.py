"""SMS in SMPP PDUs (modem.smpp.coding): parts, codings, receipts and citizens' SMS, both ways."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modem.smpp.coding import (
    DC_GSM7,
    DC_UCS2,
    ESM_UDHI,
    DeliveryReceipt,
    MobileOriginated,
    decode_text,
    deliver_digest,
    destination,
    encode,
    parse_receipt_text,
    read_deliver,
    source_ton_npi,
)

VIETNAMESE = "Hồ sơ của ông/bà đã được tiếp nhận. Hẹn trả kết quả ngày 26/04/2024. "
PLAIN = "Ho so 000.00.20.H57-240423-0001 da duoc tiep nhan. Hen tra ket qua 26/04/2024. "


def rebuilt(parts: list, packed: bool = False) -> str:  # type: ignore[type-arg]
    texts = []
    for part in parts:
        octets = part.payload if part.payload is not None else part.short_message
        udh = octets[0] + 1 if part.esm_class & ESM_UDHI else 0
        texts.append(decode_text(part.data_coding, octets, packed, udh))
    return "".join(texts)


def test_a_short_gsm7_text_is_one_submit_one_septet_per_octet() -> None:
    (part,) = encode("HS 000.00.20.H57-240423-0001 {ok}")
    assert (part.data_coding, part.esm_class, part.total) == (DC_GSM7, 0, 1)
    assert part.short_message[:3] == b"HS "
    assert part.short_message.count(0x1B) == 2  # { and } are extension characters


def test_a_long_ucs2_text_goes_in_udh_parts_of_67_units() -> None:
    parts = encode(VIETNAMESE * 3, concat_ref=42)
    assert len(parts) == 4
    for seq, part in enumerate(parts, start=1):
        assert part.data_coding == DC_UCS2
        assert part.esm_class == ESM_UDHI
        assert part.short_message[:6] == bytes([5, 0, 3, 42, 4, seq])
        assert len(part.short_message) <= 140
    assert rebuilt(parts) == unicodedata.normalize("NFC", VIETNAMESE * 3)


def test_sar_parts_carry_no_header_and_the_tlv_numbers() -> None:
    parts = encode(PLAIN * 3, long="sar", concat_ref=300)
    assert [p.sar for p in parts] == [(44, 2, 1), (44, 2, 2)]
    assert all(p.esm_class == 0 for p in parts)
    assert rebuilt(parts) == PLAIN * 3


def test_message_payload_holds_the_whole_long_text_in_one_submit() -> None:
    (part,) = encode(VIETNAMESE * 5, long="payload")
    assert part.short_message == b""
    assert part.payload is not None
    assert part.payload.decode("utf-16-be") == unicodedata.normalize("NFC", VIETNAMESE * 5)


def test_coding_ucs2_forces_ucs2_on_a_text_gsm7_could_carry() -> None:
    (part,) = encode("HS 123", coding="ucs2")
    assert part.data_coding == DC_UCS2
    assert part.short_message == "HS 123".encode("utf-16-be")


def test_packed_gsm7_puts_eight_septets_in_seven_octets_and_fills_with_cr() -> None:
    (part,) = encode("ABCDEFG", packed=True)  # 7 septets: 49 bits, 7 spare bits in octet 7
    assert len(part.short_message) == 7
    assert decode_text(DC_GSM7, part.short_message, packed=True) == "ABCDEFG"
    (eight,) = encode("ABCDEFGH", packed=True)
    assert len(eight.short_message) == 7


def test_an_emoji_is_never_split_across_parts() -> None:
    text = "😀" * 80
    parts = encode(text)
    assert all(len(p.short_message[6:]) % 4 == 0 for p in parts)
    assert rebuilt(parts) == text


@given(
    st.text(
        alphabet=st.sampled_from(list("abcXYZ019 .,@{}[]€^ăâêôơưđĐáàạ😀\n")),
        min_size=1,
        max_size=400,
    ),
    st.sampled_from(["udh", "sar", "payload"]),
    st.sampled_from(["auto", "ucs2"]),
    st.booleans(),
)
def test_every_text_survives_encoding_and_decoding_in_every_mode(
    text: str, long: str, coding: str, packed: bool
) -> None:
    parts = encode(text, long=long, coding=coding, packed=packed, concat_ref=7)
    assert rebuilt(parts, packed) == unicodedata.normalize("NFC", text)
    for part in parts:
        if part.payload is None:
            assert len(part.short_message) <= 254


def test_addresses_follow_the_carriers_format_and_the_sender_kind() -> None:
    assert destination("+84901234567", "international") == "84901234567"
    assert destination("+84901234567", "national") == "0901234567"
    assert source_ton_npi("UBND BADINH", None, None) == (5, 0)
    assert source_ton_npi("8085", None, None) == (3, 0)
    assert source_ton_npi("8085", 6, 1) == (6, 1)


RECEIPT = (
    "id:1a2b3c sub:001 dlvrd:001 submit date:2404231015 done date:2404231016 stat:DELIVRD "
    "err:000 text:Ho so 000.00.20.H57-"
)


def test_the_receipt_text_is_read_field_by_field() -> None:
    fields = parse_receipt_text(RECEIPT)
    assert fields["id"] == "1a2b3c"
    assert fields["stat"] == "DELIVRD"
    assert fields["submit date"] == "2404231015"
    assert fields["text"] == "Ho so 000.00.20.H57-"


def test_a_receipt_by_text_alone_gives_the_id_and_final_state() -> None:
    found = read_deliver(
        {"esm_class": 0x04, "source_addr": b"84901234567", "short_message": RECEIPT.encode()}
    )
    assert isinstance(found, DeliveryReceipt)
    assert (found.message_id, found.state, found.recipient) == ("1a2b3c", "DELIVRD", "+84901234567")
    assert found.final
    assert found.delivered


def test_the_tlvs_of_a_receipt_win_over_its_text() -> None:
    found = read_deliver(
        {
            "esm_class": 0x04,
            "short_message": RECEIPT.encode(),
            "receipted_message_id": b"77",
            "message_state": 5,
        }
    )
    assert isinstance(found, DeliveryReceipt)
    assert (found.message_id, found.state, found.final, found.delivered) == (
        "77",
        "UNDELIV",
        True,
        False,
    )


def test_an_intermediate_notification_is_not_final() -> None:
    found = read_deliver({"esm_class": 0x20, "receipted_message_id": b"9", "message_state": 1})
    assert isinstance(found, DeliveryReceipt)
    assert not found.final


def test_a_citizens_sms_in_parts_carries_its_udh_or_sar_numbers() -> None:
    udh = read_deliver(
        {
            "esm_class": 0x40,
            "data_coding": 8,
            "source_addr": b"84901234567",
            "destination_addr": b"8085",
            "short_message": bytes([5, 0, 3, 9, 2, 1]) + "Tra cứu".encode("utf-16-be"),
        }
    )
    assert udh == MobileOriginated("+84901234567", "8085", "Tra cứu", (9, 2, 1))
    sar = read_deliver(
        {
            "source_addr": b"0901234567",
            "short_message": b"HS 123",
            "sar_msg_ref_num": 300,
            "sar_total_segments": 3,
            "sar_segment_seqnum": 2,
        }
    )
    assert sar == MobileOriginated("+84901234567", "", "HS 123", (300, 3, 2))


def test_a_redelivered_sms_has_the_same_digest_but_not_in_another_window() -> None:
    fields = {"source_addr": b"84901234567", "short_message": b"HS 1"}
    assert deliver_digest("brand", fields, 5) == deliver_digest("brand", dict(fields), 5)
    assert deliver_digest("brand", fields, 5) != deliver_digest("brand", fields, 6)
    assert deliver_digest("brand", fields, 5) != deliver_digest("other", fields, 5)


@pytest.mark.parametrize("octets", [b"\x07\x00\x03", b"\xff"])
def test_a_header_longer_than_its_message_is_refused(octets: bytes) -> None:
    with pytest.raises(ValueError, match="header"):
        read_deliver({"esm_class": 0x40, "short_message": octets})
