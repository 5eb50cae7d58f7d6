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
from gateway.store.admission import Admission
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
    svc = services()
    key_id = request.headers.get(HEADER_KEY_ID, "")
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
    now = svc.clock()
    skew = svc.settings.gateway.clock_skew
    if abs(int(timestamp) - int(now)) > skew:
        raise _unauthorized(
            f"{HEADER_TIMESTAMP} is more than {skew} s away from the server's clock."
        )
    body = request.get_data(cache=True)
    wanted = idempotency_request(body)
    admission = svc.gatekeeper.admit(key_id, signature, now, wanted)
    g.claim = admission.claim
    try:
        return _check(svc, kind, key_id, signature, timestamp, body, admission)
    except Problem:
        if (
            wanted is not None
            and admission.claim is not None
            and admission.claim.claim is Claim.NEW
        ):
            svc.idempotency.release(key_id, wanted[0])
        raise


def _check(
    svc: Services,
    kind: ClientKind,
    key_id: str,
    signature: str,
    timestamp: str,
    body: bytes,
    admission: Admission,
) -> Credential:
    credential = svc.keyring.from_hash(key_id, admission.credential)
    if credential is None or credential.revoked or credential.kind != kind:
        log.info("auth.rejected key_id=%s reason=unknown-key", key_id)
        raise _unauthorized("Unknown or revoked key, or a key not valid for this resource.")
    if not signature_matches(
        credential.secret, signature, timestamp, request.method, request_target(), body
    ):
        log.info("auth.rejected key_id=%s reason=bad-signature", key_id)
        raise _unauthorized("Signature does not match.")
    if not admission.fresh_signature:
        log.info("auth.rejected key_id=%s reason=replay", key_id)
        raise _unauthorized("This signature was already used (replay).")
    limit = svc.settings.gateway.rate_per_minute
    if admission.requests_in_window > limit:
        raise Problem(
            429,
            "rate-limited",
            "Too many requests",
            f"At most {limit} requests a minute per key.",
            {"Retry-After": str(admission.retry_after)},
        )
    return credential
