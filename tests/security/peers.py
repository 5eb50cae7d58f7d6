"""Clients at chosen loopback addresses (127.0.0.2, 127.0.0.3...): how the security tests are two
machines, an attacker and a department, in front of one real gateway on 127.0.0.1."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter

from gateway.core.signing import HEADER_KEY_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP
from gateway.store.admission import RATE_WINDOW_SECONDS

T = TypeVar("T")


class _FromAddress(HTTPAdapter):
    def __init__(self, address: str) -> None:
        self._address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self._address, 0)
        super().init_poolmanager(*args, **kwargs)


def session_from(address: str) -> requests.Session:
    """A requests session whose connections leave from `address` (a loopback address)."""
    session = requests.Session()
    session.mount("http://", _FromAddress(address))
    return session


def forged_headers(key_id: str) -> dict[str, str]:
    """What someone who knows a key id but not its secret sends: a fresh timestamp and a
    random signature."""
    return {
        HEADER_KEY_ID: key_id,
        HEADER_TIMESTAMP: str(int(time.time())),
        HEADER_SIGNATURE: secrets.token_hex(32),
    }


def in_one_window(scenario: Callable[[int], T], tries: int = 3) -> T:
    """What `scenario(attempt)` observed in a run that started and ended in the same minute of
    the limits. A run that crossed into the next minute proves nothing about counting (its
    counters restarted), so it is run again, and each attempt must use identities (keys,
    addresses) of its own: counters of the earlier attempt may live on in this minute."""
    for attempt in range(tries):
        window = int(time.time()) // RATE_WINDOW_SECONDS
        seen = scenario(attempt)
        if int(time.time()) // RATE_WINDOW_SECONDS == window:
            return seen
    raise AssertionError(f"no run of the scenario fitted in one minute in {tries} tries")
