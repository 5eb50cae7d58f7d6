"""Outbound SMS: their states, priorities, and the retry policy (pure)."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class SmsState(StrEnum):
    QUEUED = "queued"  # waiting for a modem
    CLAIMED = "claimed"  # taken by a modem's owner thread, nothing sent yet
    SUBMITTING = "submitting"  # a part is being handed to the modem: its fate is unknown on a crash
    SUBMITTED = "submitted"  # every part accepted by the network (+CMGS)
    DELIVERED = "delivered"  # every part reported delivered to the phone
    FAILED = "failed"  # given up; the reason is kept


FINAL_STATES = frozenset({SmsState.DELIVERED, SmsState.FAILED})


class Priority(IntEnum):
    """Lower goes first: a citizen waiting for an answer before a notice they did not ask for."""

    REPLY = 0
    URGENT = 1
    NOTIFICATION = 2
    BULK = 3


class RetryWhere(StrEnum):
    HERE = "here"  # the same modem, later (e.g. no network for a moment)
    ELSEWHERE = "elsewhere"  # another modem (e.g. this SIM's SMSC is wrong)
    NEVER = "never"  # the number or the text is wrong: resending cannot help


MAX_ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 600.0


def retry_delay(attempts: int, where: RetryWhere) -> float | None:
    """Seconds before the next attempt after `attempts` failed ones; None: give up."""
    if where is RetryWhere.NEVER or attempts >= MAX_ATTEMPTS:
        return None
    if where is RetryWhere.ELSEWHERE:
        return 0.0
    return min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2.0 ** (attempts - 1))
