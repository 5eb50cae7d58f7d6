"""The station's uploader against a small fake gateway on 127.0.0.1 that checks signatures.

The fake answers like CONTRACT.md's ``POST /api/v1/scans``: 201 the first time, 200 for the same
(station_id, seq), 404 for an unknown code, 409 for a transition not allowed, 422 for unknown
fields, 401 for a bad or replayed signature or a timestamp off by more than 300 s. It can also go
"down" (close every connection without an answer) and "drop" an answer after recording the scan.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gateway.core.signing import (
    HEADER_KEY_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    signature_matches,
)
from scanner.spool import ScanState, Spool, SpooledScan
from scanner.uploader import KeyRejected, ScanVerdict, Uploader, UploadEvents
from tests.conftest import Clock

STATION = "quay-1"
KEY_ID = "st_quay1"
SECRET = "s3cret-of-quay-1"
FIELDS = {"station_id", "seq", "code", "scanned_at", "staff"}


def code(n: int) -> str:
    return f"000.00.20.H57-240423-{n:04d}"


class FakeGateway:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.keys = {KEY_ID: SECRET}
        self.known = {code(n) for n in range(1, 2000)}
        self.not_allowed: set[str] = set()
        self.down = False
        self.drop_once: set[int] = set()  # seqs whose next answer is lost after recording
        self.retry_after: int | None = None  # answer 429 with this Retry-After
        self.records: dict[tuple[str, int], dict[str, Any]] = {}
        self.arrivals: list[int] = []  # seq of every request that reached the handler
        self.refused = 0  # requests dropped while down
        self.used: set[str] = set()
        self.lock = threading.Lock()

    def answer(self, headers: Any, target: str, raw: bytes) -> tuple[int, dict[str, Any]] | None:
        with self.lock:
            if self.down:
                self.refused += 1
                return None
            key_id = headers.get(HEADER_KEY_ID, "")
            stamp = headers.get(HEADER_TIMESTAMP, "")
            signature = headers.get(HEADER_SIGNATURE, "")
            secret = self.keys.get(key_id)
            if (
                secret is None
                or not stamp.isdigit()
                or abs(int(stamp) - self.clock()) > 300
                or signature in self.used
                or not signature_matches(secret, signature, stamp, "POST", target, raw)
            ):
                return 401, problem(401, "Unauthorized", "bad signature")
            self.used.add(signature)
            body = json.loads(raw)
            self.arrivals.append(body.get("seq"))
            if set(body) - FIELDS:
                return 422, problem(422, "Unprocessable", "unknown field")
            if self.retry_after is not None:
                return 429, problem(429, "Too many requests", "slow down")
            if body["code"] not in self.known:
                return 404, problem(404, "Not found", f"unknown dossier code {body['code']}")
            if body["code"] in self.not_allowed:
                refusal = problem(409, "Conflict", "transition not allowed: 9 -> 4")
                return 409, refusal | {"type": "/problems/invalid-transition"}
            key = (body["station_id"], body["seq"])
            status = 200 if key in self.records else 201
            self.records.setdefault(key, body)
            if body["seq"] in self.drop_once:
                self.drop_once.discard(body["seq"])
                return None
            return status, {"station_id": key[0], "seq": key[1]}


def problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {
        "type": f"https://hoso/problems/{status}",
        "title": title,
        "status": status,
        "detail": detail,
    }


@pytest.fixture
def fake(clock: Clock) -> Iterator[tuple[FakeGateway, str]]:
    gateway = FakeGateway(clock)
    with _serve(gateway) as url:
        yield gateway, url


class Told(UploadEvents):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def rejected(self, scan: SpooledScan, verdict: ScanVerdict) -> None:
        self.lines.append(
            f"REJECTED {scan.seq} {verdict.http_status} {verdict.outcome}: {verdict.detail}"
        )

    def offline(self, waiting: int, reason: str) -> None:
        self.lines.append(f"OFFLINE {waiting}")

    def online(self, waiting: int) -> None:
        self.lines.append(f"ONLINE {waiting}")

    def key_rejected(self, detail: str) -> None:
        self.lines.append(f"KEY {detail}")


def scan_at(spool: Spool, clock: Clock, n: int) -> SpooledScan:
    return spool.add(code(n), datetime.fromtimestamp(clock(), UTC))


def drive(uploader: Uploader, clock: Clock, until: float) -> int:
    """Run upload rounds, moving the clock by each wait, until the clock reaches `until`."""
    rounds = 0
    while clock() < until:
        result = uploader.step()
        rounds += 1
        clock.advance(max(result.wait, 0.001) if result.wait else 0.001)
        if not result.failed and not uploader.spool.count_pending():
            break
    return rounds


def make_uploader(
    spool: Spool, url: str, clock: Clock, told: Told | None = None, secret: str = SECRET
) -> Uploader:
    return Uploader(spool, url, KEY_ID, secret, clock, events=told, retry_max=300.0)


def test_offline_hour_then_replay_with_lost_answers_and_reordering_records_each_scan_once(
    fake: tuple[FakeGateway, str], clock: Clock, tmp_path: Path
) -> None:
    gateway, url = fake
    spool = Spool(tmp_path / "spool.sqlite3", STATION)
    told = Told()
    uploader = make_uploader(spool, url, clock, told)
    rng = random.Random(7)

    # An hour with the gateway unreachable; the counter goes on scanning.
    gateway.down = True
    start = clock()
    scans = 0
    while clock() < start + 3600:
        scans += 1
        scan_at(spool, clock, scans)
        uploader.wake()
        drive(uploader, clock, clock() + rng.uniform(30, 150))
    assert spool.count_pending() == scans
    assert gateway.records == {}
    assert told.lines[0] == "OFFLINE 1"
    # Backoff: far fewer attempts than scans x seconds; new scans try at once, so at most
    # about one attempt per scan plus one per retry_max.
    assert gateway.refused <= scans + 3600 // 300 + 12

    # Back online, but a third of the answers get lost after the gateway recorded the scan.
    gateway.down = False
    gateway.drop_once = {s for s in range(1, scans + 1) if s % 3 == 0}
    drive(uploader, clock, clock() + 3600)
    assert spool.count_pending() == 0
    assert told.lines[-1].startswith("ONLINE ")

    # A crash between the gateway's answer and the spool's update: those scans go again, after
    # later ones, so the gateway sees old seqs out of order.
    again = rng.sample(range(1, scans + 1), 10)
    with sqlite3.connect(tmp_path / "spool.sqlite3") as db:
        db.executemany("UPDATE scans SET state = 'pending' WHERE seq = ?", [(s,) for s in again])
    drive(uploader, clock, clock() + 600)

    assert spool.count_pending() == 0
    assert sorted(gateway.records) == [(STATION, s) for s in range(1, scans + 1)]
    assert all(gateway.records[(STATION, s)]["code"] == code(s) for s in range(1, scans + 1))
    assert len(gateway.arrivals) >= scans + len(gateway.drop_once) + len(again)
    late = gateway.arrivals[-len(again) :]
    assert late == sorted(again)  # replayed in seq order, after the gateway saw the newest
    assert max(gateway.arrivals[: -len(again)]) == scans
    assert {s.state for s in spool.all()} == {ScanState.SENT}
    spool.close()


def test_unknown_code_and_transition_not_allowed_are_rejected_once_and_never_retried(
    fake: tuple[FakeGateway, str], clock: Clock, tmp_path: Path
) -> None:
    gateway, url = fake
    gateway.known.discard(code(2))
    gateway.not_allowed.add(code(3))
    spool = Spool(tmp_path / "spool.sqlite3", STATION)
    told = Told()
    uploader = make_uploader(spool, url, clock, told)
    for n in (1, 2, 3, 4):
        scan_at(spool, clock, n)
    drive(uploader, clock, clock() + 60)
    for _ in range(5):  # more rounds, more scans: the rejected ones are not sent again
        uploader.wake()
        uploader.step()
        clock.advance(400)
    assert gateway.arrivals == [1, 2, 3, 4]
    rejected = {s.seq: s for s in spool.all() if s.state is ScanState.REJECTED}
    assert sorted(rejected) == [2, 3]
    assert rejected[2].status == 404
    assert rejected[2].detail == f"unknown dossier code {code(2)}"
    assert rejected[3].status == 409
    assert rejected[3].detail == "transition not allowed: 9 -> 4"
    assert told.lines == [
        f"REJECTED 2 404 unknown-dossier: unknown dossier code {code(2)}",
        "REJECTED 3 409 transition-refused: transition not allowed: 9 -> 4",
    ]
    spool.close()


def test_a_rejected_key_stops_uploads_and_keeps_the_scans(
    fake: tuple[FakeGateway, str], clock: Clock, tmp_path: Path
) -> None:
    gateway, url = fake
    spool = Spool(tmp_path / "spool.sqlite3", STATION)
    told = Told()
    uploader = make_uploader(spool, url, clock, told, secret="wrong")
    scan_at(spool, clock, 1)
    with pytest.raises(KeyRejected):
        uploader.step()
    assert told.lines == ["KEY bad signature"]
    assert uploader.step().failed  # stopped: nothing more is sent
    assert gateway.records == {}
    assert spool.count_pending() == 1
    spool.close()


def test_too_many_requests_waits_for_retry_after_even_when_scans_arrive(
    fake: tuple[FakeGateway, str], clock: Clock, tmp_path: Path
) -> None:
    gateway, url = fake
    gateway.retry_after = 120
    spool = Spool(tmp_path / "spool.sqlite3", STATION)
    uploader = make_uploader(spool, url, clock)
    scan_at(spool, clock, 1)
    assert uploader.step().wait >= 120
    gateway.retry_after = None
    clock.advance(60)
    scan_at(spool, clock, 2)
    uploader.wake()
    assert uploader.step().failed  # still inside Retry-After: no request
    assert gateway.arrivals == [1]
    clock.advance(61)
    uploader.step()
    assert sorted(gateway.records) == [(STATION, 1), (STATION, 2)]
    spool.close()


@pytest.mark.slow
def test_the_uploader_thread_sends_new_scans_at_once_and_replays_after_an_outage(
    tmp_path: Path,
) -> None:
    gateway = FakeGateway(time.time)
    clock = Clock()
    with _serve(gateway) as url:
        spool = Spool(tmp_path / "spool.sqlite3", STATION)
        uploader = Uploader(spool, url, KEY_ID, SECRET, time.time, retry_max=0.5)
        stop = threading.Event()
        thread = threading.Thread(target=uploader.run, args=(stop,))
        thread.start()
        try:
            scan_at(spool, clock, 1)
            uploader.wake()
            _wait_for(lambda: spool.count_pending() == 0)
            gateway.down = True
            for n in (2, 3, 4):
                scan_at(spool, clock, n)
                uploader.wake()
            _wait_for(lambda: gateway.refused >= 2)
            assert spool.count_pending() == 3
            gateway.down = False
            _wait_for(lambda: spool.count_pending() == 0)
        finally:
            stop.set()
            uploader.wake()
            thread.join(5)
        assert sorted(gateway.records) == [(STATION, s) for s in (1, 2, 3, 4)]
        spool.close()


class _serve:
    def __init__(self, gateway: FakeGateway) -> None:
        self.gateway = gateway

    def __enter__(self) -> str:
        gateway = self.gateway

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                result = gateway.answer(self.headers, self.path, raw)
                if result is None:
                    self.close_connection = True
                    return
                status, payload = result
                data = json.dumps(payload).encode()
                self.send_response(status)
                kind = "application/json" if status < 400 else "application/problem+json"
                self.send_header("Content-Type", kind)
                if status == 429:
                    self.send_header("Retry-After", str(gateway.retry_after))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
