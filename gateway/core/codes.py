"""Dossier codes, short codes and secret lookup codes.

A dossier code looks like ``000.00.20.H57-240423-0001``: the agency id, the date received
(yymmdd) and a daily sequence. People type them sloppily, so every code is also known by its
*folded* form: upper case, letters and digits only, with O read as 0 and I or L read as 1. Lookups
go through the folded form, so ``ooo 00 20 h57 240423 OOO1`` finds ``000.00.20.H57-240423-0001``.

The short code printed under the receipt's Code128 is seven characters of Crockford's base 32
(no I, L, O, U), so folding never changes it, ending with a Luhn mod 32 check character that
catches every single-character typo and most swaps. It is made from a counter kept by the store,
scrambled by a bijection so that neighbouring dossiers do not get neighbouring short codes.

The secret lookup code is eight characters from an alphabet without look-alikes.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from gateway.core.errors import InvalidCode

CODE_PATTERN = re.compile(r"^[0-9A-Z]{3}\.[0-9A-Z]{2}\.[0-9A-Z]{2}\.[0-9A-Z]{3}-\d{6}-\d{4,6}$")
FOLDED_CODE_LENGTHS = range(20, 23)

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
        return folded[10:].isdigit()
    return is_short_code(folded)


# -- short codes -------------------------------------------------------------------------------


def short_code(counter: int) -> str:
    """The short code for the store's n-th dossier (n >= 1)."""
    if not 0 < counter < _SHORT_SPACE:
        raise ValueError(f"short code counter out of range: {counter}")
    n = (counter * _SCRAMBLE_MUL + _SCRAMBLE_ADD) % _SHORT_SPACE
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
