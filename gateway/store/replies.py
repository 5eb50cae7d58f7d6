"""Limits on replies to citizens, opt-outs, and the modem each citizen last wrote to.

A sender gets at most `per_sender_per_hour` replies to lookups an hour, then one notice, then
silence; the office sends at most `daily_reply_budget` replies a day (a runaway loop with another
gateway, or an enumeration, cannot drain the SIMs' daily caps meant for notifications).

HUY / TD / STOP / DK are not lookups: they are applied whatever the limits, and confirmed even to
a sender over the lookup limit, within the daily budget. They have a per-sender limit of their
own (the same number an hour), because our confirmations name the other command ("soạn DK",
"soạn HUY"): an auto-responder echoing them back would otherwise loop with us until the budget is
gone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import cast

import redis

from gateway.core.times import VIETNAM
from gateway.store import keys

SENDER_MODEM_TTL = 30 * 86400  # how long a citizen's last modem is remembered


class Allowance(StrEnum):
    REPLY = "reply"
    NOTICE = "notice"  # the one "too many messages" notice of this hour
    SILENCE = "silence"


class ReplyLimits:
    def __init__(self, client: redis.Redis, per_sender_per_hour: int, daily_budget: int) -> None:
        self._redis = client
        self._per_sender = per_sender_per_hour
        self._budget = daily_budget

    def allow(self, phone: str, now: datetime) -> Allowance:
        """May a lookup (or any other command but HUY / DK) be answered?"""
        hour, day = _hour_and_day(now)
        if self._count(keys.sender_replies(phone, hour)) > self._per_sender:
            first = self._redis.set(keys.sender_limit_notice(phone, hour), "1", nx=True, ex=7200)
            return Allowance.NOTICE if first and self._spend(day) else Allowance.SILENCE
        return Allowance.REPLY if self._spend(day) else Allowance.SILENCE

    def allow_preference(self, phone: str, now: datetime) -> Allowance:
        """May the confirmation of HUY / DK be sent? Whatever lookups the sender made."""
        hour, day = _hour_and_day(now)
        if self._count(keys.sender_preferences(phone, hour)) > self._per_sender:
            return Allowance.SILENCE
        return Allowance.REPLY if self._spend(day) else Allowance.SILENCE

    def _count(self, name: str) -> int:
        pipe = self._redis.pipeline(transaction=False)
        pipe.incr(name)
        pipe.expire(name, 7200)
        count, _ = pipe.execute()
        return int(count)

    def _spend(self, day: str) -> bool:
        pipe = self._redis.pipeline(transaction=False)
        pipe.incr(keys.reply_budget(day))
        pipe.expire(keys.reply_budget(day), 2 * 86400)
        spent, _ = pipe.execute()
        return int(spent) <= self._budget


def _hour_and_day(now: datetime) -> tuple[str, str]:
    local = now.astimezone(VIETNAM)
    return local.strftime("%Y%m%d%H"), local.strftime("%Y%m%d")


class OptOuts:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def opt_out(self, phone: str) -> None:
        self._redis.sadd(keys.opted_out(), phone)

    def opt_in(self, phone: str) -> None:
        self._redis.srem(keys.opted_out(), phone)

    def is_out(self, phone: str) -> bool:
        return bool(self._redis.sismember(keys.opted_out(), phone))

    def are_out(self, phones: Iterable[str]) -> list[bool]:
        """Whether each phone opted out, in one round trip."""
        phones = list(phones)
        if not phones:
            return []
        return [bool(out) for out in self._redis.smismember(keys.opted_out(), phones)]


class SenderModems:
    """The modem each phone last wrote to, so that what we send it later (the SMS telling it its
    lookup code) comes from the number it knows."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def wrote_to(self, phone: str, modem: str) -> None:
        self._redis.set(keys.sender_modem(phone), modem, ex=SENDER_MODEM_TTL)

    def last(self, phones: Iterable[str]) -> dict[str, str]:
        """Phone -> the modem it last wrote to, for the phones that wrote lately."""
        phones = list(phones)
        if not phones:
            return {}
        found = cast(list[str | None], self._redis.mget([keys.sender_modem(p) for p in phones]))
        return {p: str(m) for p, m in zip(phones, found, strict=True) if m}
