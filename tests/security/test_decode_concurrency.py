"""Issue 11, finding 1 (high): concurrent hostile uploads must leave the gateway answering.

Two uploads at once cost 2.4 GB before the fix. Now each gateway process decodes
`DECODES_AT_ONCE` photo at a time and refuses the rest at once (503 with Retry-After): 20 of the
costliest uploads sent together to a real gateway (2 workers x 2 threads) are all answered, while
`/healthz` and a signed API request keep answering; no worker dies, and each worker's peak memory
grows by at most one decode plus the bodies its threads hold.
"""

from __future__ import annotations

import http.client
import io
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import redis
import requests
from flask import Flask
from PIL import Image

from config.settings import Settings
from gateway.http.app import create_app
from gateway.http.photos import MAX_PHOTO_BYTES, RETRY_AFTER_SECONDS, decode_slots
from tests.conftest import MASTER_KEY, Clock
from tests.e2e.conftest import Gateway, running_gateway
from tests.factories import registration_body
from tests.security.hostile_images import HOSTILE
from tests.security.test_decode_memory import PEAK_BOUND
from tests.security.worker_memory import peak_increase

UPLOADS = 20
THREADS = 2  # per gateway worker (the default)
# The costliest uploads that are decoded, and one refused on its header.
MIX = (
    "png 3500 x 3500 rgba, 7 MB of noise",
    "jpeg 7070 x 7070",
    "png 7000 x 7000 grey",
    "webp 2000 x 1500 lossless",
    "png 1 x 50,000,000",
)
# One decode, plus the bodies the worker's other threads read meanwhile (twice: Werkzeug
# joins the chunks it reads).
WORKER_BOUND = PEAK_BOUND + (THREADS - 1) * 2 * MAX_PHOTO_BYTES


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("gateway")) as running:
        yield running


def upload(base: str, data: bytes, content_type: str, start: threading.Barrier) -> int:
    """POSTs the photo once every upload is ready to go; the answer's status."""
    where = urlsplit(base)
    conn = http.client.HTTPConnection(where.hostname or "", where.port, timeout=120)
    try:
        start.wait()
        conn.request("POST", "/api/v1/decode", body=data, headers={"Content-Type": content_type})
        answer = conn.getresponse()
        answer.read()
        return answer.status
    finally:
        conn.close()


@pytest.mark.slow
def test_twenty_concurrent_hostile_uploads_leave_the_gateway_answering(gateway: Gateway) -> None:
    tuphap = gateway.department("tuphap")
    created = tuphap.post("/api/v1/dossiers", registration_body(701))
    assert created.status == 201, created.text
    target = f"/api/v1/dossiers/{created.body['code']}"
    bodies = [(HOSTILE[kind][0](), HOSTILE[kind][1]) for kind in MIX]
    start = threading.Barrier(UPLOADS + 1)
    statuses: list[int] = []

    def send(i: int) -> None:
        statuses.append(upload(gateway.base, *bodies[i % len(MIX)], start))

    senders = [threading.Thread(target=send, args=(i,)) for i in range(UPLOADS)]
    probes: list[tuple[int, int, int]] = []  # (healthz, signed read, uploads answered by then)
    with peak_increase(gateway.process.pid) as peaks:
        for sender in senders:
            sender.start()
        start.wait()  # the uploads go now; the gateway is probed until every one is answered
        while True:
            answered = len(statuses)
            health = requests.get(gateway.base + "/healthz", timeout=60)
            read = requests.get(
                gateway.base + target,
                headers=tuphap.signer.headers("GET", target, b""),
                timeout=60,
            )
            probes.append((health.status_code, read.status_code, answered))
            if answered == UPLOADS:
                break
        for sender in senders:
            sender.join()
    print(f"uploads: {sorted(statuses)}; probes (healthz, read, answered): {probes}")
    print(f"peak increase per worker: {peaks.shown()}")
    assert len(statuses) == UPLOADS
    assert set(statuses) <= {200, 422, 503}
    assert all(health == 200 and read == 200 for health, read, _ in probes)
    assert peaks.largest <= WORKER_BOUND


@pytest.fixture
def app(redis_client: redis.Redis, clock: Clock) -> Flask:
    return create_app(Settings(), redis_client, MASTER_KEY, clock)


def test_a_photo_sent_while_every_decode_slot_is_taken_gets_503_with_retry_after(
    app: Flask,
) -> None:
    """The real app in this process, its slot taken by hand: no queue, an answer at once."""
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (255, 255, 255)).save(out, format="JPEG")
    web = app.test_client()
    with app.app_context(), decode_slots().held():
        busy = web.post("/api/v1/decode", data=out.getvalue(), content_type="image/jpeg")
        assert busy.status_code == 503
        assert busy.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
        assert busy.get_json()["type"] == "/problems/decoder-busy"
        assert "bận" in busy.get_json()["detail"]
    free = web.post("/api/v1/decode", data=out.getvalue(), content_type="image/jpeg")
    assert free.status_code == 200
    assert free.get_json() == {"codes": []}


def test_the_lookup_page_says_in_vietnamese_when_every_decode_slot_is_taken(app: Flask) -> None:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (255, 255, 255)).save(out, format="JPEG")
    web = app.test_client()
    with app.app_context(), decode_slots().held():
        page = web.post(
            "/",
            data={"ma": "", "bi_mat": "", "anh": (io.BytesIO(out.getvalue()), "anh.jpg")},
            content_type="multipart/form-data",
        )
    assert page.status_code == 503
    assert page.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert "Máy chủ đang bận đọc ảnh khác" in page.get_data(as_text=True)
