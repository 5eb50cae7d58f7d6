"""Who drives a modem or a carrier link, and what it says of itself.

One process at a time drives a modem or a link: it holds a lease (a key with a TTL, renewed while
it runs), so that a second one stands by instead of acting for it. What the driver publishes of
its state is a hash with a TTL: a modem or link whose process is gone has no health after
`HEALTH_TTL_SECONDS`, and routing takes it for down. Modems and links keep theirs under their own
keys (`ModemRegistry`, `LinkRegistry`), by these same rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import redis

HEALTH_TTL_SECONDS = 30

# KEYS: owner key; ARGV: instance id, lease ms
LEASE = """
local owner = redis.call('GET', KEYS[1])
if owner == false or owner == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""


class Leases:
    """The leases on one kind of thing (modems, links); `key` names the lease of one."""

    def __init__(self, client: redis.Redis, key: Callable[[str], str]) -> None:
        self._redis = client
        self._key = key
        self._lease = client.register_script(LEASE)

    def hold(self, name: str, instance: str, lease_ms: int) -> bool:
        """Takes or renews the lease on `name` for `instance`; False while another holds it."""
        return bool(self._lease(keys=[self._key(name)], args=[instance, lease_ms]))

    def owner(self, name: str) -> str | None:
        holder = self._redis.get(self._key(name))
        return None if holder is None else str(holder)

    def let_go(self, name: str, instance: str) -> None:
        if self._redis.get(self._key(name)) == instance:
            self._redis.delete(self._key(name))


def publish_health(
    client: redis.Redis, key: str, ids_key: str, name: str, fields: Mapping[str, object]
) -> None:
    """Replaces the health hash `key` of `name` (None as ""), for `HEALTH_TTL_SECONDS`, and lists
    `name` in `ids_key`, the set of every modem or link that ever published."""
    flat: dict[Any, Any] = {k: "" if v is None else str(v) for k, v in fields.items()}
    pipe = client.pipeline(transaction=True)
    pipe.delete(key)
    pipe.hset(key, mapping=flat)
    pipe.expire(key, HEALTH_TTL_SECONDS)
    pipe.sadd(ids_key, name)
    pipe.execute()
