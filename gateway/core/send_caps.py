"""Send caps of one SIM (pure): a part may go out while the SIM has sent fewer parts than its caps
in the last 60 s, the last 3,600 s and Vietnam's calendar day (the carriers' day). The store
counts them (`gateway/store/caps.py`); the modem's owner asks `under_caps` before each SMS."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Caps:
    per_minute: int
    per_hour: int
    per_day: int


@dataclass(frozen=True, slots=True)
class SentLately:
    """Parts one SIM sent in the last minute, the last hour, and today."""

    minute: int
    hour: int
    day: int


def under_caps(sent: SentLately, caps: Caps) -> bool:
    """Whether the SIM may send one more part."""
    return sent.minute < caps.per_minute and sent.hour < caps.per_hour and sent.day < caps.per_day
