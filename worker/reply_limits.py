"""Limits on replies to citizens (the counters they read: `gateway.store.replies.ReplyCounters`).

A sender gets at most `per_sender_per_hour` replies to lookups an hour (Vietnam's hour), then one
notice, then silence; the office sends at most `daily_reply_budget` replies a day (Vietnam's day:
a runaway loop with another gateway, or an enumeration, cannot drain the SIMs' daily caps meant
for notifications).

Both are counted per office (the office the citizen wrote to): a flood at one office's number
neither silences a citizen at another office nor spends its budget. The default office keeps the
counters' names of an installation without offices; another office's windows carry its id. An
office may set its own budget (`Office.reply_budget`, 0: the `[sms]` one).

HUY / TD / STOP / DK are not lookups: they are applied whatever the limits, and confirmed even to
a sender over the lookup limit, within the daily budget. They have a per-sender limit of their
own (the same number an hour), because our confirmations name the other command ("soạn DK",
"soạn HUY"): an auto-responder echoing them back would otherwise loop with us until the budget is
gone.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from gateway.core.offices import DEFAULT_OFFICE
from gateway.core.times import VIETNAM
from gateway.store.replies import ReplyCounters


class Allowance(StrEnum):
    REPLY = "reply"
    NOTICE = "notice"  # the one "too many messages" notice of this hour
    SILENCE = "silence"


class ReplyLimits:
    def __init__(
        self, counters: ReplyCounters, per_sender_per_hour: int, daily_budget: int
    ) -> None:
        self._counters = counters
        self._per_sender = per_sender_per_hour
        self._budget = daily_budget

    def allow(
        self, phone: str, now: datetime, office: str = DEFAULT_OFFICE, budget: int = 0
    ) -> Allowance:
        """May a lookup (or any other command but HUY / DK) to `office` be answered? `budget`:
        the office's own daily budget (0: the one this was made with)."""
        hour, day = _hour_and_day(now, office)
        if self._counters.count_reply(phone, hour) > self._per_sender:
            first = self._counters.first_limit_notice(phone, hour)
            return Allowance.NOTICE if first and self._spend(day, budget) else Allowance.SILENCE
        return Allowance.REPLY if self._spend(day, budget) else Allowance.SILENCE

    def allow_preference(
        self, phone: str, now: datetime, office: str = DEFAULT_OFFICE, budget: int = 0
    ) -> Allowance:
        """May the confirmation of HUY / DK be sent? Whatever lookups the sender made."""
        hour, day = _hour_and_day(now, office)
        if self._counters.count_preference(phone, hour) > self._per_sender:
            return Allowance.SILENCE
        return Allowance.REPLY if self._spend(day, budget) else Allowance.SILENCE

    def _spend(self, day: str, budget: int) -> bool:
        return self._counters.spend(day) <= (budget or self._budget)


def _hour_and_day(now: datetime, office: str) -> tuple[str, str]:
    """The counters' windows: Vietnam's hour and day, of the office (the default office's are
    named as before offices)."""
    local = now.astimezone(VIETNAM)
    prefix = "" if office == DEFAULT_OFFICE else f"{office}:"
    return prefix + local.strftime("%Y%m%d%H"), prefix + local.strftime("%Y%m%d")
