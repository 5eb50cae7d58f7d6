"""Issue 11, item 2: knowing a key id (shown to dashboard viewers, written in logs) is not enough
to lock its department out. Against a real `hoso gateway`: an attacker at 127.0.0.2 sends 25
requests with random signatures for a real department's key id; the department, at 127.0.0.1,
still registers its dossier and keeps its whole quota; the attacker's address gets 429."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.e2e.conftest import Gateway, running_gateway
from tests.factories import registration_body
from tests.security.peers import forged_headers, in_one_window, session_from
from tests.signing import Answer, encode

DOSSIERS = "/api/v1/dossiers"
QUOTA = 25  # a key's requests a minute ([gateway] rate_per_minute)
FAILURES = 10  # failed authentications an address may make a minute
ATTACKS = 25


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(
        tmp_path_factory.mktemp("lockout"),
        HOSO_GATEWAY_RATE_PER_MINUTE=str(QUOTA),
        HOSO_GATEWAY_AUTH_FAILURES_PER_MINUTE=str(FAILURES),
    ) as running:
        yield running


@dataclass
class Seen:
    attacks: list[requests.Response]
    registered: Answer
    rest_of_quota: list[Answer]
    over_quota: Answer
    other_address: requests.Response


@pytest.mark.slow
def test_random_signatures_lock_out_the_attackers_address_not_the_department(
    gateway: Gateway,
) -> None:
    def scenario(attempt: int) -> Seen:
        department = gateway.department(f"tuphap{attempt}")  # a fresh key (and quota) each try
        attacker = session_from(f"127.0.0.{2 + 2 * attempt}")
        someone_else = session_from(f"127.0.0.{3 + 2 * attempt}")
        body = encode(registration_body(900 + attempt))
        forged = {"Content-Type": "application/json"}
        attacks = [
            attacker.post(
                gateway.base + DOSSIERS,
                data=body,
                headers=forged | forged_headers(department.signer.key_id),
                timeout=10,
            )
            for _ in range(ATTACKS)
        ]
        registered = department.post(DOSSIERS, registration_body(900 + attempt))
        code = registered.body["code"] if registered.status == 201 else "x"
        rest = [department.get(f"{DOSSIERS}/{code}?n={n}") for n in range(QUOTA - 1)]
        over = department.get(f"{DOSSIERS}/{code}?n=over")
        other = someone_else.post(
            gateway.base + DOSSIERS,
            data=body,
            headers=forged | forged_headers(department.signer.key_id),
            timeout=10,
        )
        return Seen(attacks, registered, rest, over, other)

    seen = in_one_window(scenario)
    statuses = [a.status_code for a in seen.attacks]
    assert statuses == [401] * FAILURES + [429] * (ATTACKS - FAILURES), statuses
    for refused in seen.attacks[FAILURES:]:
        assert refused.headers["Content-Type"].startswith("application/problem+json")
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # The department is not locked out: its dossier is registered and its quota is whole.
    assert seen.registered.status == 201, seen.registered.text
    assert [a.status for a in seen.rest_of_quota] == [200] * (QUOTA - 1)
    # ... and that quota still holds for the requests it signs.
    assert seen.over_quota.status == 429
    assert seen.over_quota.body["type"] == "/problems/rate-limited"
    assert 1 <= int(seen.over_quota.headers["Retry-After"]) <= 60
    # The limit is the attacker's address's alone.
    assert seen.other_address.status_code == 401
