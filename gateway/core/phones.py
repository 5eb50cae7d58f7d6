"""Phone numbers: E.164 normalisation, masking for logs, and the carrier hint by prefix."""

from __future__ import annotations

import re

from gateway.core.errors import InvalidPhone

_SEPARATORS = re.compile(r"[\s.\-()/]")

# Mobile prefixes (national significant number, after the country code). A routing hint only:
# numbers are portable between carriers.
CARRIER_PREFIXES: dict[str, tuple[str, ...]] = {
    "viettel": ("32", "33", "34", "35", "36", "37", "38", "39", "86", "96", "97", "98"),
    "vinaphone": ("81", "82", "83", "84", "85", "88", "91", "94"),
    "mobifone": ("70", "76", "77", "78", "79", "89", "90", "93"),
    "vietnamobile": ("52", "56", "58", "92"),
    "gmobile": ("59", "99"),
    "itelecom": ("87",),
}
_CARRIER_BY_PREFIX = {p: c for c, prefixes in CARRIER_PREFIXES.items() for p in prefixes}


def normalise_phone(text: str) -> str:
    """``0901 234 567``, ``84901234567`` or ``+84 90 123 4567`` -> ``+84901234567``."""
    raw = _SEPARATORS.sub("", text.strip())
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    if raw.startswith("+"):
        digits = raw[1:]
        if not digits.isdigit() or not 8 <= len(digits) <= 15 or digits.startswith("0"):
            raise InvalidPhone(text)
        if digits.startswith("84"):
            return _vietnamese(digits[2:].removeprefix("0"), text)
        return "+" + digits
    if not raw.isdigit():
        raise InvalidPhone(text)
    if raw.startswith("84") and len(raw) in (11, 12):
        return _vietnamese(raw[2:], text)
    if raw.startswith("0") and len(raw) in (10, 11):
        return _vietnamese(raw[1:], text)
    raise InvalidPhone(text)


def _vietnamese(national: str, original: str) -> str:
    if len(national) not in (9, 10) or national.startswith("0"):
        raise InvalidPhone(original)
    return "+84" + national


def carrier_of(e164: str) -> str | None:
    """The carrier a Vietnamese mobile number was first issued to, if known."""
    if not e164.startswith("+84") or len(e164) != 12:
        return None
    return _CARRIER_BY_PREFIX.get(e164[3:5])


def mask_phone(number: str) -> str:
    """A number fit for logs: ``+84901234567`` -> ``+8490*****67``."""
    if len(number) <= 6:
        return "*" * len(number)
    return number[:5] + "*" * (len(number) - 7) + number[-2:]
