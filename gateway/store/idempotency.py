"""Idempotency-Key: the same key and body get the same answer, whatever happens in between.

A key is first claimed as *running* (with a short lease, so a crashed request frees it), then
holds the answer for a day. Keys are scoped to the API key that sent them.
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
class StoredAnswer:
    status: int
    body: str


@dataclass(frozen=True, slots=True)
class ClaimResult:
    claim: Claim
    answer: StoredAnswer | None = None


def queue_claim(pipe: redis.client.Pipeline, client_id: str, key: str, body_hash: str) -> None:
    """Adds the two commands of a claim to a pipeline (so it costs no round trip of its own);
    `read_claim` interprets their two results."""
    name = keys.idempotency(client_id, key)
    pipe.set(
        name, json.dumps({"state": "running", "hash": body_hash}), nx=True, ex=RUNNING_LEASE_SECONDS
    )
    pipe.get(name)


def read_claim(set_result: object, get_result: object, body_hash: str) -> ClaimResult:
    if set_result:
        return ClaimResult(Claim.NEW)
    if get_result is None:  # expired between the two commands: as good as running
        return ClaimResult(Claim.RUNNING)
    record = json.loads(str(get_result))
    if record["hash"] != body_hash:
        return ClaimResult(Claim.MISMATCH)
    if record["state"] == "running":
        return ClaimResult(Claim.RUNNING)
    return ClaimResult(Claim.DONE, StoredAnswer(int(record["status"]), record["body"]))


class IdempotencyKeys:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def claim(self, client_id: str, key: str, body_hash: str) -> ClaimResult:
        pipe = self._redis.pipeline(transaction=False)
        queue_claim(pipe, client_id, key, body_hash)
        set_result, get_result = pipe.execute()
        return read_claim(set_result, get_result, body_hash)

    def finish(self, client_id: str, key: str, body_hash: str, answer: StoredAnswer) -> None:
        record = {"state": "done", "hash": body_hash, "status": answer.status, "body": answer.body}
        self._redis.set(keys.idempotency(client_id, key), json.dumps(record), ex=ANSWER_TTL_SECONDS)

    def release(self, client_id: str, key: str) -> None:
        """Forget a claim whose request failed without an answer worth repeating."""
        self._redis.delete(keys.idempotency(client_id, key))
