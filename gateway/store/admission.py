"""What the gateway checks in Redis before it lets a signed request in, in one round trip:
the credential, whether the signature was seen before (replay), the client's request rate, and
the claim of the request's Idempotency-Key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import redis

from gateway.store import keys
from gateway.store.idempotency import ClaimResult, queue_claim, read_claim

RATE_WINDOW_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Admission:
    credential: dict[str, str]  # the stored hash; empty if the key id is unknown
    fresh_signature: bool  # False: this signature was used before (a replay)
    requests_in_window: int
    retry_after: int  # seconds until the rate window ends
    claim: ClaimResult | None  # the Idempotency-Key claim, when the request carries one


class Gatekeeper:
    def __init__(self, client: redis.Redis, signature_ttl: int) -> None:
        self._redis = client
        self._signature_ttl = signature_ttl

    def admit(
        self,
        key_id: str,
        signature: str,
        now: float,
        idempotency: tuple[str, str] | None = None,
    ) -> Admission:
        """`idempotency`: the request's (Idempotency-Key, body hash), claimed in the same trip."""
        window = int(now) // RATE_WINDOW_SECONDS
        rate_key = keys.rate(key_id, window)
        pipe = self._redis.pipeline(transaction=False)
        pipe.hgetall(keys.api_key(key_id))
        pipe.set(keys.used_signature(signature), "1", nx=True, ex=self._signature_ttl)
        pipe.incr(rate_key)
        pipe.expire(rate_key, RATE_WINDOW_SECONDS * 2)
        if idempotency is not None:
            queue_claim(pipe, key_id, *idempotency)
        results = pipe.execute()
        credential, fresh, count, _ = results[:4]
        claim = read_claim(results[4], results[5], idempotency[1]) if idempotency else None
        return Admission(
            credential=cast(dict[str, str], credential),
            fresh_signature=bool(fresh),
            requests_in_window=int(count),
            retry_after=RATE_WINDOW_SECONDS - int(now) % RATE_WINDOW_SECONDS,
            claim=claim,
        )
