"""Outbound SMS: their states, priorities, the retry policy, and how status reports name them
(pure). Which state follows which: `sms_lifecycle.py`."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class SmsState(StrEnum):
    QUEUED = "queued"  # waiting for a modem
    CLAIMED = "claimed"  # taken by a modem's owner thread, nothing sent yet
    SUBMITTING = "submitting"  # a part is being handed to the modem: its fate is unknown on a crash
    SUBMITTED = "submitted"  # every part accepted by the network (+CMGS)
    DELIVERED = "delivered"  # every part reported delivered to the phone
    FAILED = "failed"  # given up; the reason is kept


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


REPORTS_ALIVE_MS = 6 * 3600 * 1000  # a modem whose last status report is older sends none


def reports_alive(last_report_ms: int | None, now_ms: int) -> bool:
    """Whether a modem's network sends status reports: one came in the last `REPORTS_ALIVE_MS`.
    Without them, a silence after a part of unknown fate proves nothing."""
    return last_report_ms is not None and now_ms - last_report_ms < REPORTS_ALIVE_MS


def report_number(number: str) -> str:
    """A recipient as it is compared with a status report's: its last 9 digits. The SMSC may
    write the number national (09...), international without '+' or as E.164."""
    digits = "".join(c for c in number if c.isdigit())
    return digits[-9:] if len(digits) >= 9 else number
