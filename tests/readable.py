"""What a person may read: the one checker for every surface (dashboard and citizen pages,
receipts, SMS, the counter station's lines). A person reads times in Vietnam's time written
dd/mm/yyyy HH:MM and statuses by their Vietnamese labels; never an ISO timestamp, a UTC time, a
time with seconds or microseconds, an English status name, or a Python repr.
"""

from __future__ import annotations

import re
from html import unescape

from gateway.core.status import Status

RULES: dict[str, re.Pattern[str]] = {
    "an ISO time": re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}|\b)"),
    "a UTC time or an offset": re.compile(
        r"\bUTC\b|\bGMT\b|\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z\b|[+-]\d{2}:?\d{2}\b)"
        r"|[+-]00:00|\+07:00"
    ),
    "a time with seconds": re.compile(r"\b\d{2}:\d{2}:\d{2}\b"),
    # 1,5 giờ, not 1.5 (a dot only between thousands: 12.345; addresses and versions have more)
    "a decimal point": re.compile(r"(?<![\d.,])\d+\.\d{1,2}(?![\d.,])"),
    "an English status name": re.compile(r"\b(?:" + "|".join(s.name for s in Status) + r")\b"),
    "a Python repr": re.compile(
        r"object at 0x|<[^<>]*\bat 0x[0-9a-fA-F]+>|Traceback|<class '|\b(?:Decimal|datetime"
        r"\.datetime|datetime\.date|datetime\.timedelta|Status|SmsState)\(|\bNone\b|\bTrue\b"
        r"|\bFalse\b|\{'|\['|\\x[0-9a-f]{2}|(?<![\w'])'[A-Za-z_][\w.:-]*'(?![\w'])"
    ),
}
SHOWN_TIME = re.compile(r"\b\d{2}/\d{2}/\d{4} \d{2}:\d{2}\b")
SHOWN_DATE = re.compile(r"\b\d{2}/\d{2}/\d{4}\b")


def readable(html: str) -> str:
    """The text a person reads on a page: no tags, no attribute values, no script or style."""
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S | re.I)
    return unescape(re.sub(r"<[^>]+>", " ", text))


def unreadable(text: str) -> list[tuple[str, str]]:
    """What in `text` a person should never read: (the rule broken, the text that broke it)."""
    return [
        (rule, found.group(0)) for rule, pattern in RULES.items() if (found := pattern.search(text))
    ]


def assert_readable(where: str, text: str) -> None:
    found = unreadable(text)
    assert not found, (where, found, text[:2000])
