"""Dossier codes, short codes and secret lookup codes.

A dossier code looks like ``000.00.20.H57-240423-0001``: the agency id, the date received
(yymmdd) and a daily sequence. People type them sloppily, so every code is also known by its
*folded* form: upper case, letters and digits only, with O read as 0 and I or L read as 1. Lookups
go through the folded form, so ``ooo 00 20 h57 240423 OOO1`` finds ``000.00.20.H57-240423-0001``.

The short code printed under the receipt's Code128 is seven characters of Crockford's base 32
(no I, L, O, U), so folding never changes it, ending with a Luhn mod 32 check character that
catches every single-character typo and most swaps. Its body is a number below 2**30 drawn at
random (`new_short_code`, from `secrets`): a short code says nothing about any other dossier, and
knowing one does not help to guess another. The store refuses a number already taken in the same
atomic step that indexes the new one, and draws again. (Installations before 0.3.0 numbered short
codes from a counter, so their first dossiers all had PAZCGM6, CM4AE9K...: those codes stay valid
and findable; only new ones are random.)

The secret lookup code is eight characters from an alphabet without look-alikes.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from gateway.core.errors import InvalidCode

_CODE = r"[0-9A-Z]{3}\.[0-9A-Z]{2}\.[0-9A-Z]{2}\.[0-9A-Z]{3}-\d{6}-\d{4,6}"
CODE_PATTERN = re.compile(f"^{_CODE}$")  # a canonical dossier code, whole
CODE_INSIDE = re.compile(_CODE)  # a canonical dossier code amid other text
FOLDED_CODE_LENGTHS = range(20, 23)
MAX_FOLDED_CODE = FOLDED_CODE_LENGTHS[-1]

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SHORT_BODY_LENGTH = 6
SHORT_LENGTH = SHORT_BODY_LENGTH + 1
_SHORT_SPACE = 32**SHORT_BODY_LENGTH  # 2**30
_SCRAMBLE_MUL = 0x2C9277B5  # odd, so multiplication is a bijection modulo 2**30
_SCRAMBLE_ADD = 0x1D3A5F

SECRET_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
SECRET_LENGTH = 8

_FOLD = str.maketrans({"O": "0", "I": "1", "L": "1"})
_NOT_ALNUM = re.compile(r"[^0-9A-Z]")


def fold(text: str) -> str:
    """The form under which a code is looked up, whatever way it was typed."""
    return _NOT_ALNUM.sub("", text.upper()).translate(_FOLD)


def canonical_code(text: str) -> str:
    """A dossier code as departments send it, checked: upper case, dots and dashes in place."""
    code = text.strip().upper()
    if not CODE_PATTERN.fullmatch(code):
        raise InvalidCode(text)
    return code


def looks_like_code(text: str) -> bool:
    """Whether typed text could be a full dossier code or a short code (before any lookup)."""
    folded = fold(text)
    if len(folded) in FOLDED_CODE_LENGTHS:
        return is_folded_full_code(folded)
    return is_short_code(folded)


def is_folded_full_code(folded: str) -> bool:
    """Whether folded text has the shape of a folded full dossier code: 20 to 22 characters,
    all digits after the agency id (date and sequence)."""
    return len(folded) in FOLDED_CODE_LENGTHS and folded[10:].isdigit()


def code_inside(text: str) -> str | None:
    """The first canonical dossier code written in `text` (in any case), or None."""
    found = CODE_INSIDE.search(text.upper())
    return found.group(0) if found else None


# -- short codes -------------------------------------------------------------------------------


def new_short_code(randbelow: Callable[[int], int]) -> str:
    """A fresh short code; `randbelow` is the caller's randomness (`secrets.randbelow`). Each
    half as printed (``K7M2-QX4``) holds a digit, so that no part of it ever reads as a word
    ("PHAP-RND" would be the "cú pháp" of the help keyword) however it is typed: about half the
    codes qualify, over 500 million."""
    while True:
        code = short_code(1 + randbelow(_SHORT_SPACE - 1))
        if _has_digit(code[:4]) and _has_digit(code[4:]):
            return code


def _has_digit(text: str) -> bool:
    return any(c.isdigit() for c in text)


def short_code(number: int) -> str:
    """The short code numbered `number` (1 <= number < 2**30). Numbers are scrambled by a
    bijection, so neighbouring numbers get unrelated codes."""
    if not 0 < number < _SHORT_SPACE:
        raise ValueError(f"short code number out of range: {number}")
    n = (number * _SCRAMBLE_MUL + _SCRAMBLE_ADD) % _SHORT_SPACE
    body = ""
    for _ in range(SHORT_BODY_LENGTH):
        n, digit = divmod(n, 32)
        body = CROCKFORD[digit] + body
    return body + _luhn32_check(body)


def is_short_code(text: str) -> bool:
    """Whether folded text is a short code with a correct check character."""
    folded = fold(text)
    if len(folded) != SHORT_LENGTH or any(c not in CROCKFORD for c in folded):
        return False
    return _luhn32_check(folded[:-1]) == folded[-1]


def display_short_code(code: str) -> str:
    """How a short code is printed: ``K7M2-QX4``."""
    return f"{code[:4]}-{code[4:]}"


def _luhn32_check(body: str) -> str:
    factor = 2
    total = 0
    for ch in reversed(body):
        addend = factor * CROCKFORD.index(ch)
        total += addend // 32 + addend % 32
        factor = 3 - factor
    return CROCKFORD[(32 - total % 32) % 32]


# -- secrets -----------------------------------------------------------------------------------


def make_secret(randbelow: Callable[[int], int]) -> str:
    """A fresh secret lookup code; `randbelow` is the caller's randomness (`secrets.randbelow`)."""
    return "".join(SECRET_ALPHABET[randbelow(len(SECRET_ALPHABET))] for _ in range(SECRET_LENGTH))


def normalise_secret(text: str) -> str:
    """A secret as typed, in the form it is compared: upper case, no spaces or dashes."""
    return _NOT_ALNUM.sub("", text.upper())
