"""Idempotency-Key: the same key and body get the same answer, whatever happens in between.

A key is first claimed as *running* (with a short lease, so a crashed request frees it), then
holds the answer for a day.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum

import redis

from gateway.store import keys

RUNNING_LEASE_SECONDS = 30
ANSWER_TTL_SECONDS = 24 * 3600


class Claim(StrEnum):
    NEW = "new"  # go ahead, then `finish`
    RUNNING = "running"  # the first request with this key is still being handled
    MISMATCH = "mismatch"  # the key was used with another body
    DONE = "done"  # answer with `answer`


@dataclass(frozen=True, slots=True)
class Stored:
    status: int
    body: str


@dataclass(frozen=True, slots=True)
class ClaimResult:
    claim: Claim
    answer: Stored | None = None


class IdempotencyKeys:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def claim(self, client_id: str, key: str, body_hash: str) -> ClaimResult:
        name = keys.idempotency(client_id, key)
        running = json.dumps({"state": "running", "hash": body_hash})
        for _ in range(3):
            if self._redis.set(name, running, nx=True, ex=RUNNING_LEASE_SECONDS):
                return ClaimResult(Claim.NEW)
            raw = self._redis.get(name)
            if raw is None:  # expired in between: claim again
                continue
            record = json.loads(str(raw))
            if record["hash"] != body_hash:
                return ClaimResult(Claim.MISMATCH)
            if record["state"] == "running":
                return ClaimResult(Claim.RUNNING)
            return ClaimResult(Claim.DONE, Stored(int(record["status"]), record["body"]))
        return ClaimResult(Claim.RUNNING)

    def finish(self, client_id: str, key: str, body_hash: str, answer: Stored) -> None:
        record = {"state": "done", "hash": body_hash, "status": answer.status, "body": answer.body}
        self._redis.set(keys.idempotency(client_id, key), json.dumps(record), ex=ANSWER_TTL_SECONDS)

    def release(self, client_id: str, key: str) -> None:
        """Forget a claim whose request failed without an answer worth repeating."""
        self._redis.delete(keys.idempotency(client_id, key))
