"""Slowing down password guessing at the dashboard's login, without locking anyone out.

Policy (documented in docs/install.md, "The dashboard"):
- Per (typed username, address) pair: the first `free_tries` tries go at once; after that, each
  further try must wait, the wait doubling with every failure from `first_wait` up to
  `longest_wait`. A success clears the pair. The account is never locked: its owner logging in
  from another address is not slowed at all, and from the guesser's address only waits.
- Per address (any usernames): after `address_tries` failures within `address_period`, the
  address waits until that period ends. One machine cannot guess across many accounts.
- Whether the username exists plays no part, so the throttle tells nothing about accounts.

Invariants: counting and deciding is one Lua script (atomic in Redis), and a try is counted as a
failure when it is admitted, before the password is checked (a success takes it back). So N
concurrent guesses cannot get past the limit: at most `free_tries` of them are checked before
the first wait begins, whatever the number of gateway workers. A refused try is not counted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import redis

from gateway.store import keys

# KEYS: the pair's hash, the address's hash (failures in the period, the period's end)
# ARGV: now ms, free tries, first wait ms, longest wait ms, address tries, address period ms,
#       pair memory ms
# Returns {0, 0}: admitted (and counted); {1, ms}: the address waits ms; {2, ms}: the pair does.
ADMIT = """
local now = tonumber(ARGV[1])
local period = tonumber(ARGV[6])
local address = tonumber(redis.call('HGET', KEYS[2], 'failures') or '0')
local period_end = tonumber(redis.call('HGET', KEYS[2], 'until') or '0')
if now >= period_end then
  address = 0
  period_end = now + period
end
if address >= tonumber(ARGV[5]) then
  return {1, period_end - now}
end
local failures = tonumber(redis.call('HGET', KEYS[1], 'failures') or '0')
local next_at = tonumber(redis.call('HGET', KEYS[1], 'next_at') or '0')
if now < next_at then
  return {2, next_at - now}
end
failures = failures + 1
local wait = 0
local free = tonumber(ARGV[2])
if failures >= free then
  wait = math.min(tonumber(ARGV[3]) * 2 ^ math.min(failures - free, 40), tonumber(ARGV[4]))
end
redis.call('HSET', KEYS[1], 'failures', failures, 'next_at', now + wait)
redis.call('PEXPIRE', KEYS[1], ARGV[7])
redis.call('HSET', KEYS[2], 'failures', address + 1, 'until', period_end)
redis.call('PEXPIRE', KEYS[2], period + 60000)
return {0, 0}
"""

# KEYS: the pair's hash, the address's hash. A success: the pair starts afresh and the
# address's count gives back the try counted when it was admitted.
SUCCEEDED = """
redis.call('DEL', KEYS[1])
if tonumber(redis.call('HGET', KEYS[2], 'failures') or '0') > 0 then
  redis.call('HINCRBY', KEYS[2], 'failures', -1)
end
return 1
"""

PAIR_MEMORY_MS = 24 * 3600 * 1000  # a pair quiet for a day starts afresh


@dataclass(frozen=True, slots=True)
class Policy:
    free_tries: int = 5
    first_wait: float = 2.0  # seconds
    longest_wait: float = 900.0
    address_tries: int = 20
    address_period: float = 900.0


@dataclass(frozen=True, slots=True)
class LoginVerdict:
    admitted: bool
    wait_seconds: float  # how long to wait before the next try (0 when admitted)
    by_address: bool  # refused because of the address (any usernames), not the pair


class LoginThrottle:
    def __init__(self, client: redis.Redis, policy: Policy) -> None:
        self._policy = policy
        self._admit = client.register_script(ADMIT)
        self._succeeded = client.register_script(SUCCEEDED)

    def admit(self, username: str, address: str, now: float) -> LoginVerdict:
        """Whether this try may check its password now; an admitted try is counted as failed
        until `succeeded` says otherwise."""
        p = self._policy
        kind, wait_ms = self._admit(
            keys=self._keys(username, address),
            args=[
                int(now * 1000),
                max(1, p.free_tries),
                int(p.first_wait * 1000),
                int(max(p.longest_wait, p.first_wait) * 1000),
                max(1, p.address_tries),
                max(1, int(p.address_period * 1000)),
                max(PAIR_MEMORY_MS, int(p.longest_wait * 2000)),
            ],
        )
        return LoginVerdict(int(kind) == 0, int(wait_ms) / 1000, int(kind) == 1)

    def succeeded(self, username: str, address: str) -> None:
        self._succeeded(keys=self._keys(username, address))

    @staticmethod
    def _keys(username: str, address: str) -> list[str]:
        pair = hashlib.sha256(f"{username}\0{address}".encode()).hexdigest()
        place = hashlib.sha256(address.encode()).hexdigest()
        return [keys.admin_login_pair(pair), keys.admin_login_address(place)]
