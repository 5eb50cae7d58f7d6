"""Limits per client address over fixed windows: how many requests of one kind an address may
make in a window (the lookup page, photo decoding, failed signed requests). One class, the
policy (what is counted, how many, how long a window) passed in by whoever sets the limit.

The count of an address is one counter per window (`keys.ip_rate(purpose, address, window
number)`), counted with INCR and kept for two windows; the window number is the time in seconds
divided by its length, so every gateway process agrees on it. The address is the client's as
`gateway.http.proxies.client_address` reads it.

(The dashboard's login throttle, `login_throttle.py`, is another algorithm: a wait that doubles
per failed (username, address) pair, decided with the address's period in one script.)
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from gateway.store import keys


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    purpose: str  # what is counted: "lookup", "decode", "signed-auth" (part of the key)
    limit: int  # hits an address may make in a window
    window_seconds: int = 60


@dataclass(frozen=True, slots=True)
class Tally:
    count: int  # the address's hits in this window (counting this one, after `hit`)
    over: bool  # `hit`: this hit is over the limit; `peek`: the next one would be
    retry_after: int  # seconds until the window ends


class AddressLimit:
    def __init__(self, client: redis.Redis, policy: AddressPolicy) -> None:
        self._redis = client
        self.policy = policy

    def hit(self, address: str, now: float) -> Tally:
        """Counts a hit of `address`."""
        name = self._name(address, now)
        pipe = self._redis.pipeline(transaction=False)
        pipe.incr(name)
        pipe.expire(name, 2 * self.policy.window_seconds)
        count = int(pipe.execute()[0])
        return Tally(count, count > self.policy.limit, self._left(now))

    def peek(self, address: str, now: float) -> Tally:
        """The address's hits so far, counting nothing."""
        return self.peeked(self._redis.get(self._name(address, now)), now)

    def queue_peek(self, pipe: redis.client.Pipeline, address: str, now: float) -> None:
        """`peek` in the caller's pipeline (one round trip with its other reads): its answer
        goes to `peeked`."""
        pipe.get(self._name(address, now))

    def peeked(self, raw: object, now: float) -> Tally:
        count = int(str(raw)) if raw is not None else 0
        return Tally(count, count >= self.policy.limit, self._left(now))

    def _name(self, address: str, now: float) -> str:
        return keys.ip_rate(self.policy.purpose, address, int(now) // self.policy.window_seconds)

    def _left(self, now: float) -> int:
        return self.policy.window_seconds - int(now) % self.policy.window_seconds
