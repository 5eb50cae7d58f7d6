"""The Idempotency-Key header on POSTs: same key and body -> same answer; other body -> 422;
while the first request with the key is still running -> 409."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable

from flask import Response, g, request

from gateway.http.context import services
from gateway.http.problems import Problem, from_error, problem_response
from gateway.store.idempotency import Claim, ClaimResult, StoredAnswer

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
REPLAYED_HEADER = "Idempotent-Replayed"


def idempotency_request(body: bytes) -> tuple[str, str] | None:
    """(Idempotency-Key, hash of the request) for a POST carrying a well-formed key, else None.
    The claim is made while the request is admitted (`signed`), in the same Redis round trip."""
    key = request.headers.get(HEADER)
    if key is None or request.method != "POST" or not KEY_PATTERN.fullmatch(key):
        return None
    digest = hashlib.sha256(
        request.method.encode() + b" " + request.path.encode() + b"\n" + body
    ).hexdigest()
    return key, digest


def idempotent(view: Callable[..., Response]) -> Callable[..., Response]:
    """Wraps a signed POST view (after `signed`, which claims the key and sets `g.claim`)."""

    @functools.wraps(view)
    def wrapper(*args: object, **kwargs: object) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        claim: ClaimResult | None = g.get("claim")
        wanted = idempotency_request(request.get_data(cache=True))
        if claim is None or wanted is None:
            raise Problem(
                400,
                "invalid-idempotency-key",
                "Invalid Idempotency-Key",
                "1 to 255 visible ASCII characters.",
            )
        store = services().idempotency
        client = g.client.key_id
        digest = wanted[1]
        if claim.claim is Claim.MISMATCH:
            raise Problem(
                422,
                "idempotency-key-reused",
                "Idempotency-Key reused",
                "This Idempotency-Key was used with another request body.",
            )
        if claim.claim is Claim.RUNNING:
            raise Problem(
                409,
                "idempotency-key-in-use",
                "Request in progress",
                "A request with this Idempotency-Key is still being handled; retry later.",
                {"Retry-After": "1"},
            )
        if claim.claim is Claim.DONE and claim.answer is not None:
            replay = Response(claim.answer.body, status=claim.answer.status)
            replay.mimetype = (
                "application/problem+json" if claim.answer.status >= 400 else "application/json"
            )
            replay.headers[REPLAYED_HEADER] = "true"
            return replay
        try:
            response = view(*args, **kwargs)
        except Exception as exc:
            problem = from_error(exc)
            if problem is None:
                store.release(client, key)
                raise
            response = problem_response(problem)
        if response.status_code >= 500 or response.status_code == 429:
            store.release(client, key)
        else:
            answer = StoredAnswer(response.status_code, response.get_data(as_text=True))
            store.finish(client, key, digest, answer)
        return response

    return wrapper
