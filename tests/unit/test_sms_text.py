"""The text of replies and notices: accents, GSM-7 / UCS-2, part counts, templates."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gateway.core.sms_syntax import parse
from gateway.core.sms_text import (
    DEFAULT_TEMPLATES,
    GSM7_BASIC,
    GSM7_EXTENSION,
    PLACEHOLDERS,
    PURPOSES,
    Alphabet,
    Parts,
    Template,
    TemplateError,
    count_parts,
    fill,
    is_gsm7,
    render,
    strip_accents,
)
from gateway.core.status import LABELS, Status
from modem.sms_pdu import encode_parts

VIETNAMESE_LOWER = (
    "aàáảãạăằắẳẵặâầấẩẫậbcdđeèéẻẽẹêềếểễệghiìíỉĩịklmnoòóỏõọôồốổỗộơờớởỡợpqrstuùúủũụưừứửữựvxyỳýỷỹỵ"
)
VIETNAMESE = VIETNAMESE_LOWER + VIETNAMESE_LOWER.upper()
NOT_GSM_VIETNAMESE = "ăâêôơưđĂÂÊÔƠƯĐảạẩ"

vietnamese_text = st.text(VIETNAMESE + " .,:;-/0123456789", max_size=400)
any_sms_text = st.text(
    st.sampled_from(
        [*VIETNAMESE, *" .,!?0123456789\n", *GSM7_EXTENSION, "😀", "🙏", "€", "中", "\u0301"]
    ),
    max_size=500,
)


# -- accents and alphabets ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accented", "plain"),
    [
        ("Hồ sơ đã được tiếp nhận", "Ho so da duoc tiep nhan"),
        ("ĐANG XỬ LÝ", "DANG XU LY"),
        ("Yêu cầu bổ sung giấy tờ", "Yeu cau bo sung giay to"),
        ("Ngày hẹn trả: 25/04/2024", "Ngay hen tra: 25/04/2024"),
        ("“Phường Bến Nghé” – Quận 1…", '"Phuong Ben Nghe" - Quan 1...'),
        ("Hu\u0309y", "Huy"),
    ],
)
def test_strip_accents_leaves_plain_letters(accented: str, plain: str) -> None:
    assert strip_accents(accented) == plain


@given(vietnamese_text)
def test_stripped_vietnamese_is_always_gsm7(text: str) -> None:
    stripped = strip_accents(text)
    assert is_gsm7(stripped)
    assert stripped.isascii()
    assert len(stripped) == len(unicodedata.normalize("NFC", text))


def test_strip_accents_keeps_what_has_no_plain_form() -> None:
    assert strip_accents("Cảm ơn 🙏") == "Cam on 🙏"


@pytest.mark.parametrize(
    ("text", "gsm7"),
    [
        ("Ho so da xong", True),
        ("à è é ì ò ù", True),
        ("[{€}]^~|\\", True),
        ("ă", False),
        ("ơ", False),
        ("đ", False),
        ("😀", False),
        ("`", False),
        ("", True),
    ],
)
def test_is_gsm7_knows_the_default_alphabet_and_its_extension(text: str, gsm7: bool) -> None:
    assert is_gsm7(text) is gsm7


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Parts(Alphabet.GSM7, 0, 1)),
        ("a" * 160, Parts(Alphabet.GSM7, 160, 1)),
        ("a" * 161, Parts(Alphabet.GSM7, 161, 2)),
        ("a" * 306, Parts(Alphabet.GSM7, 306, 2)),
        ("a" * 307, Parts(Alphabet.GSM7, 307, 3)),
        ("€" * 80, Parts(Alphabet.GSM7, 160, 1)),
        ("€" * 81, Parts(Alphabet.GSM7, 162, 2)),
        # 152 septets then an escape pair: the pair moves whole to the next part
        ("a" * 152 + "€" + "a" * 152, Parts(Alphabet.GSM7, 306, 3)),
        ("ă" * 70, Parts(Alphabet.UCS2, 70, 1)),
        ("ă" * 71, Parts(Alphabet.UCS2, 71, 2)),
        ("ă" * 134, Parts(Alphabet.UCS2, 134, 2)),
        ("😀" * 35, Parts(Alphabet.UCS2, 70, 1)),
        ("😀" * 36, Parts(Alphabet.UCS2, 72, 2)),
        # 66 units then a surrogate pair: the pair moves whole to the next part
        ("ă" * 66 + "😀" + "ă" * 66, Parts(Alphabet.UCS2, 134, 3)),
    ],
)
def test_parts_are_counted_as_the_network_counts_them(text: str, expected: Parts) -> None:
    assert count_parts(text) == expected


@given(any_sms_text)
@example("a" * 152 + "€")
@example("ă" * 66 + "😀")
@example("a\u0301" * 100)
def test_part_counts_agree_with_the_modem_codec(text: str) -> None:
    parts = count_parts(text)
    assert len(encode_parts("+84912345678", text, concat_ref=1)) == parts.parts


@given(any_sms_text)
def test_units_are_septets_or_utf16_units(text: str) -> None:
    text = unicodedata.normalize("NFC", text)
    parts = count_parts(text)
    if parts.alphabet is Alphabet.GSM7:
        assert parts.units == sum(1 if ch in GSM7_BASIC else 2 for ch in text)
    else:
        assert parts.units == len(text.encode("utf-16-le")) // 2


# -- rendering ---------------------------------------------------------------------------------


def test_render_strips_accents_by_default() -> None:
    rendered = render("Hồ sơ đã xong", accented_if_free=False)
    assert rendered.text == "Ho so da xong"
    assert rendered.alphabet is Alphabet.GSM7
    assert rendered.parts == 1


def test_render_keeps_accents_when_they_cost_no_extra_part() -> None:
    rendered = render("Hồ sơ đã xong", accented_if_free=True)
    assert rendered.text == "Hồ sơ đã xong"
    assert rendered.alphabet is Alphabet.UCS2


def test_render_strips_accents_when_they_would_cost_a_part() -> None:
    text = "Hồ sơ 000.00.20.H57-240423-0001 đã được tiếp nhận. Hẹn trả kết quả: 25/04/2024."
    rendered = render(text, accented_if_free=True)
    assert rendered.alphabet is Alphabet.GSM7
    assert rendered.text == strip_accents(text)
    assert rendered.parts == 1


def test_a_text_with_only_gsm_accents_is_still_stripped_by_default() -> None:
    # "è" is in GSM-7, but keeping it next to stripped letters would be half-accented
    assert render("Hồ sơ: kết quả è", accented_if_free=False).text == "Ho so: ket qua e"


@given(vietnamese_text, st.booleans())
@example("Bà Nguyễn Thị Hà đã nộp hồ sơ", True)
@example("à" * 60 + "ơ", True)
def test_a_rendered_text_is_either_fully_accented_or_fully_stripped(
    text: str, accented_if_free: bool
) -> None:
    rendered = render(text, accented_if_free)
    accented = unicodedata.normalize("NFC", text)
    assert rendered.text in (accented, strip_accents(text))
    if rendered.text != accented or any(ch in accented for ch in NOT_GSM_VIETNAMESE):
        # stripped, or accented in UCS-2: never GSM-7 with à è é ì ò ù kept next to stripped ơ
        assert rendered.text == accented or rendered.text.isascii()
    if not accented_if_free:
        assert rendered.text == strip_accents(text)
    assert rendered.parts == count_parts(rendered.text).parts
    assert rendered.parts <= count_parts(strip_accents(text)).parts
    assert rendered.alphabet == count_parts(rendered.text).alphabet


# -- templates ---------------------------------------------------------------------------------

TYPICAL = {
    "code": "000.00.20.H57-240423-0001",
    "short_code": "K7M2-QX4",
    "status": LABELS[Status.PROCESSING],
    "due": "25/04/2024",
    "new_due": "02/05/2024",
    "desk": "Bộ phận Một cửa",
    "missing": "Bản sao CCCD",
    "fee": "50.000 đồng",
    "reason": "Hồ sơ không đủ điều kiện",
    "office": "UBND phường Bến Nghé",
    "hotline": "028 3829 1234",
    "dossiers": "K7M2QX4 (Đang xử lý)",
    "since": "24/04/2024 15:30",
}
LONGEST = {
    **TYPICAL,
    "code": "000.00.20.H57-240423-000123",
    "status": LABELS[Status.FEES_DUE],
    "desk": "Bộ phận Tiếp nhận và Trả kết quả UBND phường Bến Nghé",
    "missing": "Bản sao chứng thực CCCD; Giấy xác nhận tình trạng hôn nhân",
    "fee": "1.250.000 đồng",
    "reason": "Thiếu giấy tờ chứng minh quyền sử dụng đất hợp pháp",
    "office": "UBND phường Bến Nghé, Quận 1",
    "dossiers": "K7M2QX4 (Đang xử lý); P3RT9ZA (Yêu cầu bổ sung giấy tờ); H8WN2KD (Đã xử lý xong)",
}
EXPECTED_NAMES = {
    "reply_status",
    "reply_status_missing",
    "reply_ready",
    "reply_status_closed",
    "reply_unknown",
    "reply_bad_code",
    "reply_list_empty",
    "reply_list_mine",
    "reply_help",
    "reply_opted_out",
    "reply_opted_in",
    "reply_rate_limited",
    "notify_received",
    "notify_supplement_requested",
    "notify_fees_due",
    "notify_result_ready",
    "notify_refused",
    "notify_stopped",
    "notify_due_soon",
    "notify_overdue_apology",
    "notify_rescheduled",
}


def test_every_expected_default_template_exists_under_its_own_name() -> None:
    assert set(DEFAULT_TEMPLATES) >= EXPECTED_NAMES
    assert all(name == t.name for name, t in DEFAULT_TEMPLATES.items())


def test_every_template_has_a_vietnamese_purpose_for_the_dashboard() -> None:
    assert set(PURPOSES) == set(DEFAULT_TEMPLATES)
    assert all(purpose and "_" not in purpose for purpose in PURPOSES.values())


@pytest.mark.parametrize("name", sorted(DEFAULT_TEMPLATES))
def test_default_templates_fit_two_gsm7_parts_with_long_values(name: str) -> None:
    rendered = render(fill(DEFAULT_TEMPLATES[name], LONGEST), accented_if_free=False)
    assert rendered.alphabet is Alphabet.GSM7
    assert rendered.parts <= 2, rendered.text
    assert "{" not in rendered.text


@pytest.mark.parametrize("name", sorted(n for n in DEFAULT_TEMPLATES if n.startswith("reply_")))
def test_replies_fit_one_part_with_typical_values(name: str) -> None:
    rendered = render(fill(DEFAULT_TEMPLATES[name], TYPICAL), accented_if_free=False)
    assert rendered.parts == 1, (len(rendered.text), rendered.text)


def test_most_replies_fit_one_part_even_with_long_values() -> None:
    replies = [t for n, t in DEFAULT_TEMPLATES.items() if n.startswith("reply_")]
    one_part = [t for t in replies if render(fill(t, LONGEST), False).parts == 1]
    assert len(one_part) >= len(replies) - 2


def test_default_templates_are_written_accented() -> None:
    for template in DEFAULT_TEMPLATES.values():
        assert not is_gsm7(template.body), template.name


def test_the_unknown_reply_cannot_tell_which_failure_happened() -> None:
    # the same text for an unknown code, a wrong secret and someone else's dossier
    assert DEFAULT_TEMPLATES["reply_unknown"].placeholders == frozenset()
    assert DEFAULT_TEMPLATES["reply_bad_code"].placeholders == frozenset()


def test_the_unknown_reply_tells_a_stranger_to_send_the_secret() -> None:
    text = render(fill(DEFAULT_TEMPLATES["reply_unknown"], {}), accented_if_free=False).text
    assert text == (
        "Khong tra cuu duoc ho so. Vui long kiem tra ma ho so va gui kem ma bi mat in tren "
        "giay bien nhan: HS <ma ho so> <ma bi mat>."
    )


def test_the_help_reply_shows_the_syntax_and_its_examples_parse() -> None:
    text = render(fill(DEFAULT_TEMPLATES["reply_help"], {}), accented_if_free=False).text
    assert text == (
        "Tra cuu: HS <ma ho so> <ma bi mat>. Ho so cua so nay: TRA. Ngung nhan tin: HUY. "
        "Nhan tin lai: DK."
    )
    assert parse("HS 000.00.20.H57-240423-0001 ABCD2345").kind == "lookup"
    assert parse("TRA").kind == "list_mine"
    assert parse("HUY").kind == "opt_out"
    assert parse("DK").kind == "opt_in"


def test_every_reply_is_sentences_that_end_with_a_full_stop() -> None:
    for name, template in DEFAULT_TEMPLATES.items():
        text = render(fill(template, TYPICAL), accented_if_free=False).text
        assert text.endswith("."), name
        for wrong in ("..", " .", " ,", ",."):
            assert wrong not in text, name
        assert text[0].isupper(), name


def test_a_value_ending_with_a_full_stop_does_not_double_it() -> None:
    template = Template("t", "Cần bổ sung: {missing}. Nộp tại: {desk}.")
    assert fill(template, {"missing": "Bản sao CCCD.", "desk": "Quầy 1"}) == (
        "Cần bổ sung: Bản sao CCCD. Nộp tại: Quầy 1."
    )
    assert fill(Template("t", "{missing} ..."), {"missing": "A."}) == "A. ..."


def test_the_overdue_notice_apologises_and_gives_the_hotline_but_no_date_of_its_own() -> None:
    text = render(fill(DEFAULT_TEMPLATES["notify_overdue_apology"], TYPICAL), False).text
    assert "xin loi" in text
    assert "028 3829 1234" in text
    assert "02/05/2024" not in text  # no new date: only the department sets one
    assert "hen lai" not in text


def test_the_postponement_notice_apologises_and_gives_the_new_date_and_reason() -> None:
    text = render(fill(DEFAULT_TEMPLATES["notify_rescheduled"], TYPICAL), False).text
    assert "xin loi" in text
    assert "Xin hen lai ngay 02/05/2024. Ly do: Ho so khong du dieu kien." in text


def test_replies_may_go_out_at_night_and_notices_wait_for_the_morning() -> None:
    for name, template in DEFAULT_TEMPLATES.items():
        assert template.urgent == name.startswith("reply_"), name


def test_fill_puts_values_in_place() -> None:
    template = Template("t", "Hồ sơ {code}: {status}.")
    assert fill(template, {"code": "X-1", "status": "Đang xử lý", "desk": "unused"}) == (
        "Hồ sơ X-1: Đang xử lý."
    )


def test_an_unknown_placeholder_is_refused_when_the_template_is_made() -> None:
    with pytest.raises(TemplateError, match=r"'t'.*unknown placeholder \{cccd\}"):
        Template("t", "Số CCCD {cccd}")


@pytest.mark.parametrize(
    "body",
    ["{code!r}", "{code:>30}", "{0}", "{}", "{code.upper}", "{code", "code}", "{{code}}"],
)
def test_placeholders_are_plain_names_without_formatting(body: str) -> None:
    with pytest.raises(TemplateError):
        Template("t", body)


def test_a_missing_value_is_an_error_that_names_it() -> None:
    with pytest.raises(TemplateError, match=r"no value for \{due\}"):
        fill(DEFAULT_TEMPLATES["reply_status"], {"code": "X", "status": "Y", "desk": "Z"})


@given(st.dictionaries(st.sampled_from(sorted(PLACEHOLDERS)), st.text(max_size=40)))
def test_filled_text_never_contains_braces(values: dict[str, str]) -> None:
    full = {name: "" for name in PLACEHOLDERS} | values
    for template in DEFAULT_TEMPLATES.values():
        text = fill(template, full)
        assert "{" not in text
        assert "}" not in text


@given(st.text(max_size=60))
def test_values_are_put_on_one_line(value: str) -> None:
    text = fill(Template("t", "{desk}"), {"desk": value})
    assert "\n" not in text
    assert text == text.strip()
