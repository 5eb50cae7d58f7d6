"""A citizen's SMS as tokens, the way the parser (`gateway.core.sms_syntax`) reads it: NFKC text,
zero-width and format characters dropped, each letter reduced to its base ASCII letter (đ→d), and
everything that is not a letter or a digit (punctuation, emoji, spaces) separating tokens. Each
token keeps its original spelling too, so that an ambiguous keyword can insist on its own accents
("dừng" is stop, "đúng" is "right")."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Token:
    ascii: str  # lower case letters and digits
    raw: str  # the same characters as typed (NFC, lower case, accents kept)
    shouted: bool  # typed in capitals

    @property
    def plain(self) -> bool:
        return self.raw == self.ascii


def base_letter(ch: str) -> str:
    """The ASCII letter or digit under one NFC character, or '' if there is none."""
    if ch in "đĐðÐ":
        return "d"
    base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
    base = base.lower()
    return base if len(base) == 1 and base.isascii() and base.isalnum() else ""


def ascii_words(text: str) -> str:
    """`text` as its tokens' ASCII forms, one space apart ("Hủy đăng ký" -> "huy dang ky")."""
    return " ".join(t.ascii for t in tokens_of(text))


def tokens_of(text: str) -> list[Token]:
    found: list[Token] = []
    asc: list[str] = []
    raw: list[str] = []
    upper = lower = 0

    def flush() -> None:
        nonlocal upper, lower
        if asc:
            found.append(Token("".join(asc), "".join(raw), upper >= 2 and lower == 0))
        asc.clear()
        raw.clear()
        upper = lower = 0

    for ch in text:
        if unicodedata.category(ch) in ("Cf", "Mn", "Me"):  # zero-width, stray marks
            continue
        base = base_letter(ch)
        if not base:
            flush()
            continue
        asc.append(base)
        raw.append(ch.lower() if len(ch.lower()) == 1 else ch)
        upper += ch.isupper()
        lower += ch.islower()
    flush()
    return found
