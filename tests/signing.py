"""Signed clients of the HTTP API for tests: one over the Flask test client, one over HTTP."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from flask.testing import FlaskClient

from gateway.core.signing import signed_headers


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any
    text: str


def encode(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    return json.dumps(body, ensure_ascii=False).encode()


class DistinctSeconds:
    """A client's clock for signing: real time, except that an identical request signed again
    within the same second gets the next second (the server accepts a signature once). Distinct
    requests share seconds freely, so the clock never runs ahead of the server's."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, request_key: str = "") -> float:
        with self._lock:
            now = int(time.time())
            last = self._last.get(request_key)
            stamp = now if last is None else max(now, last + 1)
            self._last[request_key] = stamp
            return float(stamp)


@dataclass
class Signer:
    key_id: str
    secret: str
    clock: Callable[[], float]

    def headers(self, method: str, target: str, body: bytes) -> dict[str, str]:
        advance = getattr(self.clock, "advance", None)
        if advance is not None:  # a test clock: let a second pass, as between real requests
            advance(1.0)
        if isinstance(self.clock, DistinctSeconds):
            now = self.clock(f"{method} {target} {hashlib.sha256(body).hexdigest()}")
        else:
            now = self.clock()
        return signed_headers(self.key_id, self.secret, method, target, body, int(now))


@dataclass
class AppClient:
    """Signed requests through Flask's test client (real app, real Redis, no sockets)."""

    client: FlaskClient
    signer: Signer
    extra: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        target: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        sign: bool = True,
    ) -> Answer:
        raw = encode(body)
        all_headers = {"Content-Type": "application/json"} if raw else {}
        if sign:
            all_headers |= self.signer.headers(method, target, raw)
        all_headers |= self.extra | (headers or {})
        r = self.client.open(target, method=method, data=raw, headers=all_headers)
        text = r.get_data(as_text=True)
        parsed = json.loads(text) if r.is_json else None
        return Answer(r.status_code, dict(r.headers), parsed, text)

    def post(self, target: str, body: Any = None, **kw: Any) -> Answer:
        return self.request("POST", target, body, **kw)

    def get(self, target: str, **kw: Any) -> Answer:
        return self.request("GET", target, **kw)


@dataclass
class HttpClient:
    """Signed requests over real HTTP to a running gateway."""

    base: str
    signer: Signer
    session: requests.Session = field(default_factory=requests.Session)

    def request(
        self, method: str, target: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Answer:
        raw = encode(body)
        all_headers = {"Content-Type": "application/json"} if raw else {}
        all_headers |= self.signer.headers(method, target, raw) | (headers or {})
        r = self.session.request(
            method, self.base + target, data=raw, headers=all_headers, timeout=10
        )
        parsed = r.json() if "json" in r.headers.get("Content-Type", "") else None
        return Answer(r.status_code, dict(r.headers), parsed, r.text)

    def post(self, target: str, body: Any = None, **kw: Any) -> Answer:
        return self.request("POST", target, body, **kw)

    def get(self, target: str, **kw: Any) -> Answer:
        return self.request("GET", target, **kw)
