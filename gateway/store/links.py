"""Carrier links in Redis: who drives each one (a lease), its published health, its counters, and
the receipts that came before the link knew their message id.

A link (`hoso smpp --link ID`) holds its lease while it runs, so that a second process for the
same link stands by instead of resolving the first one's submits as its own. Health is a hash
with a TTL: a link whose process is gone has no health after `drivers.HEALTH_TTL_SECONDS` (as a
modem's), and routing takes it for down. Counters are added in batches (one pipeline a second)
and read by /metrics.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import redis

from gateway.store import keys
from gateway.store.drivers import Leases, publish_health

ORPHAN_TTL_MS = 86_400_000  # a receipt nobody claimed in a day is dropped


def canonical_id(message_id: str, spelling: str = "same") -> str:
    """A message id as the index keeps it: trimmed, lower case, without leading zeros; with
    `spelling` "hex" or "decimal", the id of a submit_sm_resp rewritten the way the carrier's
    receipts spell it (Kannel's msg-id-type: decimal in the answer, hex in the receipt, or the
    reverse)."""
    text = message_id.strip().strip("\0").lower()
    if spelling == "hex" and text.isdigit():
        text = format(int(text), "x")
    elif spelling == "decimal" and text and all(c in "0123456789abcdef" for c in text):
        text = str(int(text, 16))
    return text.lstrip("0") or text[-1:] or ""


@dataclass(frozen=True, slots=True)
class Orphan:
    """A receipt whose message id the link did not know when it came."""

    member: str  # as stored (to remove it)
    message_id: str
    state: str
    recipient: str
    text: str
    at_ms: int


class LinkRegistry:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client
        self._leases = Leases(client, keys.link_owner)

    @property
    def client(self) -> redis.Redis:
        return self._redis

    # -- ownership ------------------------------------------------------------------------

    def hold(self, link: str, instance: str, lease_ms: int) -> bool:
        """Takes or renews the lease on `link` for `instance`; False if another instance has it."""
        return self._leases.hold(link, instance, lease_ms)

    def let_go(self, link: str, instance: str) -> None:
        self._leases.let_go(link, instance)

    def owner(self, link: str) -> str | None:
        return self._leases.owner(link)

    # -- health ----------------------------------------------------------------------------

    def publish_health(self, link: str, fields: Mapping[str, object]) -> None:
        publish_health(self._redis, keys.link_health(link), keys.link_ids(), link, fields)

    def health(self, link: str) -> dict[str, str]:
        return cast(dict[str, str], self._redis.hgetall(keys.link_health(link)))

    def known(self) -> list[str]:
        return sorted(str(m) for m in self._redis.smembers(keys.link_ids()))

    # -- counters ----------------------------------------------------------------------------

    def count(self, link: str, counters: Mapping[str, int]) -> None:
        """Adds a batch of counters (submitted, throttled, receipts:DELIVRD, error:<status>...)."""
        if not counters:
            return
        pipe = self._redis.pipeline(transaction=False)
        for name, value in counters.items():
            pipe.hincrby(keys.metrics_link(link), name, value)
        pipe.sadd(keys.link_ids(), link)
        pipe.execute()

    def counters(self, link: str) -> dict[str, int]:
        raw = cast(dict[str, str], self._redis.hgetall(keys.metrics_link(link)))
        return {k: int(v) for k, v in raw.items()}

    # -- receipts before their message id was known ------------------------------------------

    def add_orphan(
        self, link: str, message_id: str, state: str, recipient: str, text: str, now_ms: int
    ) -> None:
        entry = {"id": message_id, "state": state, "to": recipient, "text": text, "at": now_ms}
        member = json.dumps(entry, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        self._redis.zadd(keys.link_orphans(link), {member: now_ms})

    def orphans(self, link: str, limit: int = 1000) -> list[Orphan]:
        out = []
        for member in self._redis.zrange(keys.link_orphans(link), 0, limit - 1):
            entry: dict[str, Any] = json.loads(str(member))
            out.append(
                Orphan(
                    str(member),
                    str(entry["id"]),
                    str(entry["state"]),
                    str(entry["to"]),
                    str(entry["text"]),
                    int(entry["at"]),
                )
            )
        return out

    def drop_orphans(self, link: str, members: Iterable[str]) -> None:
        names = list(members)
        if names:
            self._redis.zrem(keys.link_orphans(link), *names)

    def prune_orphans(self, link: str, now_ms: int) -> int:
        return int(
            self._redis.zremrangebyscore(keys.link_orphans(link), "-inf", now_ms - ORPHAN_TTL_MS)
        )

    def orphan_count(self, link: str) -> int:
        return int(self._redis.zcard(keys.link_orphans(link)))
