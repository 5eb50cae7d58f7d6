"""USSD answers (AT+CUSD, TS 27.007 7.15) and the prepaid balance carriers write in them (pure).

`unsolicited` reads a "+CUSD: <m>[,<str>[,<dcs>]]" result; `balance` finds the main account's
balance and the SIM's validity end in a carrier's answer. Vietnamese carriers answer *101# in
unaccented Vietnamese ("TK goc la 12d." Viettel, "TK chinh=19900 VND, HSD 16/09/2027." VinaPhone,
"TKC 25400 d, HSD 15/03/2026" MobiFone), some in accented Vietnamese or as UCS-2 hex. Recorded
answers, each with its source, are the fixtures of tests/unit/test_ussd.py.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

log = logging.getLogger(__name__)

CUSD = re.compile(r'^\+CUSD:\s*(\d)\s*(?:,\s*"(.*)"\s*(?:,\s*(\d+))?)?\s*$', re.DOTALL)
UCS2_DCS = (72, 0x48, 8)  # TS 23.038 cell broadcast / USSD: UCS2

# The main (not promotional) account: the word carriers use before the amount.
_AMOUNT = re.compile(
    r"(?:tk\s*goc|tk\s*chinh|tkc|tai\s*khoan\s*(?:goc|chinh)|tai\s*khoan\s*cua\s*quy\s*khach"
    r"|so\s*du(?:\s*tai\s*khoan)?(?:\s*chinh)?)"
    r"\s*(?:la|=|:)?\s*(-?\d[\d.,]*)\s*(?:d\b|dong\b|vnd\b|d[.,]|$)"
)
_VALIDITY = re.compile(
    r"(?:hsd|han\s*su\s*dung|het\s*han|han\s*dung|su\s*dung\s*den)\s*(?:den|toi|:)?\s*(?:ngay\s*)?"
    r"(\d{1,2})/(\d{1,2})/(\d{2,4})"
)


@dataclass(frozen=True, slots=True)
class UssdAnswer:
    status: int  # 0 done, 1 further action required, 2 ended by the network, 4 not supported...
    text: str | None


@dataclass(frozen=True, slots=True)
class Balance:
    vnd: int  # the main account, đồng
    valid_until: date | None  # the SIM's validity end, when the carrier says it
    text: str  # the answer as read


def unsolicited(line: str) -> UssdAnswer | None:
    """A "+CUSD:" line (with its string, which may have spanned several lines) decoded."""
    match = CUSD.match(line.strip())
    if match is None:
        return None
    status, text, dcs = int(match.group(1)), match.group(2), match.group(3)
    if text is not None:
        text = decode(text, int(dcs) if dcs else None)
    return UssdAnswer(status, text)


def decode(text: str, dcs: int | None) -> str:
    """The string of a +CUSD: as sent for UCS2 (dcs 72), or hex UCS-2 as some modems give it
    with AT+CSCS="UCS2" whatever the dcs; otherwise as it is."""
    compact = text.strip()
    looks_hex = len(compact) >= 8 and len(compact) % 4 == 0 and _is_hex(compact)
    if looks_hex and (dcs in UCS2_DCS or compact.startswith("00")):
        try:
            return bytes.fromhex(compact).decode("utf-16-be")
        except (ValueError, UnicodeDecodeError):
            return text
    return text


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


def plain(text: str) -> str:
    """Lower case without accents ("Tài khoản chính" -> "tai khoan chinh")."""
    text = text.replace("Đ", "D").replace("đ", "d")
    stripped = unicodedata.normalize("NFD", text)
    return "".join(c for c in stripped if unicodedata.category(c) != "Mn").lower()


def balance(text: str) -> Balance | None:
    """The balance in a carrier's answer, None when the answer names none."""
    flat = plain(text)
    amount = _AMOUNT.search(flat)
    if amount is None:
        return None
    digits = amount.group(1).rstrip(".,")
    if "," in digits and "." not in digits and len(digits.split(",")[-1]) != 3:
        digits = digits.split(",")[0]  # "1234,50": decimals, not a thousands separator
    try:
        vnd = int(digits.replace(".", "").replace(",", ""))
    except ValueError:
        return None
    valid = None
    found = _VALIDITY.search(flat)
    if found is not None:
        day, month, year = (int(g) for g in found.groups())
        try:
            valid = date(year + 2000 if year < 100 else year, month, day)
        except ValueError:
            valid = None
    return Balance(vnd, valid, text)
