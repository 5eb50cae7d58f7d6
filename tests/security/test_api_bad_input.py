"""Issue 11, low findings on the API's bad inputs, against a real `hoso gateway` process:

- signed JSON nested 30,000 deep raised RecursionError: a 500; now a 400 problem;
- a chunked body over the limit (8 MiB on decode, 64 KiB on the API) was cut at the limit and
  then refused as something else (422 "not an image", 401 "signature does not match"); now 413,
  and a chunked body exactly at the limit is still read;
- error details showed Python reprs (`<_io.BytesIO object at 0x...>`, jsonschema's
  `{'a': 1} is not of type 'string'`); now no detail of the API holds one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.e2e.conftest import Gateway, running_gateway
from tests.factories import event_body, registration_body
from tests.signing import HttpClient, Signer

DOSSIERS = "/api/v1/dossiers"
DECODE = "/api/v1/decode"
MAX_PHOTO = 8 * 1024 * 1024
MAX_BODY = 64 * 1024  # gateway.max_body, the default
# A Python repr: of an object (`<_io.BytesIO object at 0x7f...>`, `<class 'int'>`), of bytes, or
# of a container or a constant where JSON would have been written.
PYTHON_REPR = re.compile(
    r"<[\w.]+ object at 0x|\bat 0x[0-9a-f]{6,}|<class '|\bb'|\bb\"|\{'|\['|\('|\bNone\b|\bTrue\b"
    r"|\bFalse\b|' is (not|too|a required)|(^|[\s:(\[{,])'[^'\s]*'"
)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("gateway")) as running:
        yield running


@pytest.fixture(scope="module")
def tuphap(gateway: Gateway) -> HttpClient:
    return gateway.department("tuphap")


def signed_post(client: HttpClient, target: str, body: Any, **headers: str) -> requests.Response:
    """A correctly signed POST of `body` (bytes as they are, or an iterator of chunks: sent
    chunked, without Content-Length)."""
    raw = body if isinstance(body, bytes) else b"".join(body)
    sent = body if isinstance(body, bytes) else iter(_chunks(raw))
    wanted = {"Content-Type": "application/json"} | client.signer.headers("POST", target, raw)
    return requests.post(client.base + target, data=sent, headers=wanted | headers, timeout=60)


def _chunks(raw: bytes, size: int = 16 * 1024) -> Iterator[bytes]:
    for at in range(0, len(raw), size):
        yield raw[at : at + size]


@pytest.mark.slow
@pytest.mark.parametrize("depth", [30_000, 2_000, 900, 33])
def test_deeply_nested_signed_json_is_a_400_problem(tuphap: HttpClient, depth: int) -> None:
    nested = b'{"code": ' + b"[" * depth + b"]" * depth + b"}"
    answer = signed_post(tuphap, DOSSIERS, nested)
    assert answer.status_code == 400, answer.text
    problem = answer.json()
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert problem["type"] == "/problems/malformed-json"
    assert "nested deeper than 32 levels" in problem["detail"]


def test_json_nested_as_deep_as_allowed_reaches_the_schema_check(tuphap: HttpClient) -> None:
    nested: list[Any] = []
    for _ in range(30):
        nested = [nested]  # 31 arrays inside the body's object: 32 levels
    answer = signed_post(tuphap, DOSSIERS, _json(registration_body(809, code=nested)))
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == "code: string expected"


def test_a_chunked_photo_over_8_mib_is_413_not_422(gateway: Gateway) -> None:
    over = bytes(MAX_PHOTO + 1)
    answer = requests.post(
        gateway.base + DECODE,
        data=iter(_chunks(over, 256 * 1024)),
        headers={"Content-Type": "image/jpeg"},
        timeout=60,
    )
    assert answer.status_code == 413, answer.text
    assert answer.json()["type"] == "/problems/body-too-large"
    assert answer.headers["Content-Language"] == "vi"


def test_a_chunked_photo_form_over_8_mib_is_413(gateway: Gateway) -> None:
    boundary = "hoso-boundary"
    form = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + bytes(MAX_PHOTO)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    answer = requests.post(
        gateway.base + DECODE,
        data=iter(_chunks(form, 256 * 1024)),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        timeout=60,
    )
    assert answer.status_code == 413, answer.text


def test_a_chunked_photo_of_exactly_8_mib_is_read_whole(gateway: Gateway) -> None:
    answer = requests.post(
        gateway.base + DECODE,
        data=iter(_chunks(bytes(MAX_PHOTO), 256 * 1024)),
        headers={"Content-Type": "image/jpeg"},
        timeout=60,
    )
    assert answer.status_code == 422, answer.text  # read, and found not to be an image
    assert answer.json()["type"] == "/problems/not-an-image"


def test_a_chunked_signed_body_over_64_kib_is_413_not_401(tuphap: HttpClient) -> None:
    padded = json.dumps(registration_body(801)).encode() + b" " * MAX_BODY
    answer = signed_post(tuphap, DOSSIERS, iter([padded]))
    assert answer.status_code == 413, answer.text
    assert answer.json()["type"] == "/problems/body-too-large"


def test_a_chunked_signed_body_under_the_limit_is_accepted(tuphap: HttpClient) -> None:
    answer = signed_post(tuphap, DOSSIERS, iter([json.dumps(registration_body(802)).encode()]))
    assert answer.status_code == 201, answer.text


def bad_requests(gateway: Gateway, tuphap: HttpClient) -> list[tuple[str, requests.Response]]:
    """Wrong inputs of every kind to every operation of the API."""
    created = tuphap.post(DOSSIERS, registration_body(803))
    assert created.status == 201, created.text
    code = created.body["code"]
    station = json.loads(gateway.hoso("keys", "create", "--station", "quay-9", "--json").stdout)
    scanner = HttpClient(
        gateway.base, Signer(station["key_id"], station["secret"], tuphap.signer.clock)
    )
    wrong_values: list[Any] = [{"a": 1}, [1, "x"], None, True, 1.5, "x" * 5000, "'quoted'"]
    bodies: list[tuple[str, bytes]] = [
        ("garbage", b"\x00\xff\xfe"),
        ("truncated", b'{"code": '),
        ("nan", b'{"seq": NaN}'),
        ("array", b"[1, 2, 3]"),
        ("nested", b"[" * 5000 + b"]" * 5000),
    ]
    for value in wrong_values:
        for field in ("code", "phones", "received_at", "due_at", "applicant_name"):
            bodies.append(
                (
                    f"registration {field}={value!s:.20}",
                    _json(registration_body(804, **{field: value})),
                )
            )
        for field in ("event_id", "status", "at", "desk", "note"):
            bodies.append(
                (f"event {field}={value!s:.20}", _json({**event_body("e-1", 4), field: value}))
            )
        bodies.append(
            (
                f"scan code={value!s:.20}",
                _json(
                    {
                        "station_id": "quay-9",
                        "seq": 1,
                        "code": value,
                        "scanned_at": "2024-04-23T09:15:00+07:00",
                    }
                ),
            )
        )
    bodies.append(("registration extra field", _json(registration_body(805, extra="x"))))
    bodies.append(("registration bad phone", _json(registration_body(806, phones=["not-a-phone"]))))
    bodies.append(("registration bad time", _json(registration_body(807, received_at="hôm qua"))))
    bodies.append(("registration bad code", _json(registration_body(808, code="<abc>"))))
    answers: list[tuple[str, requests.Response]] = []
    for name, body in bodies:
        for target, client in (
            (DOSSIERS, tuphap),
            (f"{DOSSIERS}/{code}/events", tuphap),
            ("/api/v1/scans", scanner),
        ):
            answers.append((f"POST {target} {name}", signed_post(client, target, body)))
    for path in ("abc'\"<>", "x" * 300, "000.00.20.H57-240423-9999", "%00", "..%2f..%2fadmin"):
        for suffix in ("", "/handoffs", "/receipt?format=pdf", "/receipt?width=7"):
            target = f"{DOSSIERS}/{path}{suffix}"
            signed = tuphap.signer.headers("GET", target, b"")
            answers.append(
                (f"GET {target}", requests.get(gateway.base + target, headers=signed, timeout=30))
            )
    for content_type, data in (
        ("image/png", b"\x89PNG not really"),
        ("image/jpeg", b"\xff\xd8\xff\xe0" + bytes(100)),
        ("image/webp", b"RIFF\x10\x00\x00\x00WEBPVP8 "),
        ("image/gif", b"GIF89a" + bytes(20)),
        ("text/plain", b"hello"),
        ("multipart/form-data; boundary=x", b"--x\r\n\r\n--x--"),
    ):
        answers.append(
            (
                f"POST {DECODE} {content_type}",
                requests.post(
                    gateway.base + DECODE,
                    data=data,
                    headers={"Content-Type": content_type},
                    timeout=30,
                ),
            )
        )
    answers.append(
        ("POST unsigned", requests.post(gateway.base + DOSSIERS, data=b"{}", timeout=30))
    )
    answers.append(
        (
            "POST bad signature",
            requests.post(
                gateway.base + DOSSIERS,
                data=b"{}",
                headers={
                    "X-Hoso-Key-Id": "x' or 1",
                    "X-Hoso-Timestamp": "now",
                    "X-Hoso-Signature": "<sig>",
                },
                timeout=30,
            ),
        )
    )
    return answers


def _json(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


@pytest.mark.slow
def test_no_error_detail_of_the_api_holds_a_python_repr(
    gateway: Gateway, tuphap: HttpClient
) -> None:
    problems = 0
    for name, answer in bad_requests(gateway, tuphap):
        assert answer.status_code < 500, f"{name}: {answer.status_code} {answer.text}"
        if answer.status_code < 400:
            continue
        problems += 1
        assert answer.headers["Content-Type"].startswith("application/problem+json"), name
        detail = answer.json()["detail"]
        assert not PYTHON_REPR.search(detail), f"{name}: {detail}"
        assert len(detail) < 300, f"{name}: {detail}"
    assert problems > 100  # the inputs above were indeed refused


def test_the_repr_pattern_sees_the_reprs_the_review_found() -> None:
    for seen in (
        "not a decodable image: cannot identify image file <_io.BytesIO object at 0x7f9779862fc0>",
        "{'a': 1} is not of type 'string'",
        "'code' is a required property",
        "not a dossier code: 'abc'",
        "None is not of type 'string'",
    ):
        assert PYTHON_REPR.search(seen), seen
