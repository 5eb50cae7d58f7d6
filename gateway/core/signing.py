"""Request signatures of the HTTP API (CONTRACT.md), for the gateway and for its clients.

string_to_sign = "<timestamp>\\n<METHOD>\\n<path with query>\\n<hex sha256 of raw body>"
X-Hoso-Signature = hex HMAC-SHA256(secret, string_to_sign)
"""

from __future__ import annotations

import hashlib
import hmac
import re

HEADER_KEY_ID = "X-Hoso-Key-Id"
HEADER_TIMESTAMP = "X-Hoso-Timestamp"
HEADER_SIGNATURE = "X-Hoso-Signature"

SIGNATURE_PATTERN = re.compile(r"^[0-9a-f]{64}$")
TIMESTAMP_PATTERN = re.compile(r"^[0-9]{1,12}$")
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def string_to_sign(timestamp: str, method: str, target: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return f"{timestamp}\n{method.upper()}\n{target}\n{digest}".encode()


def sign(secret: str, timestamp: str, method: str, target: str, body: bytes) -> str:
    message = string_to_sign(timestamp, method, target, body)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(
    key_id: str, secret: str, method: str, target: str, body: bytes, now: int
) -> dict[str, str]:
    """The three headers a client adds to a request to `target` (path with query)."""
    timestamp = str(now)
    return {
        HEADER_KEY_ID: key_id,
        HEADER_TIMESTAMP: timestamp,
        HEADER_SIGNATURE: sign(secret, timestamp, method, target, body),
    }


def signature_matches(
    secret: str, signature: str, timestamp: str, method: str, target: str, body: bytes
) -> bool:
    expected = sign(secret, timestamp, method, target, body)
    return hmac.compare_digest(expected, signature)
