"""What citizens text, and what the gateway understands from it."""

from __future__ import annotations

import random
import unicodedata

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from gateway.core.codes import display_short_code, fold, short_code
from gateway.core.sms_keywords import KEYWORDS
from gateway.core.sms_syntax import (
    Command,
    CommandKind,
    Help,
    ListMine,
    Lookup,
    OptIn,
    OptOut,
    UnknownCommand,
    UnknownReason,
    parse,
)
from gateway.core.sms_text import strip_accents

CODE = "000.00.20.H57-240423-0001"
F = fold(CODE)  # 0000020H572404230001
SHORT = short_code(1)  # PAZCGM6
SHORT_SHOWN = display_short_code(SHORT)  # PAZC-GM6
SECRET = "ABCD2345"
BAD_CODE = UnknownCommand(UnknownReason.BAD_CODE)
NOT_UNDERSTOOD = UnknownCommand(UnknownReason.NOT_UNDERSTOOD)

MESSAGES: list[tuple[str, Command]] = [
    # looking a dossier up
    ("hs 000.00.20.h57-240423-0001", Lookup(F)),
    ("HS 000.00.20.H57-240423-0001", Lookup(F)),
    ("HS000.00.20.H57-240423-0001", Lookup(F)),
    ("Tra cuu ho so 000 00 20 H57 240423 0001", Lookup(F)),
    ("tra cứu hồ sơ 000.00.20.H57-240423-0001", Lookup(F)),
    ("TRA 0000020H572404230001", Lookup(F)),
    ("TC 000.00.20.H57.240423.0001", Lookup(F)),
    ("tracuu 000.00.20.h57-240423-0001", Lookup(F)),
    ("000.00.20.H57-240423-0001", Lookup(F)),
    ("ooo.oo.2o.h57-24o423-ooo1", Lookup(F)),
    ("000 00 20 H57 240423 0001", Lookup(F)),
    ("hs 000/00/20/h57/240423/0001.", Lookup(F)),
    ("HS 000.00.20.H57-240423-0001 ABCD2345", Lookup(F, SECRET)),
    ("hs 000.00.20.h57-240423-0001 abcd-2345", Lookup(F, SECRET)),
    ("HS 000.00.20.H57-240423-0001 ma bi mat ABCD 2345", Lookup(F, SECRET)),
    (f"HS {SHORT} ABCD2345", Lookup(SHORT, SECRET)),
    (f"hs {SHORT_SHOWN.lower()}", Lookup(SHORT)),
    (SHORT_SHOWN, Lookup(SHORT)),
    (f"HS{SHORT}", Lookup(SHORT)),
    (f"Kiem tra ho so {SHORT} ma bi mat {SECRET}", Lookup(SHORT, SECRET)),
    ("HS 000.00.20.H57-240423-0001 cam on", Lookup(F)),
    ("Chào anh, cho em hỏi hồ sơ 000.00.20.H57-240423-0001 đã xong chưa ạ?", Lookup(F)),
    ("Re: HS 000.00.20.H57-240423-0001", Lookup(F)),
    ("Mã hồ sơ của tôi là 000.00.20.H57-240423-0001", Lookup(F)),
    ("Nguyễn Văn An: HS 000.00.20.H57-240423-0001", Lookup(F)),
    ("hs 000.00.20.h57-240423-0001 😀🙏", Lookup(F)),
    ("ＨＳ　ＰＡＺＣ－ＧＭ６", Lookup(SHORT)),
    (
        "HS 000.00.20.H57-240423-0001\n> Ho so 000.00.20.H57-240423-0002: Dang xu ly",
        Lookup(F),
    ),
    # my dossiers
    ("TRA", ListMine()),
    ("tra cứu", ListMine()),
    ("Tra cuu ho so", ListMine()),
    ("TC", ListMine()),
    ("HS", ListMine()),
    ("cho hỏi hồ sơ của tôi", ListMine()),
    ("Hồ sơ của tôi đã có kết quả chưa?", ListMine()),
    # stop
    ("huy", OptOut()),
    ("HỦY", OptOut()),
    ("Hủy nhận tin", OptOut()),
    ("huỷ", OptOut()),
    ("TD", OptOut()),
    ("TU CHOI", OptOut()),
    ("Từ chối nhận tin", OptOut()),
    ("STOP", OptOut()),
    ("dừng", OptOut()),
    ("ngung nhe", OptOut()),
    ("Tôi muốn hủy nhận tin", OptOut()),
    ("Tôi không muốn nhận tin nhắn nữa", OptOut()),
    ("HUY\n\n-----Original Message-----\nSoan HS <ma ho so> de tra cuu", OptOut()),
    # messages again
    ("dk 000.00.20.H57-240423-0001", OptIn(F)),
    ("DK 000.00.20.H57-240423-0001", OptIn(F)),
    ("Đăng ký 000.00.20.H57-240423-0001", OptIn(F)),
    (f"dk {SHORT_SHOWN}", OptIn(SHORT)),
    ("DK", OptIn()),
    ("đk nhận tin lại", OptIn()),
    ("Đăng ký nhận tin", OptIn()),
    # help
    ("HD", Help()),
    ("help", Help()),
    ("?", Help()),
    ("??", Help()),
    ("hướng dẫn", Help()),
    ("Cú pháp tra cứu là gì", Help()),
    # everything else gets a short help text, never silence
    ("alo", NOT_UNDERSTOOD),
    ("Xin chào", NOT_UNDERSTOOD),
    ("Đúng rồi, cảm ơn", NOT_UNDERSTOOD),
    ("Trả kết quả chưa", NOT_UNDERSTOOD),
    ("Đăng ký khai sinh cho con tôi xong chưa", NOT_UNDERSTOOD),
    ("hđ", NOT_UNDERSTOOD),
    ("", UnknownCommand(UnknownReason.EMPTY)),
    ("   ", UnknownCommand(UnknownReason.EMPTY)),
    ("👍", UnknownCommand(UnknownReason.EMPTY)),
    ("hs 000.00.20.h57-240423-001", BAD_CODE),
    (SHORT[:-1] + ("7" if SHORT[-1] != "7" else "8"), BAD_CODE),
    ("DK 12345", BAD_CODE),
]


@pytest.mark.parametrize(("text", "expected"), MESSAGES, ids=[m for m, _ in MESSAGES])
def test_realistic_messages_are_understood(text: str, expected: Command) -> None:
    assert parse(text) == expected


def test_the_message_table_covers_every_kind_of_command() -> None:
    assert len(MESSAGES) >= 40
    assert {expected.kind for _, expected in MESSAGES} == set(CommandKind)


def test_a_code_typed_without_dots_is_understood() -> None:
    assert parse("HS 0000020H572404230001") == Lookup(F)
    assert parse("hs 0000020h572404230001") == Lookup(F)


def test_a_code_split_by_spaces_anywhere_is_understood() -> None:
    assert parse("HS 000 0 0 20 H 57 2404 23 000 1") == Lookup(F)


@pytest.mark.parametrize(
    "text",
    [
        "HS 000.00.20.H57-240423-0001",
        "Hủy nhận tin",
        "Đăng ký 000.00.20.H57-240423-0001",
        "tra cứu hồ sơ",
        "hướng dẫn",
        "dừng",
    ],
)
def test_decomposed_and_precomposed_accents_read_the_same(text: str) -> None:
    assert parse(unicodedata.normalize("NFD", text)) == parse(unicodedata.normalize("NFC", text))


def test_windows_1258_style_tone_marks_are_read_like_composed_letters() -> None:
    # Windows-1258 composes a base letter (ư, ơ, â ...) with a separate combining tone mark.
    assert parse("hu\u0309y") == OptOut()
    assert parse("d\u01b0\u0300ng") == OptOut()
    assert parse("tra c\u01b0\u0301u") == ListMine()


def test_ambiguous_words_keep_their_accents_apart() -> None:
    assert parse("dừng") == OptOut()
    assert parse("DUNG") == OptOut()
    assert parse("đúng") == NOT_UNDERSTOOD
    assert parse("dùng") == NOT_UNDERSTOOD
    assert parse("trả") == NOT_UNDERSTOOD
    assert parse("họ sợ") == NOT_UNDERSTOOD


def test_a_short_code_starting_like_a_keyword_is_still_a_short_code() -> None:
    glued = next(
        code
        for code in (short_code(n) for n in range(1, 100_000))
        if code[:2] in {"HS", "TC", "DK", "KT"} and code[2].isdigit()
    )
    assert parse(glued) == Lookup(glued)
    assert parse(display_short_code(glued)) == Lookup(glued)
    assert parse(f"hs {display_short_code(glued).lower()}") == Lookup(glued)


@pytest.mark.parametrize("keyword", ["HS", "TC", "DK", "KT", "TRA"])
def test_a_mistyped_short_code_starting_like_a_keyword_is_a_wrong_code(keyword: str) -> None:
    """Its reply must be the wrong-code reply whoever asks, as for any other mistyped code (the
    owner's phone was answered with its list of dossiers, a stranger's with an empty one)."""
    glued = next(
        code
        for code in (short_code(n) for n in range(1, 1_000_000))
        if code.startswith(keyword) and code[len(keyword)].isdigit()
    )
    for wrong in {glued[:-1] + c for c in "0127"} - {glued}:
        for text in (wrong, f"HS {wrong}", f"hs {display_short_code(wrong).lower()}"):
            assert parse(text) == BAD_CODE, text


def test_short_and_full_lookups_say_which_they_are() -> None:
    assert Lookup(SHORT).is_short
    assert not Lookup(F).is_short


def test_a_quoted_previous_message_does_not_decide_the_command() -> None:
    text = "huy\n> Ho so 000.00.20.H57-240423-0001: Dang xu ly. Soan DK de nhan lai"
    assert parse(text) == OptOut()


def test_a_very_long_message_is_cut_and_still_parsed() -> None:
    assert parse("HS 000.00.20.H57-240423-0001 " + "x" * 100_000) == Lookup(F)


# -- properties --------------------------------------------------------------------------------

DIGITS = "0123456789"
codes = st.builds(
    lambda a, b, c, letter, d, yy, mm, dd, seq: (
        f"{a}.{b}.{c}.{letter}{d}-{yy:02d}{mm:02d}{dd:02d}-{seq}"
    ),
    st.text(DIGITS, min_size=3, max_size=3),
    st.text(DIGITS, min_size=2, max_size=2),
    st.text(DIGITS, min_size=2, max_size=2),
    st.sampled_from("GH"),
    st.text(DIGITS, min_size=2, max_size=2),
    st.integers(0, 99),
    st.integers(1, 12),
    st.integers(1, 28),
    st.text(DIGITS, min_size=4, max_size=6),
)
secrets = st.text("23456789ABCDEFGHJKMNPQRSTVWXYZ", min_size=8, max_size=8)


def sloppy(code: str, rnd: random.Random) -> str:
    """A code as typed on a phone: separators lost or changed, O for 0, l for 1, any case."""
    out = []
    for ch in code:
        if ch in ".-" and rnd.random() < 0.6:
            out.append(rnd.choice(["", " ", "  ", "/", "_", ",", ";", ":", "#", "'", '"']))
            continue
        if ch == "0" and rnd.random() < 0.3:
            ch = rnd.choice("Oo")
        elif ch == "1" and rnd.random() < 0.3:
            ch = rnd.choice("IiLl")
        elif rnd.random() < 0.3:
            ch = ch.lower()
        out.append(ch)
        if rnd.random() < 0.05:
            out.append(rnd.choice([" ", "\u200b", " 🙂 "]))
    return "".join(out)


lookup_keywords = st.sampled_from(
    ["", "HS ", "hs ", "Hs", "TRA ", "tra ", "TC ", "tra cứu ", "Tra cuu ho so ", "kiểm tra "]
)


@given(codes, st.randoms(use_true_random=False), lookup_keywords, st.none() | secrets)
@example(CODE, random.Random(0), "HS", SECRET)
def test_sloppy_variants_of_real_codes_parse_to_the_same_folded_code(
    code: str, rnd: random.Random, keyword: str, secret: str | None
) -> None:
    typed_secret = "" if secret is None else " " + rnd.choice([secret, secret.lower()])
    text = " " * rnd.randint(0, 2) + keyword + sloppy(code, rnd) + typed_secret
    assert parse(text) == Lookup(fold(code), secret)


@given(st.integers(1, 2**30 - 1), st.sampled_from(["", "HS ", "hs", "TRA ", "tc ", "tra cuu "]))
def test_short_codes_parse_as_printed_or_typed(n: int, keyword: str) -> None:
    code = short_code(n)
    assert parse(keyword + display_short_code(code)) == Lookup(code)
    assert parse(keyword + code.lower()) == Lookup(code)


@given(codes, st.sampled_from(["dk ", "DK ", "đk ", "Đăng ký ", "dang ky "]))
def test_opt_in_carries_the_code(code: str, keyword: str) -> None:
    assert parse(keyword + code.lower()) == OptIn(fold(code))


@given(st.text(max_size=300))
@example("\ud800")
@example("HS " + "0" * 40)
@example("?" * 10)
def test_any_text_parses_to_a_command_without_raising(text: str) -> None:
    command = parse(text)
    assert command.kind in set(CommandKind)


@given(
    st.lists(
        st.sampled_from(
            [*[w for kw in KEYWORDS for w in kw.spellings], CODE, SHORT, SECRET, "?", "ơi", "😀"]
        ),
        max_size=8,
    ).map(" ".join)
)
def test_keyword_soup_never_raises(text: str) -> None:
    assert parse(text).kind in set(CommandKind)


spellings = st.sampled_from([(kw, s) for kw in KEYWORDS for s in kw.spellings])
tails = st.sampled_from(["", " " + CODE, " " + SHORT_SHOWN, " nhé"])


@given(spellings, tails, st.sampled_from([str.lower, str.upper, str.title]))
def test_a_keyword_means_the_same_with_or_without_diacritics(
    keyword: tuple[object, str], tail: str, case: object
) -> None:
    _, spelling = keyword
    assert callable(case)
    accented = case(spelling) + tail
    plain = case(strip_accents(spelling)) + tail
    assert parse(accented) == parse(plain)


@given(st.sampled_from([m for m, _ in MESSAGES]), st.randoms(use_true_random=False))
def test_zero_width_characters_change_nothing(text: str, rnd: random.Random) -> None:
    assume(text)
    position = rnd.randint(0, len(text))
    marked = text[:position] + rnd.choice("\u200b\u200c\u200d\u2060\ufeff") + text[position:]
    assert parse(marked) == parse(text)


@given(st.sampled_from([m for m, _ in MESSAGES]))
def test_case_never_changes_the_command_for_lowercase_messages(text: str) -> None:
    lowered = text.lower()
    assert parse(lowered.upper()).kind == parse(lowered).kind
