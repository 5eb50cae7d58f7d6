"""Issue 11, low: with `[gateway] proxies = 1`, X-Forwarded-For was believed from any peer, so a
client reaching the gateway directly chose the address every per-address limit counted (and
escaped them all by sending a new one each time). It is now read only from a peer in
`[gateway] trusted_proxies`.

Against a real `hoso gateway` (proxies = 1, trusted_proxies = 127.0.0.1/32), watched through
the limit on failed signed requests: the client at 127.0.0.1 plays nginx; others are clients
that reach the gateway directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.e2e.conftest import Gateway, running_gateway
from tests.security.peers import forged_headers, in_one_window, session_from

FAILURES = 3
TARGET = "/api/v1/dossiers/000.00.20.H57-240423-0001"
NOBODY = "dep_0000000000000000"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(
        tmp_path_factory.mktemp("forwarded"),
        HOSO_GATEWAY_PROXIES="1",
        HOSO_GATEWAY_TRUSTED_PROXIES="127.0.0.1/32",
        HOSO_GATEWAY_AUTH_FAILURES_PER_MINUTE=str(FAILURES),
    ) as running:
        yield running


def attempt(session: requests.Session, base: str, forwarded_for: str | None = None) -> int:
    headers = forged_headers(NOBODY)
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    return session.get(base + TARGET, headers=headers, timeout=10).status_code


@dataclass
class Seen:
    direct_forging: list[int]
    via_proxy: list[int]
    via_proxy_someone_else: int
    direct_claiming_the_limited_address: int


@pytest.mark.slow
def test_x_forwarded_for_is_read_only_from_a_trusted_proxy(gateway: Gateway) -> None:
    def scenario(n: int) -> Seen:
        forger = session_from(f"127.0.0.{20 + 2 * n}")
        claimer = session_from(f"127.0.0.{21 + 2 * n}")
        nginx = requests.Session()  # 127.0.0.1, as the proxy on the gateway's host
        citizen, other = f"203.0.113.{10 + n}", f"203.0.113.{50 + n}"
        # A direct client sends a new X-Forwarded-For each time: all count as its own address.
        direct = [
            attempt(forger, gateway.base, f"198.51.100.{i}, 192.0.2.{n}")
            for i in range(FAILURES + 2)
        ]
        # Through the proxy, each citizen is counted by the address the proxy forwarded.
        proxied = [
            attempt(nginx, gateway.base, f"10.9.9.9, {citizen}") for _ in range(FAILURES + 1)
        ]
        return Seen(
            direct,
            proxied,
            attempt(nginx, gateway.base, other),
            attempt(claimer, gateway.base, citizen),
        )

    seen = in_one_window(scenario)
    assert seen.direct_forging == [401] * FAILURES + [429] * 2
    assert seen.via_proxy == [401] * FAILURES + [429]
    assert seen.via_proxy_someone_else == 401  # the proxy itself is not held back
    # Naming a limited citizen's address from elsewhere neither borrows nor spends its limit.
    assert seen.direct_claiming_the_limited_address == 401
