"""What the replies to citizens leave behind in Redis: the counters their limits read, opt-outs,
and the modem each citizen last wrote to.

The limits themselves (how many replies a phone gets an hour, the office's daily budget, what is
confirmed over them) are the workers' (`worker/reply_limits.py`); the counters here only count,
each with a TTL past its window.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import redis

from gateway.store import keys

SENDER_MODEM_TTL = 30 * 86400  # how long a citizen's last modem is remembered
HOUR_COUNTER_TTL = 7200  # seconds a phone's counters of one hour are kept
DAY_COUNTER_TTL = 2 * 86400  # seconds the office's count of one day is kept


class ReplyCounters:
    """Per phone and hour: replies to lookups, confirmations of HUY / DK, the one "too many
    messages" notice; per day: the office's replies. `hour` and `day` name the window."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def count_reply(self, phone: str, hour: str) -> int:
        """Counts a reply to `phone` in `hour`; the count with it."""
        return self._count(keys.sender_replies(phone, hour), HOUR_COUNTER_TTL)

    def count_preference(self, phone: str, hour: str) -> int:
        """Counts a confirmation of HUY / DK to `phone` in `hour`; the count with it."""
        return self._count(keys.sender_preferences(phone, hour), HOUR_COUNTER_TTL)

    def first_limit_notice(self, phone: str, hour: str) -> bool:
        """True the first time it is asked for `phone` in `hour` (the one notice is this one)."""
        return bool(
            self._redis.set(
                keys.sender_limit_notice(phone, hour), "1", nx=True, ex=HOUR_COUNTER_TTL
            )
        )

    def spend(self, day: str) -> int:
        """Counts a reply of the office in `day`; the count with it."""
        return self._count(keys.reply_budget(day), DAY_COUNTER_TTL)

    def _count(self, name: str, ttl: int) -> int:
        pipe = self._redis.pipeline(transaction=False)
        pipe.incr(name)
        pipe.expire(name, ttl)
        count, _ = pipe.execute()
        return int(count)


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
