"""Authentication of signed requests (departments and stations), replay and rate limits."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar
from urllib.parse import quote

from flask import g, request

from gateway.core.signing import (
    HEADER_KEY_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    KEY_ID_PATTERN,
    SIGNATURE_PATTERN,
    TIMESTAMP_PATTERN,
    signature_matches,
)
from gateway.http.context import Services, services
from gateway.http.idempotent import idempotency_request
from gateway.http.problems import Problem
from gateway.http.proxies import client_address
from gateway.store.credentials import ClientKind, Credential
from gateway.store.idempotency import Claim

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def _unauthorized(detail: str) -> Problem:
    return Problem(
        401,
        "unauthorized",
        "Unauthorized",
        detail,
        {"WWW-Authenticate": 'HMAC-SHA256 realm="hoso"'},
    )


def request_target() -> str:
    """The path with query exactly as the client sent it (what the client signed)."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw:
        return str(raw)
    path = quote(request.environ.get("SCRIPT_NAME", "") + request.environ.get("PATH_INFO", ""))
    query = request.environ.get("QUERY_STRING", "")
    return f"{path}?{query}" if query else path


def signed(kind: ClientKind) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """The view answers only requests signed by a live credential of this kind."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            g.client = authenticate(kind)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def authenticate(kind: ClientKind) -> Credential:
    """The credential that signed this request, or a Problem: 401 when it is not signed right
    (which costs the client's address one of its `auth_failures_per_minute`), 429 when the
    address is over that limit or the key over its `rate_per_minute` (verified requests only).
    Nothing is marked or counted against the key before its signature verified."""
    svc = services()
    gateway = svc.settings.gateway
    address = client_address()
    now = svc.clock()
    key_id = request.headers.get(HEADER_KEY_ID, "")
    arrival = svc.gatekeeper.arrive(
        key_id if KEY_ID_PATTERN.fullmatch(key_id) else None, address, now
    )
    if arrival.address_limited:
        raise _too_many(
            f"Too many failed authentications from this address: at most"
            f" {gateway.auth_failures_per_minute} a minute.",
            arrival.retry_after,
        )
    try:
        credential, signature = _verify(svc, kind, key_id, arrival.credential, now, address)
    except Problem:
        _count_failure(svc, address, now)
        raise
    wanted = idempotency_request(request.get_data(cache=True))
    admission = svc.gatekeeper.admit(key_id, signature, now, gateway.rate_per_minute, wanted)
    admitted = admission.fresh_signature and admission.requests_in_window <= gateway.rate_per_minute
    claimed = admission.claim is not None and admission.claim.claim is Claim.NEW
    if not admitted and claimed and wanted is not None:  # refused: free the claim it made
        svc.idempotency.release(key_id, wanted[0])
    if not admission.fresh_signature:
        log.info("auth.rejected key_id=%s address=%s reason=replay", key_id, address)
        _count_failure(svc, address, now)
        raise _unauthorized("This signature was already used (replay).")
    if not admitted:
        raise _too_many(
            f"At most {gateway.rate_per_minute} requests a minute per key.", admission.retry_after
        )
    g.claim = admission.claim
    return credential


def _too_many(detail: str, retry_after: int) -> Problem:
    return Problem(
        429, "rate-limited", "Too many requests", detail, {"Retry-After": str(retry_after)}
    )


def _count_failure(svc: Services, address: str, now: float) -> None:
    failures = svc.gatekeeper.count_failure(address, now)
    if failures == svc.settings.gateway.auth_failures_per_minute:
        log.warning("auth.address_limited address=%s failures=%s", address, failures)


def _verify(
    svc: Services,
    kind: ClientKind,
    key_id: str,
    stored: dict[str, str],
    now: float,
    address: str,
) -> tuple[Credential, str]:
    """The credential and the signature of a request whose signature verifies, else 401."""
    timestamp = request.headers.get(HEADER_TIMESTAMP, "")
    signature = request.headers.get(HEADER_SIGNATURE, "")
    if not key_id or not timestamp or not signature:
        raise _unauthorized(
            f"Missing signature headers ({HEADER_KEY_ID}, {HEADER_TIMESTAMP}, {HEADER_SIGNATURE})."
        )
    if not KEY_ID_PATTERN.fullmatch(key_id):
        raise _unauthorized(f"Malformed {HEADER_KEY_ID}.")
    if not TIMESTAMP_PATTERN.fullmatch(timestamp):
        raise _unauthorized(f"Malformed {HEADER_TIMESTAMP}: unix seconds expected.")
    if not SIGNATURE_PATTERN.fullmatch(signature):
        raise _unauthorized(f"Malformed {HEADER_SIGNATURE}: 64 lower-case hex digits expected.")
    skew = svc.settings.gateway.clock_skew
    if abs(int(timestamp) - int(now)) > skew:
        raise _unauthorized(
            f"{HEADER_TIMESTAMP} is more than {skew} s away from the server's clock."
        )
    credential = svc.keyring.from_hash(key_id, stored)  # CorruptRecord (500) if it does not open
    if credential is None or credential.revoked or credential.kind != kind:
        log.info("auth.rejected key_id=%s address=%s reason=unknown-key", key_id, address)
        raise _unauthorized("Unknown or revoked key, or a key not valid for this resource.")
    body = request.get_data(cache=True)
    if not signature_matches(
        credential.secret, signature, timestamp, request.method, request_target(), body
    ):
        log.info("auth.rejected key_id=%s address=%s reason=bad-signature", key_id, address)
        raise _unauthorized("Signature does not match.")
    return credential, signature
