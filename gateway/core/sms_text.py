"""The text of outbound SMS: accents, alphabets, part counts, templates (pure).

Vietnamese needs letters (ă â ê ô ơ ư đ and most toned vowels) that the GSM 03.38 default
alphabet lacks, and one such letter turns the whole message into UCS-2: 70 UTF-16 units instead
of 160 septets. The default alphabet does hold à è é ì ò ù, so keeping "what fits" would send
half-accented text. A message is therefore either fully stripped (`strip_accents`: NFD, marks
dropped, đ→d) or fully accented, never in between (`render`).

The alphabet and the splitting of a text into parts are written here once, for everything that
sends (`split_parts`; `modem/sms_pdu.py` and `modem/smpp/coding.py` encode the parts it cuts):
TS 23.038 / 23.040, GSM-7 holds 160 septets in one message and 153 per part when concatenated with
an 8-bit reference (152 with a 16-bit one), an extension character (``^{}\\[~]|€`` and form feed)
costs two septets and an escape pair is never split; UCS-2 holds 70 UTF-16 units, 67 per part (66),
and a surrogate pair (emoji) is never split.

Templates are plain text with ``{placeholder}`` fields from a fixed vocabulary (`PLACEHOLDERS`).
A template with an unknown field, a format spec, or a stray brace is refused when it is built,
so a bad template stops the configuration from loading instead of reaching a citizen.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from gateway.core.errors import CoreError

# TS 23.038 6.2.1: the default alphabet by septet value; 0x1B escapes to the extension table.
GSM7_SEPTETS = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
GSM7_ESCAPE = 0x1B
# TS 23.038 6.2.1.1: the extension table, by the septet after the escape.
GSM7_EXTENSION_SEPTETS = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}
GSM7_BASIC = frozenset(ch for i, ch in enumerate(GSM7_SEPTETS) if i != GSM7_ESCAPE)
GSM7_EXTENSION = frozenset(GSM7_EXTENSION_SEPTETS.values())

SINGLE_PART = {"gsm7": 160, "ucs2": 70}
PER_PART = {"gsm7": 153, "ucs2": 67}  # concatenated, 6-octet UDH (8-bit reference)
PER_PART_WIDE_REF = {"gsm7": 152, "ucs2": 66}  # 7-octet UDH (16-bit reference)


class Alphabet(StrEnum):
    GSM7 = "gsm7"
    UCS2 = "ucs2"


@dataclass(frozen=True)
class Parts:
    alphabet: Alphabet
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    parts: int


@dataclass(frozen=True)
class Rendered:
    text: str
    alphabet: Alphabet
    parts: int


# -- accents and alphabets ---------------------------------------------------------------------

# Characters that NFD leaves alone but that have a plain GSM-7 look-alike.
_PLAIN = str.maketrans(
    {
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u2032": "'",
        "`": "'",
        "\u00b4": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2022": "-",
        "\u2026": "...",
        "\u00a0": " ",
        "\u2007": " ",
        "\u202f": " ",
        "\t": " ",
    }
)


def strip_accents(text: str) -> str:
    """Text with every accent removed (NFD, combining marks dropped, đ→d, Đ→D) and typographic
    quotes, dashes and spaces replaced by GSM-7 ones. What has no GSM-7 form (emoji, other
    scripts) is kept: the message then stays UCS-2, but loses no information."""
    decomposed = unicodedata.normalize("NFD", text.translate(_PLAIN))
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", kept)


def is_gsm7(text: str) -> bool:
    """Whether `text` (NFC) can be sent in the GSM 03.38 default alphabet plus its extension."""
    return all(
        ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in unicodedata.normalize("NFC", text)
    )


def _unit_costs(text: str, alphabet: Alphabet) -> list[int]:
    if alphabet is Alphabet.GSM7:
        return [1 if ch in GSM7_BASIC else 2 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def split_parts(
    text: str, *, ucs2: bool = False, wide_ref: bool = False
) -> tuple[Alphabet, list[str]]:
    """`text` (NFC) as it goes out: its alphabet (GSM-7 when every character is in the default
    alphabet or its extension, else UCS-2; `ucs2` forces UCS-2) and the texts of its parts: one
    if it fits a single message, else parts cut greedily to the size a concatenation header
    leaves (`wide_ref`: a 16-bit reference), never splitting an escape pair or a surrogate pair."""
    text = unicodedata.normalize("NFC", text)
    alphabet = Alphabet.UCS2 if ucs2 or not is_gsm7(text) else Alphabet.GSM7
    costs = _unit_costs(text, alphabet)
    if sum(costs) <= SINGLE_PART[alphabet]:
        return alphabet, [text]
    size = (PER_PART_WIDE_REF if wide_ref else PER_PART)[alphabet]
    chunks: list[str] = []
    start = used = 0
    for i, cost in enumerate(costs):
        if used + cost > size:
            chunks.append(text[start:i])
            start, used = i, 0
        used += cost
    chunks.append(text[start:])
    return alphabet, chunks


def count_parts(text: str) -> Parts:
    """How `text` (NFC) is sent: its alphabet, its length in that alphabet's units, and the
    number of SMS parts (`split_parts`)."""
    text = unicodedata.normalize("NFC", text)
    alphabet, chunks = split_parts(text)
    return Parts(alphabet, sum(_unit_costs(text, alphabet)), len(chunks))


def render(text: str, accented_if_free: bool) -> Rendered:
    """The text to send. Unaccented GSM-7 by default; with `accented_if_free`, the accented text
    (NFC) when it needs no more parts than the stripped one. Never partly accented."""
    accented = unicodedata.normalize("NFC", text)
    plain = strip_accents(accented)
    plain_parts = count_parts(plain)
    if accented_if_free and accented != plain:
        accented_parts = count_parts(accented)
        if accented_parts.parts <= plain_parts.parts:
            return Rendered(accented, accented_parts.alphabet, accented_parts.parts)
    return Rendered(plain, plain_parts.alphabet, plain_parts.parts)


# -- templates ---------------------------------------------------------------------------------

PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "code",  # the dossier code as the department sent it: 000.00.20.H57-240423-0001
        "short_code",  # as printed on the receipt: K7M2-QX4
        "status",  # the status label (status.LABELS)
        "due",  # the appointment date (ngày hẹn trả), already formatted: 25/04/2024
        "new_due",  # the new appointment the department set (in the postponement notice)
        "desk",  # where the dossier is / where to go
        "missing",  # documents to supplement
        "fee",  # the amount to pay, already formatted: 1.250.000 đồng
        "reason",  # why a dossier was refused or stopped
        "office",  # the office's short name: UBND phường Bến Nghé
        "hotline",  # the office's phone number
        "number",  # the number citizens text the office at: 0912 345 678
        "dossiers",  # a phone's dossiers, already joined: K7M2QX4 (Đang xử lý); ...
        "since",  # when the dossier reached its status, already formatted: 26/04/2024 14:30
    }
)


class TemplateError(CoreError):
    """A template that cannot be used: a bad body, or a value missing when filling it."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"SMS template {name!r}: {problem}")
        self.name = name
        self.problem = problem


@dataclass(frozen=True)
class Template:
    name: str
    body: str
    urgent: bool = False  # may be sent during quiet hours (22:00-07:00)

    def __post_init__(self) -> None:
        _fields(self.name, self.body)  # refuse a bad body when the template is made

    @property
    def placeholders(self) -> frozenset[str]:
        return frozenset(_fields(self.name, self.body))


def _fields(name: str, body: str) -> list[str]:
    try:
        pieces = list(string.Formatter().parse(body))
    except ValueError as exc:
        raise TemplateError(name, f"unbalanced brace ({exc})") from exc
    fields: list[str] = []
    for literal, field, spec, conversion in pieces:
        if "{" in literal or "}" in literal:
            raise TemplateError(name, "literal braces ({{ or }}) are not allowed")
        if field is None:
            continue
        if spec or conversion:
            raise TemplateError(name, f"{{{field}}} may not carry a format spec or conversion")
        if field not in PLACEHOLDERS:
            known = ", ".join(sorted(PLACEHOLDERS))
            raise TemplateError(name, f"unknown placeholder {{{field}}} (known: {known})")
        fields.append(field)
    return fields


_SPACES = re.compile(r"\s+")
_BRACES = str.maketrans("{}", "()")
_MARKS = frozenset(".,;:)")  # a template's marks after which a value's full stop is dropped


def fill(template: Template, values: Mapping[str, str]) -> str:
    """The template's body with each placeholder replaced by its value (whitespace collapsed,
    braces turned into parentheses so that no ``{...}`` ever reaches a phone, and a value's
    closing full stop dropped where the template puts a mark of its own right after it: a note
    "Thiếu bản sao." in "Cần bổ sung: {missing}." reads "Thiếu bản sao.", not "..."). A
    placeholder without a value is an error; values the template does not use are ignored."""
    pieces = list(string.Formatter().parse(template.body))
    out: list[str] = []
    for k, (literal, field, _spec, _conversion) in enumerate(pieces):
        out.append(literal)
        if field is None:
            continue
        if field not in values:
            raise TemplateError(template.name, f"no value for {{{field}}}")
        value = _SPACES.sub(" ", values[field]).strip().translate(_BRACES)
        after = pieces[k + 1][0] if k + 1 < len(pieces) else ""
        if after[:1] in _MARKS and value.endswith(".") and not value.endswith(".."):
            value = value[:-1].rstrip()
        out.append(value)
    return "".join(out)


def _t(name: str, body: str, urgent: bool = False) -> tuple[str, Template]:
    return name, Template(name, body, urgent)


# Replies answer the citizen's own message, so quiet hours do not hold them back (urgent=True);
# notices are proactive and wait for 07:00. Written accented; `render` strips them by default.
DEFAULT_TEMPLATES: dict[str, Template] = dict(
    [
        _t(
            "reply_status",
            "Hồ sơ {code}: {status}. Đang ở: {desk}. Hẹn trả: {due}.",
            urgent=True,
        ),
        _t(
            "reply_status_missing",
            "Hồ sơ {code}: {status}. Cần bổ sung: {missing}. Nộp tại: {desk}. Hẹn trả: {due}.",
            urgent=True,
        ),
        _t(
            "reply_ready",
            "Hồ sơ {code}: {status}. Mời nhận kết quả tại {desk} từ {since}, nhớ mang giấy "
            "biên nhận.",
            urgent=True,
        ),
        _t(
            "reply_status_closed",
            "Hồ sơ {code}: {status} (từ {since}).",
            urgent=True,
        ),
        _t(
            "reply_unknown",
            "Không tra cứu được hồ sơ. Vui lòng kiểm tra mã hồ sơ và gửi kèm mã bí mật in trên "
            "giấy biên nhận: HS <mã hồ sơ> <mã bí mật>.",
            urgent=True,
        ),
        _t(
            "reply_bad_code",
            "Mã hồ sơ không đúng, kiểm tra lại trên giấy biên nhận. Soạn HD để xem hướng dẫn.",
            urgent=True,
        ),
        _t(
            "reply_list_mine",
            "Hồ sơ của bạn: {dossiers}. Xem chi tiết: HS <mã hồ sơ>.",
            urgent=True,
        ),
        _t(
            "reply_list_empty",
            "Số điện thoại này không có hồ sơ nào đang chờ kết quả. Tra cứu: "
            "HS <mã hồ sơ> <mã bí mật>.",
            urgent=True,
        ),
        _t(
            "reply_help",
            "Tra cứu: HS <mã hồ sơ> <mã bí mật>. Hồ sơ của số này: TRA. Ngừng nhận tin: HUY. "
            "Nhận tin lại: DK.",
            urgent=True,
        ),
        _t(
            "reply_opted_out",
            "Bạn đã ngừng nhận tin nhắn về hồ sơ. Để nhận lại, soạn DK.",
            urgent=True,
        ),
        _t(
            "reply_opted_in",
            "Bạn sẽ nhận tin nhắn khi hồ sơ có thay đổi. Để ngừng nhận, soạn HUY.",
            urgent=True,
        ),
        _t(
            "reply_rate_limited",
            "Bạn đã gửi nhiều tin nhắn trong thời gian ngắn. Vui lòng thử lại sau 1 giờ.",
            urgent=True,
        ),
        _t(
            "notify_received",
            "{office} đã tiếp nhận hồ sơ {code}. Hẹn trả kết quả: {due}. "
            "Tra cứu: soạn HS {short_code} gửi số này.",
        ),
        _t(
            "notify_supplement_requested",
            "Hồ sơ {code} cần bổ sung: {missing}. Vui lòng nộp tại {desk}.",
        ),
        _t(
            "notify_fees_due",
            "Hồ sơ {code}: vui lòng nộp phí, lệ phí {fee} tại {desk} để tiếp tục giải quyết.",
        ),
        _t(
            "notify_result_ready",
            "Hồ sơ {code} đã có kết quả. Mời ông/bà mang giấy biên nhận đến {desk} để nhận.",
        ),
        _t(
            "notify_refused",
            "Hồ sơ {code} không được tiếp nhận. Lý do: {reason}. Liên hệ {desk}.",
        ),
        _t(
            "notify_stopped",
            "Hồ sơ {code} đã dừng xử lý. Lý do: {reason}. Liên hệ {desk}.",
        ),
        _t(
            "notify_due_soon",
            "Hồ sơ {code} có hẹn trả kết quả ngày {due} tại {desk}. Mời ông/bà đến đúng hẹn.",
        ),
        _t(
            "notify_overdue_apology",
            "{office} xin lỗi ông/bà: hồ sơ {code} chưa có kết quả đúng hẹn ngày {due}. "
            "Mọi thắc mắc xin liên hệ {hotline}.",
        ),
        _t(
            "notify_rescheduled",
            "{office} xin lỗi ông/bà: hồ sơ {code} chưa thể trả kết quả như đã hẹn. "
            "Xin hẹn lại ngày {new_due}. Lý do: {reason}. Mong ông/bà thông cảm.",
        ),
    ]
)


# What each template is for, as the dashboard names it beside an SMS sent with it or beside the
# template itself (an administrator reads these, not the templates' names).
PURPOSES: dict[str, str] = {
    "reply_status": "tình trạng hồ sơ",
    "reply_status_missing": "tình trạng hồ sơ và giấy tờ cần bổ sung",
    "reply_ready": "kết quả đã có, nơi nhận",
    "reply_status_closed": "hồ sơ đã kết thúc",
    "reply_unknown": "không tra cứu được (mã không có, hoặc cần mã bí mật)",
    "reply_bad_code": "mã hồ sơ gõ sai",
    "reply_list_mine": "các hồ sơ của số điện thoại",
    "reply_list_empty": "số điện thoại không có hồ sơ đang chờ",
    "reply_help": "hướng dẫn cú pháp",
    "reply_opted_out": "xác nhận ngừng nhận tin",
    "reply_opted_in": "xác nhận nhận tin lại",
    "reply_rate_limited": "nhắn quá nhiều trong một giờ",
    "notify_received": "đã tiếp nhận hồ sơ, mã tra cứu",
    "notify_supplement_requested": "yêu cầu bổ sung giấy tờ",
    "notify_fees_due": "yêu cầu nộp phí, lệ phí",
    "notify_result_ready": "đã có kết quả",
    "notify_refused": "không được tiếp nhận",
    "notify_stopped": "dừng xử lý",
    "notify_due_soon": "nhắc ngày hẹn trả",
    "notify_overdue_apology": "xin lỗi vì quá hạn",
    "notify_rescheduled": "hẹn lại ngày trả",
}


def sample_values(office: str, hotline: str, number: str = "") -> dict[str, str]:
    """What a template preview fills the placeholders with (the dashboard and `hoso templates
    preview`): realistic values, and the office's own name, hotline and number."""
    return {
        "code": "000.00.20.H57-240423-0001",
        "short_code": "CM4AE9K",
        "status": "Đang xử lý",
        "due": "26/04/2024",
        "new_due": "29/04/2024",
        "desk": "Phòng Tư pháp",
        "missing": "bản sao giấy khai sinh",
        "fee": "50.000 đồng",
        "reason": "thiếu hồ sơ",
        "dossiers": "CM4AE9K (Đang xử lý); PAZCGM6 (Đã xử lý xong)",
        "since": "26/04/2024 14:30",
        "office": office,
        "hotline": hotline or "0203 3xxx xxx",
        "number": number or "0912 345 678",
    }
