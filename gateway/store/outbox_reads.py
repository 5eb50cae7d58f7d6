"""Reading the outbox: an SMS, its attempt log, the SMS of a phone or a dossier, what waits in a
queue. Nothing here changes an SMS's state (`outbox.py` does, through its scripts)."""

from __future__ import annotations

import json
from typing import Any, cast

import redis

from gateway.store import keys
from gateway.store.outbound import Outbound


class OutboxReads:
    def __init__(self, client: redis.Redis, instance: str = "") -> None:
        self._redis = client
        self._instance = instance  # who acts: recorded in the attempt log

    def get(self, message_id: str) -> Outbound | None:
        raw = cast(dict[str, str], self._redis.hgetall(keys.sms(message_id)))
        return Outbound.from_hash(raw) if raw else None

    def attempts(self, message_id: str) -> list[dict[str, Any]]:
        """The attempt log of one SMS, oldest first."""
        raw = self._redis.lrange(keys.sms_attempts(message_id), 0, -1)
        return [json.loads(str(entry)) for entry in cast(list[str], raw)]

    def ids_for(self, *, phone: str = "", dossier: str = "", limit: int = 10_000) -> list[str]:
        """The ids of the SMS to `phone` or about `dossier` (the smaller index when both are
        given; the caller filters by the other), newest first, at most `limit`."""
        names = []
        if phone:
            names.append(keys.sms_by_phone(phone))
        if dossier:
            names.append(keys.sms_by_dossier(dossier))
        if not names:
            raise ValueError("a phone or a dossier is needed")
        name = min(names, key=lambda n: int(self._redis.zcard(n)))
        return [str(i) for i in self._redis.zrevrange(name, 0, limit - 1)]

    def reindex(self, message_id: str) -> bool:
        """Adds one stored SMS to the indexes by phone and dossier (an upgrade step for SMS
        queued before the indexes existed); False if there is no such SMS."""
        raw = cast(
            list[str | None], self._redis.hmget(keys.sms(message_id), "to", "dossier", "created_ms")
        )
        to, dossier, created = raw
        if not to:
            return False
        pipe = self._redis.pipeline(transaction=False)
        pipe.zadd(keys.sms_by_phone(to), {message_id: int(created or 0)})
        if dossier:
            pipe.zadd(keys.sms_by_dossier(dossier), {message_id: int(created or 0)})
        pipe.execute()
        return True

    def depth(self, modem: str | None = None) -> int:
        """How many SMS wait in the shared queue, or in the queue of one modem or link."""
        if modem is None:
            return int(self._redis.zcard(keys.outbox_shared()))
        return int(self._redis.zcard(keys.outbox_pinned(modem)))

    def waiting(self, via: str, limit: int) -> list[dict[str, str]]:
        """The first `limit` SMS queued for `via` ("" the shared queue): id, kind, via, origin,
        office and queue of each (what routing needs to move them)."""
        queue = keys.outbox_pinned(via) if via else keys.outbox_shared()
        ids = [str(i) for i in self._redis.zrange(queue, 0, limit - 1)]
        names = ("id", "kind", "via", "origin", "office", "queue")
        pipe = self._redis.pipeline(transaction=False)
        for message_id in ids:
            pipe.hmget(keys.sms(message_id), list(names))
        rows = []
        for values in pipe.execute():
            row = dict(zip(names, cast(list[str | None], values), strict=True))
            if row["id"]:
                rows.append({k: v or "" for k, v in row.items()})
        return rows

    def last_reference(self, modem: str) -> int | None:
        """The TP-MR of the last part this modem's network accepted, if any is recorded."""
        value = self._redis.get(keys.modem_last_reference(modem))
        return int(value) if value is not None else None

    def last_report_ms(self, modem: str) -> int | None:
        """When this modem's network last sent a status report, if lately (kept 6 hours)."""
        value = self._redis.get(keys.modem_last_report(modem))
        return int(value) if value is not None else None
