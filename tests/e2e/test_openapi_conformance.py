"""The OpenAPI document is true: schemathesis drives the running gateway from it, signing each
request the way a department system would, and checks every answer against the document."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.conftest import Gateway
from tests.factories import registration_body
from tests.signing import DistinctSeconds

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]


class HmacAuth(requests.auth.AuthBase):
    """Signs the exact bytes requests is about to send, as a department's system does (and as a
    station does for scans)."""

    def __init__(self, key_id: str, secret: str, station: tuple[str, str] | None = None) -> None:
        self.key_id = key_id
        self.secret = secret
        self.station = station
        self.clock = DistinctSeconds()

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        body = r.body or b""
        if isinstance(body, str):
            body = body.encode()
        digest = hashlib.sha256(body).hexdigest()
        ts = str(int(self.clock(f"{r.method} {r.path_url} {digest}")))
        message = f"{ts}\n{r.method}\n{r.path_url}\n{digest}".encode()
        key_id, secret = self.key_id, self.secret
        if self.station is not None and r.path_url.startswith(
            ("/api/v1/scans", "/api/v1/stations")
        ):
            key_id, secret = self.station
        r.headers["X-Hoso-Key-Id"] = key_id
        r.headers["X-Hoso-Timestamp"] = ts
        r.headers["X-Hoso-Signature"] = hmac.new(
            secret.encode(), message, hashlib.sha256
        ).hexdigest()
        return r


@pytest.fixture(scope="module")
def signer(gateway: Gateway) -> HmacAuth:
    client = gateway.department("tuphap")
    assert client.post("/api/v1/dossiers", registration_body(1)).status == 201  # the example code
    made = gateway.hoso("keys", "create", "--station", "quay-1", "--json")
    assert made.returncode == 0, made.stderr
    station = json.loads(made.stdout)
    return HmacAuth(
        client.signer.key_id, client.signer.secret, (station["key_id"], station["secret"])
    )


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_answer_matches_the_document(
    gateway: Gateway, signer: HmacAuth, mode: GenerationMode
) -> None:
    api = schemathesis.openapi.from_url(gateway.base + "/api/v1/openapi.json")
    # The signature headers are this test's to make (the security matrix tests them going wrong).
    api.config.generation.update(with_security_parameters=False)
    operations = [result.ok() for result in api.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) == 8
    statuses: list[int] = []
    for operation in operations:
        sent = [*operation.path_parameters, *operation.query, *operation.body]
        if mode is GenerationMode.NEGATIVE and not sent:
            continue  # nothing to send wrong but the signature headers (GET /api/v1/stations/me)

        @given(operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def call(case: Any) -> None:
            response = case.call(base_url=gateway.base, auth=signer, timeout=10)
            statuses.append(response.status_code)
            case.validate_response(response, checks=CHECKS)

        call()
    assert 401 not in statuses, "every request is signed correctly"
    if mode is GenerationMode.POSITIVE:
        assert any(200 <= s < 300 for s in statuses), "valid requests get through"
