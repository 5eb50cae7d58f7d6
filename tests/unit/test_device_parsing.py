"""The device layer's pure parts: SMS-SUBMIT encoding (checked by the emulator's own decoder),
inbound PDU decoding, +CMGL parsing with hostile input, response sorting, +CMS verdicts."""

from __future__ import annotations

import contextlib
import threading
import unicodedata
from datetime import UTC, datetime, timedelta, timezone

import pytest
from gsmmodem.pdu import decodeSmsPdu, encodeUcs2
from gsmmodem.serial_comms import SerialComms
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.sms_text import count_parts
from modem.device import _number
from modem.device_parse import parse_cmgl, split_response
from modem.emulator import gsm7, pdu, userdata
from modem.emulator.fields import DcsAlphabet, dcs_for
from modem.errors import SendVerdict, classify_cms
from modem.gsm_fixes import LINE_MAX, FixedSerialComms
from modem.sms_pdu import (
    Deliver,
    PduDecodeError,
    StatusReportPdu,
    decode_pdu,
    encode_parts,
    join_parts,
)

DOSSIER = "Hồ sơ 000.00.20.H57-240423-0001 đã được tiếp nhận"
GSM7_CHARS = gsm7.BASIC.replace("\xa0", "") + "^{}\\[~]|€\f"
MIXED = st.text(
    alphabet=st.one_of(
        st.sampled_from(GSM7_CHARS),
        st.sampled_from("ăâêôơưđĐỒồếệữựớờở"),
        st.sampled_from("😀🇻🇳𝄞👍🏽"),
        st.characters(exclude_categories=["Cs"], max_codepoint=0x2FFFF),
    ),
    max_size=700,
)
NUMBERS = st.one_of(
    st.from_regex(r"\+84[0-9]{9}", fullmatch=True), st.from_regex(r"0[0-9]{9}", fullmatch=True)
)
WHEN = datetime(2024, 4, 23, 8, 30, 5, tzinfo=timezone(timedelta(hours=7)))


def _submitted(parts: list[str]) -> list[pdu.SmsSubmit]:
    return [pdu.decode_submit(p) for p in parts]


# ------------------------------------------------------------------ encode_parts


@given(number=NUMBERS, text=MIXED, ref=st.integers(0, 0xFFFF), rd=st.booleans())
def test_every_encoded_text_decodes_back_in_the_emulator(
    number: str, text: str, ref: int, rd: bool
) -> None:
    parts = encode_parts(number, text, concat_ref=ref, reject_duplicates=rd, message_reference=9)
    decoded = _submitted([p.pdu_hex for p in parts])
    nfc = unicodedata.normalize("NFC", text)
    assert "".join(d.text for d in decoded) == nfc
    counted = count_parts(nfc)
    encoding, count = counted.alphabet, counted.parts
    if ref <= 0xFF:
        assert len(parts) == count
    assert {d.user_data.alphabet.value for d in decoded} == {encoding}
    for n, (part, sub) in enumerate(zip(parts, decoded, strict=True), start=1):
        assert part.tpdu_length == len(bytes.fromhex(part.pdu_hex)) - 1
        assert sub.destination == number
        assert sub.reject_duplicates is rd
        assert sub.status_report_request
        assert sub.reference == part.reference == (9 + n - 1) % 256
        if len(parts) == 1:
            assert sub.user_data.concat is None
        else:
            assert sub.user_data.concat is not None
            assert (sub.user_data.concat.ref, sub.user_data.concat.seq) == (ref, n)
            assert sub.user_data.concat.total == len(parts)
            assert sub.user_data.concat.wide is (ref > 0xFF)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 160, ("gsm7", 1)),
        ("a" * 161, ("gsm7", 2)),
        ("a" * 306, ("gsm7", 2)),
        ("a" * 307, ("gsm7", 3)),
        ("€" * 80, ("gsm7", 1)),
        ("€" * 81, ("gsm7", 2)),
        ("ơ" * 70, ("ucs2", 1)),
        ("ơ" * 71, ("ucs2", 2)),
        ("ơ" * 134, ("ucs2", 2)),
        ("ơ" * 135, ("ucs2", 3)),
        ("😀" * 35, ("ucs2", 1)),
        ("😀" * 36, ("ucs2", 2)),
        ("", ("gsm7", 1)),
        ("Ho so da duoc tiep nhan", ("gsm7", 1)),
        (DOSSIER, ("ucs2", 1)),
    ],
)
def test_parts_are_counted_in_septets_and_utf16_units(text: str, expected: tuple[str, int]) -> None:
    counted = count_parts(text)
    assert (counted.alphabet, counted.parts) == expected


def test_a_surrogate_pair_is_never_split_across_parts() -> None:
    text = "a" + "😀" * 40  # 81 UTF-16 units; 67 per part would cut a pair after "a"+33
    parts = _submitted([p.pdu_hex for p in encode_parts("+84912345678", text, concat_ref=1)])
    assert [d.text for d in parts] == ["a" + "😀" * 33, "😀" * 7]


def test_an_escape_sequence_is_never_split_across_parts() -> None:
    text = "a" * 152 + "€" + "b" * 10  # 164 septets; 153 per part would cut the escape
    parts = _submitted([p.pdu_hex for p in encode_parts("0912345678", text, concat_ref=1)])
    assert [d.text for d in parts] == ["a" * 152, "€" + "b" * 10]


def test_text_is_normalised_to_nfc_before_encoding() -> None:
    decomposed = unicodedata.normalize("NFD", DOSSIER)
    [part] = encode_parts("0912345678", decomposed, concat_ref=0)
    assert pdu.decode_submit(part.pdu_hex).text == DOSSIER


def test_bad_numbers_and_references_are_refused() -> None:
    for number in ("", "+", "09-123", "abc", "+84 912"):
        with pytest.raises(ValueError, match="dialable"):
            encode_parts(number, "x", concat_ref=0)
    with pytest.raises(ValueError, match="concat_ref"):
        encode_parts("0912345678", "x", concat_ref=70000)


def test_gsmmodem_ucs2_encoder_still_crashes_on_emoji_so_we_bypass_it() -> None:
    with pytest.raises(ValueError, match="byte must be in range"):
        encodeUcs2("😀")
    assert encode_parts("0912345678", "😀", concat_ref=0)


# ------------------------------------------------------------------ decode_pdu


def _deliver(
    text: str, ref: int = 0, wide: bool = False, sender: str = "+84987654321"
) -> list[str]:
    out = []
    for ud in userdata.split_text(text, ref, wide):
        msg = pdu.SmsDeliver(sender, ud, WHEN, dcs=dcs_for(ud.alphabet), smsc="+84980200030")
        out.append(pdu.encode_deliver(msg)[0])
    return out


@given(text=MIXED.filter(bool), ref=st.integers(0, 0xFFFF), wide=st.booleans())
def test_emulator_delivered_pdus_decode_to_their_text_and_concat(
    text: str, ref: int, wide: bool
) -> None:
    pdus = _deliver(text, ref, wide)
    decoded = [decode_pdu(p) for p in pdus]
    assert all(isinstance(d, Deliver) for d in decoded)
    delivers = [d for d in decoded if isinstance(d, Deliver)]
    assert join_parts([d.text for d in delivers]) == text
    assert {d.sender for d in delivers} == {"+84987654321"}
    assert {d.smsc_time for d in delivers} == {WHEN}
    if len(pdus) > 1:
        assert [(d.concat.seq, d.concat.total) for d in delivers if d.concat] == [
            (n, len(pdus)) for n in range(1, len(pdus) + 1)
        ]
        assert {d.concat.ref for d in delivers if d.concat} == {ref if wide else ref & 0xFF}


def test_gsm7_part_with_16bit_reference_keeps_its_first_character() -> None:
    first = _deliver("Xin chao " * 30, ref=0x1234, wide=True)[0]
    ours = decode_pdu(first)
    assert isinstance(ours, Deliver)
    assert ours.text.startswith("Xin chao")
    assert ours.concat is not None
    assert ours.concat.wide
    assert ours.concat.ref == 0x1234
    assert not decodeSmsPdu(first)["text"].startswith("Xin chao")  # the library's bug


def test_emoji_survive_ucs2_decoding_as_utf16() -> None:
    [one] = _deliver("Cảm ơn 😀👍🏽")
    ours = decode_pdu(one)
    assert isinstance(ours, Deliver)
    assert ours.text == "Cảm ơn 😀👍🏽"
    assert decodeSmsPdu(one)["text"] != "Cảm ơn 😀👍🏽"  # the library splits surrogate pairs


def test_a_surrogate_pair_split_by_the_sender_is_mended_when_parts_are_joined() -> None:
    halves = "😀".encode("utf-16-be")
    assert (
        join_parts(
            [
                halves[:2].decode("utf-16-be", "surrogatepass"),
                halves[2:].decode("utf-16-be", "surrogatepass"),
            ]
        )
        == "😀"
    )


def test_alphanumeric_and_national_senders_decode() -> None:
    for sender in ("VIETTEL", "0987654321", "+84987654321"):
        [one] = _deliver("hi", sender=sender)
        decoded = decode_pdu(one)
        assert isinstance(decoded, Deliver)
        assert decoded.sender == sender


def test_status_report_decodes_reference_and_status() -> None:
    report = pdu.SmsStatusReport(7, "+84912345678", WHEN, WHEN + timedelta(seconds=5), 0x41)
    decoded = decode_pdu(pdu.encode_status_report(report)[0])
    assert isinstance(decoded, StatusReportPdu)
    assert (decoded.reference, decoded.recipient, decoded.status) == (7, "+84912345678", 0x41)
    assert decoded.discharge_time == WHEN + timedelta(seconds=5)


@given(st.binary(max_size=80))
def test_random_bytes_never_escape_as_anything_but_pdu_decode_error(data: bytes) -> None:
    with contextlib.suppress(PduDecodeError):
        decode_pdu(data.hex())


def test_truncated_and_non_hex_pdus_raise_pdu_decode_error() -> None:
    [good] = _deliver("HS 123")
    for bad in (good[:-6], good[:20], "XYZ", "", good + "0"):
        with pytest.raises(PduDecodeError):
            decode_pdu(bad)


# ------------------------------------------------------------------ +CMGL and responses

ONE, TWO, THREE = (_deliver(t)[0] for t in ("HS 1", "TRA 2", "Hồ sơ 3"))


def _len(p: str) -> int:
    return len(p) // 2 - 1 - int(p[:2], 16)


def _cmgl(index: int, p: str, stat: int = 0) -> list[str]:
    return [f"+CMGL: {index},{stat},,{_len(p)}", p]


def test_cmgl_parses_each_entry_with_its_own_index() -> None:
    lines = _cmgl(1, ONE) + _cmgl(4, TWO, 1) + _cmgl(9, THREE)
    got = parse_cmgl(lines)
    assert [(e.index, e.stat, e.pdu, e.problem) for e in got] == [
        (1, 0, ONE, None),
        (4, 1, TWO, None),
        (9, 0, THREE, None),
    ]


def test_a_missing_pdu_line_does_not_shift_the_next_index() -> None:
    lines = [f"+CMGL: 1,0,,{_len(ONE)}", *_cmgl(2, TWO), f"+CMGL: 3,0,,{_len(THREE)}"]
    got = parse_cmgl(lines)
    assert [(e.index, e.pdu, e.problem) for e in got] == [
        (1, "", "PDU line missing"),
        (2, TWO, None),
        (3, "", "PDU line missing"),
    ]


def test_a_truncated_pdu_is_kept_raw_and_flagged() -> None:
    got = parse_cmgl([*_cmgl(1, ONE)[:1], ONE[:-8], *_cmgl(2, TWO)])
    assert (got[0].index, got[0].pdu, got[0].problem) == (1, ONE[:-8], "length mismatch")
    assert (got[1].index, got[1].pdu, got[1].problem) == (2, TWO, None)


def test_noise_and_junk_around_pdu_lines_are_survived() -> None:
    lines = [
        "\ufffd\ufffd",
        f'+CMGL: 1,0,"Nguyễn, A",{_len(ONE)}',
        "^RSSI: 20",
        "\ufffdAB" + ONE,  # hex-looking noise glued in front
        "~\x00#",
        *_cmgl(2, TWO),
    ]
    resp = split_response(lines, "AT+CMGL=4", "+CMGL:")
    assert resp.urcs == ["^RSSI: 20"]
    got = parse_cmgl(resp.info)
    assert [(e.index, e.pdu, e.problem) for e in got] == [(1, ONE, None), (2, TWO, None)]


@given(st.lists(st.text(max_size=60), max_size=30))
def test_cmgl_parser_never_raises(lines: list[str]) -> None:
    for entry in parse_cmgl(lines):
        assert entry.index >= 0


def test_split_response_drops_echo_and_sets_urcs_aside() -> None:
    lines = ["AT+CSQ", '+CMTI: "ME",3', "+CSQ: 20,99", "^HCSQ: 1", "", "OK"]
    resp = split_response(lines, "AT+CSQ", "+CSQ:")
    assert (resp.info, resp.final, resp.urcs) == (
        ["+CSQ: 20,99"],
        "OK",
        ['+CMTI: "ME",3', "^HCSQ: 1"],
    )


def test_a_creg_urc_is_told_from_the_creg_read_answer() -> None:
    resp = split_response(["+CREG: 0", "+CREG: 1,1", "OK"], "AT+CREG?", "+CREG:")
    assert (resp.info, resp.urcs) == (["+CREG: 1,1"], ["+CREG: 0"])


def test_verbose_cms_errors_end_a_response_unlike_in_gsmmodem() -> None:
    verbose = "+CMS ERROR: unknown error"
    assert FixedSerialComms.RESPONSE_TERM.match(verbose)
    assert not SerialComms.RESPONSE_TERM.match(verbose)
    assert split_response(["+CMS ERROR: 331"], "x").error_code() == ("CMS", 331)


# ------------------------------------------------------------------ verdicts


@pytest.mark.parametrize(
    ("code", "verdict"),
    [
        (1, SendVerdict.NEVER),
        (8, SendVerdict.QUARANTINE),
        (10, SendVerdict.QUARANTINE),
        (21, SendVerdict.QUARANTINE),
        (28, SendVerdict.NEVER),
        (41, SendVerdict.QUARANTINE),
        (42, SendVerdict.RETRY_HERE),
        (304, SendVerdict.NEVER),
        (305, SendVerdict.NEVER),
        (310, SendVerdict.RETRY_ELSEWHERE),
        (314, SendVerdict.RETRY_HERE),
        (330, SendVerdict.RETRY_ELSEWHERE),
        (331, SendVerdict.RETRY_HERE),
        (500, SendVerdict.RETRY_HERE),
        (0xC5, SendVerdict.NEVER),
        (0xE3, SendVerdict.RETRY_HERE),
        (777, SendVerdict.RETRY_HERE),
    ],
)
def test_cms_codes_are_classified(code: int, verdict: SendVerdict) -> None:
    assert classify_cms(code) is verdict


def test_unknown_time_is_utc_aware() -> None:
    from modem.sms_pdu import UNKNOWN_TIME

    assert UNKNOWN_TIME.tzinfo is UTC
    assert DcsAlphabet.GSM7.value == "gsm7"


@pytest.mark.parametrize(
    ("field", "number"),
    [("17", 17), (" 99 ", 99), ("0", 0), ("1²", None), ("²", None), ("٣", None), ("", None)],
)
def test_numeric_fields_of_a_modem_answer_are_plain_ascii_digits_or_nothing(
    field: str, number: int | None
) -> None:
    # "1²" passes str.isdigit() and makes int() raise; "٣" would be read as 3: neither is a
    # modem's answer, and neither may stop the owner's loop.
    assert _number(field) == number


class _Bytes:
    """Stands for pyserial: hands over `data` in reads of up to 4 KiB, then ends the loop."""

    def __init__(self, comms: FixedSerialComms, data: bytes) -> None:
        self.comms, self.data, self.pos = comms, data, 0

    @property
    def in_waiting(self) -> int:
        return len(self.data) - self.pos

    def read(self, size: int = 1) -> bytes:
        chunk = self.data[self.pos : self.pos + min(size, 4096)]
        self.pos += len(chunk)
        if not chunk:
            self.comms.alive = False
        return chunk

    def close(self) -> None:
        pass


def test_garbage_without_line_ends_is_cut_into_bounded_lines_and_the_prompt_still_seen() -> None:
    urcs: list[str] = []
    comms = FixedSerialComms("test", 115200, urcs.append, lambda exc: None)
    garbage = b"\xff~#" * 30_000  # 90 kB without a line end while a prompt is awaited
    comms.serial = _Bytes(comms, garbage + b"\r\n> ")
    comms.alive = True
    comms._responseEvent = threading.Event()
    comms._response = []
    comms._expectResponseTermSeq = "> "
    comms._readLoop()
    lines: list[str] = comms._response
    assert lines[-1] == "> "  # the prompt after the noise is still recognised
    assert all(len(line) <= LINE_MAX for line in lines)  # memory stays bounded
    assert sum(len(line.encode("utf-8", "replace")) for line in lines[:-1]) >= len(garbage)


def test_the_pdu_of_a_cmt_stays_with_it_when_a_command_starts_between_the_two_lines() -> None:
    """The reader handed "+CMT: ,25" to the URC stream, then the owner wrote a command before
    the PDU line was read: the PDU must not become that command's answer (it was lost)."""
    urcs: list[str] = []
    comms = FixedSerialComms("test", 115200, urcs.append, lambda exc: None)
    comms._handleLineRead("+CMT: ,25")
    comms._responseEvent = threading.Event()  # a command starts waiting now
    comms._response = []
    comms._handleLineRead(
        "0791448720003023240DD0E474D81C0EBB010000111011315214000BE474D81C0EBB5DE3771B"
    )
    comms._handleLineRead("+CSQ: 20,99")
    comms._handleLineRead("OK")
    assert urcs == [
        "+CMT: ,25",
        "0791448720003023240DD0E474D81C0EBB010000111011315214000BE474D81C0EBB5DE3771B",
    ]
    assert comms._response == ["+CSQ: 20,99", "OK"]
