"""Issue 11, item 2 (second half): a signature is marked used only once it verified. Someone who
captured a department's signed GET (a proxy log, a shoulder) must not be able to burn it by
sending its headers first with another method, path or body: the department's own request then
still goes through, once. Against a real `hoso gateway`."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from gateway.core.signing import signed_headers
from tests.e2e.conftest import Gateway, running_gateway
from tests.factories import registration_body

DOSSIERS = "/api/v1/dossiers"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("burn")) as running:
        yield running


@pytest.mark.slow
def test_a_head_with_a_captured_gets_headers_does_not_burn_the_get(gateway: Gateway) -> None:
    tuphap = gateway.department("tuphap")
    code = tuphap.post(DOSSIERS, registration_body(801)).body["code"]
    target = f"{DOSSIERS}/{code}"
    captured = signed_headers(
        tuphap.signer.key_id, tuphap.signer.secret, "GET", target, b"", int(time.time())
    )
    thief = requests.Session()
    head = thief.head(gateway.base + target, headers=captured, timeout=10)
    assert head.status_code == 401
    elsewhere = thief.get(f"{gateway.base}{DOSSIERS}/{code}x", headers=captured, timeout=10)
    assert elsewhere.status_code == 401
    with_body = thief.get(gateway.base + target, headers=captured, data=b"{}", timeout=10)
    assert with_body.status_code == 401
    # The department's own request, sent after all that, is answered.
    own = requests.get(gateway.base + target, headers=captured, timeout=10)
    assert own.status_code == 200, own.text
    assert own.json()["code"] == code
    # ... once: sending it again is a replay.
    again = thief.get(gateway.base + target, headers=captured, timeout=10)
    assert again.status_code == 401
    assert "replay" in again.json()["detail"]
