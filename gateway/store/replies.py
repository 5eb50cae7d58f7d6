"""Limits on replies to citizens, and opt-outs.

A sender gets at most `per_sender_per_hour` replies an hour, then one notice, then silence; the
office sends at most `daily_reply_budget` replies a day (a runaway loop with another gateway, or
an enumeration, cannot drain the SIMs' daily caps meant for notifications).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import redis

from gateway.core.times import VIETNAM
from gateway.store import keys


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
        local = now.astimezone(VIETNAM)
        hour, day = local.strftime("%Y%m%d%H"), local.strftime("%Y%m%d")
        pipe = self._redis.pipeline(transaction=False)
        pipe.incr(keys.sender_replies(phone, hour))
        pipe.expire(keys.sender_replies(phone, hour), 7200)
        count, _ = pipe.execute()
        if int(count) > self._per_sender:
            first = self._redis.set(keys.sender_limit_notice(phone, hour), "1", nx=True, ex=7200)
            return Allowance.NOTICE if first and self._spend(day) else Allowance.SILENCE
        return Allowance.REPLY if self._spend(day) else Allowance.SILENCE

    def _spend(self, day: str) -> bool:
        pipe = self._redis.pipeline(transaction=False)
        pipe.incr(keys.reply_budget(day))
        pipe.expire(keys.reply_budget(day), 2 * 86400)
        spent, _ = pipe.execute()
        return int(spent) <= self._budget


class OptOuts:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def opt_out(self, phone: str) -> None:
        self._redis.sadd(keys.opted_out(), phone)

    def opt_in(self, phone: str) -> None:
        self._redis.srem(keys.opted_out(), phone)

    def is_out(self, phone: str) -> bool:
        return bool(self._redis.sismember(keys.opted_out(), phone))
