"""What the gateway checks in Redis before it lets a signed request in, in two round trips.

1. `arrive` (before the signature is checked): the credential, and how many requests from the
   client's address failed to authenticate in this minute.
2. `admit` (only once the signature verified): in one script, whether the signature was seen
   before (replay), and the key's request count in this minute; the signature is marked used
   only when the request is let in (a rate-limited request may be sent again as it is). The
   claim of the request's Idempotency-Key rides in the same trip.

Nothing a request without the key's secret sends changes the key's state: not its quota, not
its used signatures, not its Idempotency-Keys. A failed authentication costs its address one of
its failures (`count_failure`, an `AddressLimit` with the policy it is given); an address over
its limit gets 429 before anything is checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import redis

from gateway.store import keys
from gateway.store.address_limits import AddressLimit, AddressPolicy
from gateway.store.idempotency import ClaimResult, queue_claim, read_claim

RATE_WINDOW_SECONDS = 60
FAILURE_PURPOSE = "signed-auth"  # keys.ip_rate's purpose for failed authentications

# KEYS: used signature, the key's rate counter; ARGV: signature TTL, counter TTL, requests allowed
# -> 0 for a replay (nothing counted), else the request's number in the window
ADMIT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local n = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
if n <= tonumber(ARGV[3]) then redis.call('SET', KEYS[1], '1', 'EX', ARGV[1]) end
return n
"""


@dataclass(frozen=True, slots=True)
class Arrival:
    credential: dict[str, str]  # the stored hash; empty if the key id is unknown or malformed
    failures: int  # failed authentications from the client's address in this window
    address_limited: bool  # the address has used up its failures of this window
    retry_after: int  # seconds until the window ends


@dataclass(frozen=True, slots=True)
class Admission:
    fresh_signature: bool  # False: this signature was used before (a replay)
    requests_in_window: int  # the key's verified requests in this window, this one included
    retry_after: int
    claim: ClaimResult | None  # the Idempotency-Key claim, when the request carries one


def _window(now: float) -> tuple[int, int]:
    """The rate window of `now`, and the seconds left in it."""
    return int(now) // RATE_WINDOW_SECONDS, RATE_WINDOW_SECONDS - int(now) % RATE_WINDOW_SECONDS


def failure_policy(failures_per_minute: int) -> AddressPolicy:
    """The limit on failed authentications per address (`[gateway] auth_failures_per_minute`)."""
    return AddressPolicy(FAILURE_PURPOSE, failures_per_minute, RATE_WINDOW_SECONDS)


class Gatekeeper:
    def __init__(self, client: redis.Redis, signature_ttl: int, failures: AddressPolicy) -> None:
        self._redis = client
        self._signature_ttl = signature_ttl
        self._failures = AddressLimit(client, failures)

    def arrive(self, key_id: str | None, address: str, now: float) -> Arrival:
        """`key_id`: None when the request names none usable (only the address is looked up)."""
        pipe = self._redis.pipeline(transaction=False)
        self._failures.queue_peek(pipe, address, now)
        if key_id is not None:
            pipe.hgetall(keys.api_key(key_id))
        results = pipe.execute()
        credential = cast(dict[str, str], results[1]) if key_id is not None else {}
        failures = self._failures.peeked(results[0], now)
        return Arrival(credential, failures.count, failures.over, failures.retry_after)

    def count_failure(self, address: str, now: float) -> int:
        """Counts a failed authentication of `address`; its failures in this window."""
        return self._failures.hit(address, now).count

    def admit(
        self,
        key_id: str,
        signature: str,
        now: float,
        limit: int,
        idempotency: tuple[str, str] | None = None,
    ) -> Admission:
        """For a verified request: `limit` requests a window per key; `idempotency`: the
        request's (Idempotency-Key, body hash), claimed in the same trip."""
        window, left = _window(now)
        pipe = self._redis.pipeline(transaction=False)
        pipe.eval(
            ADMIT,
            2,
            keys.used_signature(signature),
            keys.rate(key_id, window),
            self._signature_ttl,
            RATE_WINDOW_SECONDS * 2,
            limit,
        )
        if idempotency is not None:
            queue_claim(pipe, key_id, *idempotency)
        results = pipe.execute()
        count = int(results[0])
        claim = read_claim(results[1], results[2], idempotency[1]) if idempotency else None
        return Admission(count > 0, count, left, claim)
