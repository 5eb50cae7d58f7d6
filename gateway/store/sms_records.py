"""Stored outbound SMS read in bulk, for people (the dashboard's message search) and for operator
work over all of them (`hoso messages resend-failed`, `reindex`). The queue and its states are
`outbox.py`'s; this module only reads the SMS hashes it leaves.

Ids are INCR counters (`keys.sms_counter()`), so every SMS ever stored has an id from 1 to the
counter, and walking down from the counter is newest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import redis

from gateway.store import keys


class SmsRecords:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def all_ids(self) -> range:
        """Every id given so far, oldest first."""
        return range(1, self._top() + 1)

    def newest_ids(self, count: int) -> list[str]:
        """The `count` newest ids, newest first."""
        top = self._top()
        return [str(i) for i in range(top, max(top - count, 0), -1)]

    def queued_under(self, dedupe_key: str) -> bool:
        """Whether an SMS was enqueued under this dedupe key (`Outbox.enqueue`'s)."""
        return bool(self._redis.exists(keys.sms_dedupe(dedupe_key)))

    def fields(
        self, ids: Sequence[str | int], names: Sequence[str]
    ) -> list[tuple[str | None, ...]]:
        """The fields `names` of each SMS (None where a field, or the SMS, is missing), in one
        round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for message_id in ids:
            pipe.hmget(keys.sms(str(message_id)), list(names))
        return [tuple(values) for values in pipe.execute()]

    def _top(self) -> int:
        return int(cast(str | None, self._redis.get(keys.sms_counter())) or 0)
