"""Properties the fuzzing section asked for that the other unit tests did not state yet.

PDU codec: our SMS-SUBMIT encoder and our SMS-DELIVER decoder agree with each other (GSM-7 with
its extension table, UCS-2 with astral characters, 8- and 16-bit concatenation references);
8-bit user data, status reports and time zones decode to what was encoded; mangled PDUs raise
only `PduDecodeError` and never yield text that cannot be stored. SMS parser: a valid command
parses the same inside noise, decomposed or full-width; no text at all makes it raise. Codes:
folding is idempotent, sloppy short codes fold back, the check character catches every
substitution and every adjacent swap but one. (The dossier state machine's history and event-id
properties need the store: tests/integration/test_store.py.)
"""

from __future__ import annotations

import contextlib
import random
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from typing import Literal

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from gateway.core.codes import CROCKFORD, display_short_code, fold, is_short_code, short_code
from gateway.core.sms_syntax import CommandKind, Help, ListMine, Lookup, OptIn, OptOut, parse
from gateway.core.sms_text import GSM7_EXTENSION_SEPTETS, GSM7_SEPTETS
from modem.emulator import pdu, userdata
from modem.emulator.fields import DcsAlphabet
from modem.sms_pdu import (
    Deliver,
    PduDecodeError,
    StatusReportPdu,
    decode_pdu,
    encode_parts,
)
from tests.unit.test_sms_syntax import MESSAGES

# ------------------------------------------------------------------ PDU codec

GSM7_TEXT = st.text(
    st.sampled_from(GSM7_SEPTETS.replace("\x1b", "") + "".join(GSM7_EXTENSION_SEPTETS.values())),
    max_size=500,
)
UCS2_TEXT = st.text(
    st.one_of(
        st.sampled_from("ăâêôơưđĐỒồếệữựớờở"),
        st.sampled_from("😀🇻🇳𝄞👍🏽🀄"),
        st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF, exclude_categories=["Cs"]),
        st.characters(exclude_categories=["Cs"]),
    ),
    min_size=1,
    max_size=300,
)
NUMBERS = st.one_of(
    st.from_regex(r"\+84[0-9]{9}", fullmatch=True), st.from_regex(r"0[0-9]{9}", fullmatch=True)
)
STAMPS = st.builds(
    lambda when, quarters: when.replace(tzinfo=timezone(timedelta(minutes=15 * quarters))),
    st.datetimes(datetime(1990, 1, 1), datetime(2089, 12, 31)).map(
        lambda d: d.replace(microsecond=0)
    ),
    st.integers(-79, 79),
)


def as_deliver(submit_hex: str, when: datetime) -> str:
    """The SMS-DELIVER a phone receives for one of our SMS-SUBMIT parts: the same address,
    PID, DCS and user data, with TP-SCTS instead of TP-MR and TP-VP."""
    tpdu = bytes.fromhex(submit_hex)[1:]  # "00": no SMSC address
    first, rest = tpdu[0], tpdu[2:]
    address = rest[: 2 + (rest[0] + 1) // 2]
    pid, dcs = rest[len(address)], rest[len(address) + 1]
    user_data = rest[len(address) + 3 :]  # after the one-octet relative validity period
    scts = pdu.encode_deliver(pdu.SmsDeliver("1", userdata.UserData("", DcsAlphabet.GSM7), when))
    stamp = bytes.fromhex(scts[0])[-8:-1]  # the 7 TP-SCTS octets before the empty TP-UDL
    deliver = bytes([0x04 | (first & 0x40)]) + address + bytes([pid, dcs]) + stamp + user_data
    return "00" + deliver.hex().upper()


@given(
    number=NUMBERS,
    text=st.one_of(GSM7_TEXT, UCS2_TEXT),
    ref=st.integers(0, 0xFFFF),
    when=STAMPS,
)
@example("+84912345678", "{€}" * 80, 0x1234, datetime(2024, 4, 23, tzinfo=UTC))
@example("0912345678", "😀" * 140, 7, datetime(2024, 4, 23, tzinfo=UTC))
def test_our_encoder_and_our_decoder_agree_on_every_part(
    number: str, text: str, ref: int, when: datetime
) -> None:
    parts = encode_parts(number, text, concat_ref=ref)
    decoded = [decode_pdu(as_deliver(p.pdu_hex, when)) for p in parts]
    delivers = [d for d in decoded if isinstance(d, Deliver)]
    assert len(delivers) == len(parts)
    assert "".join(d.text for d in delivers) == unicodedata.normalize("NFC", text)
    assert {d.sender for d in delivers} == {number}
    assert {d.smsc_time for d in delivers} == {when}
    if len(parts) == 1:
        assert delivers[0].concat is None
    else:
        wide = ref > 0xFF
        assert [(d.concat.ref, d.concat.wide) for d in delivers if d.concat] == [(ref, wide)] * len(
            parts
        )
        assert [(d.concat.seq, d.concat.total) for d in delivers if d.concat] == [
            (n, len(parts)) for n in range(1, len(parts) + 1)
        ]


@given(
    octets=st.binary(max_size=130),
    concat=st.none() | st.tuples(st.integers(0, 0xFFFF), st.integers(1, 255), st.booleans()),
    when=STAMPS,
)
def test_eight_bit_user_data_decodes_octet_for_octet(
    octets: bytes, concat: tuple[int, int, bool] | None, when: datetime
) -> None:
    header = None
    if concat is not None:
        ref, total, wide = concat
        header = userdata.ConcatElement(ref if wide else ref & 0xFF, total, 1, wide)
    ud = userdata.UserData("", DcsAlphabet.EIGHT_BIT, header, data=octets)
    hex_pdu, _ = pdu.encode_deliver(pdu.SmsDeliver("+84987654321", ud, when, dcs=0x04))
    decoded = decode_pdu(hex_pdu)
    assert isinstance(decoded, Deliver)
    assert decoded.text == octets.decode("latin-1")
    assert decoded.smsc_time == when
    if header is None:
        assert decoded.concat is None
    else:
        assert decoded.concat is not None
        assert (decoded.concat.ref, decoded.concat.total, decoded.concat.wide) == (
            header.ref,
            header.total,
            header.wide,
        )


@given(
    reference=st.integers(0, 255),
    recipient=NUMBERS,
    status=st.integers(0, 255),
    submitted=STAMPS,
    delay=st.integers(0, 7 * 86400),
    smsc=st.none() | st.just("+84980200030"),
)
def test_status_reports_decode_to_what_the_network_said(
    reference: int,
    recipient: str,
    status: int,
    submitted: datetime,
    delay: int,
    smsc: str | None,
) -> None:
    discharged = submitted + timedelta(seconds=delay)
    assume(discharged.year < 2090)
    report = pdu.SmsStatusReport(reference, recipient, submitted, discharged, status, smsc)
    decoded = decode_pdu(pdu.encode_status_report(report)[0])
    assert isinstance(decoded, StatusReportPdu)
    assert (decoded.reference, decoded.recipient, decoded.status) == (reference, recipient, status)
    assert (decoded.submitted, decoded.discharge_time) == (submitted, discharged)


def _valid_pdus() -> list[str]:
    out = []
    when = datetime(2024, 4, 23, 8, 30, tzinfo=timezone(timedelta(hours=7)))
    for text, wide in (("Hồ sơ 😀 " * 12, True), ("{HS} €" * 40, False)):
        for ud in userdata.split_text(text, 0x1234, wide):
            dcs = 0x08 if ud.alphabet is DcsAlphabet.UCS2 else 0x00
            out.append(pdu.encode_deliver(pdu.SmsDeliver("+8498", ud, when, dcs=dcs))[0])
    report = pdu.SmsStatusReport(1, "+8491", when, when, 0)
    out.append(pdu.encode_status_report(report)[0])
    return out


VALID = _valid_pdus()


@given(
    base=st.sampled_from(VALID),
    edits=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=6),
    cut=st.integers(0, 400),
)
@example(  # a UCS-2 part ending in half a surrogate pair: the text must still be storable
    base="000404811032000842403280030082040041D83D",
    edits=[],
    cut=400,
)
def test_mangled_pdus_raise_only_pdu_decode_error_and_never_yield_unstorable_text(
    base: str, edits: list[tuple[int, int]], cut: int
) -> None:
    octets = bytearray(bytes.fromhex(base))
    for position, value in edits:
        if octets:
            octets[position % len(octets)] = value
    mangled = bytes(octets[:cut]).hex()
    try:
        decoded = decode_pdu(mangled)
    except PduDecodeError:
        return
    if isinstance(decoded, Deliver):
        decoded.text.encode("utf-8")  # what Redis does with it
        decoded.sender.encode("utf-8")


@given(st.text(max_size=200))
@example("0G")
@example("００")
@example(" 00 ")
def test_any_text_given_as_a_pdu_raises_only_pdu_decode_error(text: str) -> None:
    with contextlib.suppress(PduDecodeError):
        decode_pdu(text)


# ------------------------------------------------------------------ the citizen's SMS

PARSED = [
    (text, expected)
    for text, expected in MESSAGES
    if isinstance(expected, Lookup | OptIn | OptOut | Help | ListMine)
]
Form = Literal["NFC", "NFD", "NFKC"]
NOISE = ["", " ", "  ", "\t", "!", "...", " 😀", " 🙏🙏", "\u200b", " :)", "\n"]


@given(
    st.sampled_from(PARSED),
    st.sampled_from(NOISE),
    st.sampled_from(NOISE),
    st.sampled_from(["NFC", "NFD", "NFKC"]),
    st.booleans(),
)
def test_a_valid_command_parses_the_same_in_noise_and_any_unicode_form(
    message: tuple[str, object], before: str, after: str, form: Form, wide: bool
) -> None:
    text, expected = message
    typed = unicodedata.normalize(form, text)
    if wide:  # a phone keyboard in full-width mode: ASCII letters and digits as U+FF01..
        typed = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in typed)
    assert parse(before + typed + after) == expected


@given(st.sampled_from([(t, e) for t, e in PARSED if isinstance(e, Lookup)]), st.randoms())
def test_a_lookup_parses_the_same_in_any_case(
    message: tuple[str, Lookup], rnd: random.Random
) -> None:
    text, expected = message
    mixed = "".join(c.upper() if rnd.random() < 0.5 else c.lower() for c in text)
    for typed in (text.upper(), text.lower(), mixed):
        got = parse(typed)
        assert isinstance(got, Lookup)
        assert got.code_text == expected.code_text


@given(
    st.text(
        st.characters(codec=None, categories=["L", "M", "N", "P", "S", "Z", "C"]),
        max_size=2000,
    )
)
@example("\ud83d" + "HS 000.00.20.H57-240423-0001")
@example("dang ky x " * 200)
def test_no_text_whatever_its_characters_or_length_makes_the_parser_raise(text: str) -> None:
    assert parse(text).kind in set(CommandKind)


# ------------------------------------------------------------------ codes

SHORTS = st.integers(1, 2**30 - 1).map(short_code)


@given(st.text(max_size=60))
def test_folding_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


@given(SHORTS, st.randoms(use_true_random=False))
def test_a_sloppily_typed_short_code_folds_back_to_itself(code: str, rnd: random.Random) -> None:
    shown = display_short_code(code) if rnd.random() < 0.5 else code
    typed = "".join(
        (c.lower() if rnd.random() < 0.5 else c) + rnd.choice(["", "", " ", "-", "."])
        for c in shown
    )
    assert fold(" " + typed + " ") == code
    assert is_short_code(typed)


@given(SHORTS, st.integers(0, 6), st.sampled_from(CROCKFORD))
def test_every_single_character_substitution_fails_the_check(
    code: str, position: int, replacement: str
) -> None:
    assume(code[position] != replacement)
    assert not is_short_code(code[:position] + replacement + code[position + 1 :])


@pytest.mark.slow
def test_every_adjacent_swap_fails_the_check_except_zero_and_z() -> None:
    """Luhn mod 32 (doubling) has one blind spot, as Luhn mod 10 has 09/90: the values 0 and
    31 ("0" and "Z") swapped. Every other swap of two different neighbours is caught; checked
    exhaustively, for every pair of characters at every position (the last one swaps the
    check character with the body's last character)."""
    missed: set[frozenset[str]] = set()
    for position in range(6):
        for a in CROCKFORD:
            for b in CROCKFORD:
                if a == b:
                    continue
                code = _code_with(position, a + b)
                swapped = code[:position] + b + a + code[position + 2 :]
                if is_short_code(swapped):
                    missed.add(frozenset((a, b)))
    assert missed == {frozenset("0Z")}


def _code_with(position: int, pair: str) -> str:
    """A valid short code holding `pair` at `position`, `position + 1`."""
    for first in CROCKFORD:  # the first body character moves the check through all 32 values
        body = list(first + "K7M2Q")
        body[position : position + 2] = pair
        body = body[:6]
        for check in CROCKFORD:
            code = "".join(body) + check
            if is_short_code(code) and code[position : position + 2] == pair:
                return code
    raise AssertionError((position, pair))
