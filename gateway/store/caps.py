"""The parts one SIM sent: sliding windows over the last minute and the last hour, and the day
(what the caps of `gateway/core/send_caps.py` are compared with).

A fixed minute window let a SIM send its 6 parts in the last second of one minute and 6 more in
the first second of the next (12 in two seconds, what carriers take for spam), and then made the
seventh citizen wait up to a minute for the window to turn. Here the minute and the hour are the
last 60 s and 3,600 s before now: a sorted set per modem of the times parts went out (trimmed to
the hour). The day stays the calendar day of Vietnam time (`ModemRegistry.sent_today`), as the
carriers count it and the dashboard shows it.
"""

from __future__ import annotations

import itertools
import os
from datetime import datetime

import redis

from gateway.core.send_caps import SentLately
from gateway.core.times import to_micros
from gateway.store import keys
from gateway.store.modems import ModemRegistry, windows

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
_SEQ = itertools.count()


class SendCaps:
    def __init__(self, registry: ModemRegistry) -> None:
        self._registry = registry
        self._redis: redis.Redis = registry.client

    def sent(self, modem: str, now: datetime) -> SentLately:
        """The parts the SIM sent in the 60 s and the 3,600 s before `now`, and today."""
        now_ms = to_micros(now) // 1000
        name = keys.modem_sent_times(modem)
        pipe = self._redis.pipeline(transaction=False)
        pipe.zcount(name, f"({now_ms - MINUTE_MS}", "+inf")
        pipe.zcount(name, f"({now_ms - HOUR_MS}", "+inf")
        pipe.get(keys.modem_sent(modem, windows(now)["day"][0]))  # as `sent_today` reads it
        minute, hour, day = pipe.execute()
        return SentLately(int(minute), int(hour), int(day or 0))

    def count(self, modem: str, now: datetime) -> None:
        """One part went out now (besides `ModemRegistry.count_sent`, the calendar counts)."""
        now_ms = to_micros(now) // 1000
        name = keys.modem_sent_times(modem)
        pipe = self._redis.pipeline(transaction=True)
        pipe.zadd(name, {f"{now_ms}:{os.getpid()}:{next(_SEQ)}": now_ms})
        pipe.zremrangebyscore(name, "-inf", now_ms - HOUR_MS)
        pipe.pexpire(name, HOUR_MS + MINUTE_MS)
        pipe.execute()
