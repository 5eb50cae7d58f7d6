"""Uploads spooled scans to the gateway: signed ``POST /api/v1/scans``, in seq order; and asks
the gateway which desk the station stands for (signed ``GET /api/v1/stations/me``).

Every answer about a scan becomes a `ScanVerdict` with the gateway's ``outcome`` (moved,
out-of-order, transition-refused, unknown-dossier, time-in-future, not-this-station), which the
counter is told.

- 200 / 201: sent. The gateway keys scans by (station_id, seq), so uploading a scan again after an
  answer was lost records nothing twice.
- 401 / 403: the key is wrong, revoked or the clock is off: uploading stops (`KeyRejected`) and
  the counter is told; scans keep being spooled.
- other 4xx (404 unknown code, 409 transition not allowed, 422...): final. The scan is recorded as
  rejected with the gateway's problem detail and never sent again.
- 408, 429 (``Retry-After`` honoured), 5xx, network errors: the gateway is unreachable; the same
  scan is tried again later (exponential backoff up to ``retry_max``), later scans wait behind it.

`step` does one round and says when to come back; `run` loops over it in the uploader thread.
Time comes from the injected clock, so tests can spend an offline hour without waiting.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from gateway.core.signing import signed_headers
from scanner.spool import Spool, SpooledScan

log = logging.getLogger(__name__)

SCANS_PATH = "/api/v1/scans"
STATION_PATH = "/api/v1/stations/me"
RETRY_MIN = 1.0


class UploadError(Exception):
    """Base of the uploader's errors."""


class KeyRejected(UploadError):
    """The gateway refused the station's key (401/403): no upload can succeed until fixed."""


@dataclass(frozen=True, slots=True)
class HttpReply:
    status: int
    body: bytes
    retry_after: float | None = None


class Unreachable(UploadError):
    """No answer from the gateway (connection refused or dropped, timeout, DNS)."""


class Transport(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> HttpReply: ...

    def get(self, url: str, headers: dict[str, str], timeout: float | None = None) -> HttpReply: ...


class UrllibTransport:
    """HTTP with the standard library; every failure to get an answer becomes `Unreachable`."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> HttpReply:
        return self._send(urllib.request.Request(url, data=body, headers=headers, method="POST"))  # noqa: S310

    def get(self, url: str, headers: dict[str, str], timeout: float | None = None) -> HttpReply:
        request = urllib.request.Request(url, headers=headers, method="GET")  # noqa: S310
        return self._send(request, timeout)

    def _send(self, request: urllib.request.Request, timeout: float | None = None) -> HttpReply:
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:  # noqa: S310
                return HttpReply(response.status, response.read())
        except urllib.error.HTTPError as exc:
            try:
                data = exc.read()
            except (OSError, http.client.HTTPException):
                data = b""
            return HttpReply(exc.code, data, _retry_after(exc.headers.get("Retry-After")))
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise Unreachable(f"{type(exc).__name__}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class ScanVerdict:
    """What the gateway answered about one scan."""

    http_status: int
    outcome: str  # the gateway's word (see gateway/http/scans.py); "" when it gave none we know
    detail: str = ""  # a refusal's problem detail (for the log and the spool)
    answer: Mapping[str, Any] = field(default_factory=dict)  # the JSON object answered

    @property
    def recorded(self) -> bool:
        return self.http_status in (200, 201)

    def status_label(self, member: str = "status") -> str:
        """The Vietnamese label of a status the answer carries (``{"code", "label"}``)."""
        ref = self.answer.get(member)
        label = ref.get("label") if isinstance(ref, dict) else None
        return label if isinstance(label, str) else ""

    def text(self, member: str) -> str:
        value = self.answer.get(member)
        return value if isinstance(value, str) else ""


def verdict_of(reply: HttpReply) -> ScanVerdict:
    """The verdict in a reply to ``POST /api/v1/scans`` (also from a gateway that does not say
    ``outcome`` yet: it is read from ``current`` and the problem type then)."""
    answer = _json_object(reply.body)
    outcome = answer.get("outcome")
    if not isinstance(outcome, str):
        outcome = ""
        kind = answer.get("type")
        if reply.status in (200, 201):
            outcome = "moved" if answer.get("current", True) is not False else "out-of-order"
        elif reply.status == 404:
            outcome = "unknown-dossier"
        elif isinstance(kind, str) and kind.endswith("/invalid-transition"):
            outcome = "transition-refused"
    detail = "" if reply.status in (200, 201) else _problem_detail(reply)
    return ScanVerdict(reply.status, outcome, detail, answer)


@dataclass(frozen=True, slots=True)
class StationInfo:
    """What the gateway says about this station at start (`Uploader.fetch_station`)."""

    desk: str | None  # None: not known now
    refused: bool = False  # True: the gateway answered, and refused the key
    reason: str = ""  # why the desk is not known (for the log)


class UploadEvents:
    """What the uploader tells the counter; the station's feedback overrides these."""

    def sent(self, scan: SpooledScan, verdict: ScanVerdict) -> None:
        """The gateway recorded the scan (moved or out of order)."""

    def rejected(self, scan: SpooledScan, verdict: ScanVerdict) -> None:
        """The gateway refused the scan for good."""

    def offline(self, waiting: int, reason: str) -> None:
        """The gateway became unreachable."""

    def online(self, waiting: int) -> None:
        """The gateway answers again."""

    def key_rejected(self, detail: str) -> None:
        """The station's key was refused; uploads stop."""


@dataclass(frozen=True, slots=True)
class RoundResult:
    sent: int = 0
    rejected: int = 0
    failed: bool = False  # stopped at a scan that must be tried again later
    wait: float = 0.0  # seconds until the next round (0: more may be pending, go on)


def scan_body(station_id: str, scan: SpooledScan) -> bytes:
    """The request body for a scan: the same bytes every time the scan is uploaded."""
    body: dict[str, object] = {
        "station_id": station_id,
        "seq": scan.seq,
        "code": scan.code,
        "scanned_at": scan.scanned_at,
    }
    if scan.staff:
        body["staff"] = scan.staff
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class Uploader:
    def __init__(
        self,
        spool: Spool,
        gateway_url: str,
        key_id: str,
        secret: str,
        clock: Callable[[], float],
        transport: Transport | None = None,
        events: UploadEvents | None = None,
        retry_max: float = 300.0,
        batch: int = 50,
    ) -> None:
        self.spool = spool
        self.base_url = gateway_url.rstrip("/")
        self.url = self.base_url + SCANS_PATH
        self.key_id = key_id
        self.secret = secret
        self.clock = clock
        self.transport = transport or UrllibTransport()
        self.events = events or UploadEvents()
        self.retry_max = retry_max
        self.batch = batch
        self.failures = 0  # consecutive failed attempts
        self.offline = False
        self.stopped_by: str | None = None  # the detail of the 401/403 that stopped uploads
        self.next_attempt = 0.0  # clock time before which no attempt is made
        self._hold_until = 0.0  # a Retry-After that a new scan must not cut short
        self._last_stamp = spool.last_attempt()  # (seq, timestamp) of the last upload attempt
        self._wake = threading.Event()

    # -- one round -------------------------------------------------------------------------

    def step(self) -> RoundResult:
        """Upload pending scans in seq order until none is left or one must wait."""
        if self.stopped_by is not None:
            return RoundResult(failed=True, wait=self.retry_max)
        now = self.clock()
        if now < self.next_attempt:
            return RoundResult(failed=self.failures > 0, wait=self.next_attempt - now)
        sent = rejected = 0
        for scan in self.spool.pending(self.batch):
            try:
                reply = self._post(scan)
            except Unreachable as exc:
                return self._failed(sent, rejected, str(exc), None)
            if reply.status in (200, 201):
                verdict = verdict_of(reply)
                self.spool.mark_sent(scan.seq, reply.status, verdict.outcome)
                sent += 1
                self._reachable()
                log.info(
                    "scan.sent seq=%s status=%s outcome=%s", scan.seq, reply.status, verdict.outcome
                )
                self.events.sent(scan, verdict)
            elif reply.status in (401, 403):
                detail = _problem_detail(reply)
                self.stopped_by = detail
                log.error("scan.key_rejected status=%s detail=%s", reply.status, detail)
                self.events.key_rejected(detail)
                raise KeyRejected(detail)
            elif reply.status in (408, 429) or reply.status >= 500:
                reason = f"HTTP {reply.status}"
                return self._failed(sent, rejected, reason, reply.retry_after)
            else:
                verdict = verdict_of(reply)
                self.spool.mark_rejected(scan.seq, reply.status, verdict.detail)
                rejected += 1
                self._reachable()
                log.info(
                    "scan.rejected seq=%s status=%s outcome=%s detail=%s",
                    scan.seq,
                    reply.status,
                    verdict.outcome,
                    verdict.detail,
                )
                self.events.rejected(scan, verdict)
        more = len(self.spool.pending(1)) > 0
        return RoundResult(sent, rejected, wait=0.0 if more else self.retry_max)

    def fetch_station(self, timeout: float | None = None) -> StationInfo:
        """Which desk the gateway has this station stand for (one signed GET, no retry)."""
        stamp = self.spool.take_stamp(f"GET {STATION_PATH}", int(self.clock()))
        headers = signed_headers(self.key_id, self.secret, "GET", STATION_PATH, b"", stamp)
        try:
            reply = self.transport.get(self.base_url + STATION_PATH, headers, timeout)
        except Unreachable as exc:
            log.warning("station.settings_unreachable reason=%s", exc)
            return StationInfo(None, reason=str(exc))
        if reply.status in (401, 403):
            detail = _problem_detail(reply)
            log.error("station.settings_refused status=%s detail=%s", reply.status, detail)
            return StationInfo(None, refused=True, reason=detail)
        desk = _json_object(reply.body).get("desk") if reply.status == 200 else None
        if not isinstance(desk, str) or not desk:
            log.warning("station.settings_failed status=%s", reply.status)
            return StationInfo(None, reason=f"HTTP {reply.status}")
        return StationInfo(desk)

    def _post(self, scan: SpooledScan) -> HttpReply:
        body = scan_body(self.spool.station_id, scan)
        stamp = int(self.clock())
        last_seq, last_stamp = self._last_stamp
        if scan.seq == last_seq and stamp <= last_stamp:
            stamp = last_stamp + 1  # the same body in the same second would look like a replay
        self._last_stamp = (scan.seq, stamp)
        self.spool.record_attempt(scan.seq, stamp)  # also across a restart within the second
        headers = signed_headers(self.key_id, self.secret, "POST", SCANS_PATH, body, stamp)
        headers["Content-Type"] = "application/json"
        return self.transport.post(self.url, body, headers)

    def _failed(
        self, sent: int, rejected: int, reason: str, retry_after: float | None
    ) -> RoundResult:
        self.failures += 1
        wait = min(self.retry_max, RETRY_MIN * 2 ** min(self.failures - 1, 30))
        if retry_after is not None:
            wait = max(wait, retry_after)
            self._hold_until = self.clock() + retry_after
        self.next_attempt = self.clock() + wait
        log.warning(
            "scan.upload_failed failures=%s reason=%s wait=%.0f", self.failures, reason, wait
        )
        if not self.offline:
            self.offline = True
            self.events.offline(self.spool.count_pending(), reason)
        return RoundResult(sent, rejected, failed=True, wait=wait)

    def _reachable(self) -> None:
        self.failures = 0
        self.next_attempt = 0.0
        if self.offline:
            self.offline = False
            self.events.online(self.spool.count_pending())

    # -- the thread ------------------------------------------------------------------------

    def wake(self) -> None:
        """A new scan was spooled: try now, unless the gateway asked us to wait (Retry-After)."""
        self.next_attempt = min(self.next_attempt, max(self._hold_until, 0.0))
        self._wake.set()

    def run(self, stop: threading.Event) -> None:
        """Upload until `stop` is set or the key is rejected (then return)."""
        while not stop.is_set():
            try:
                result = self.step()
            except KeyRejected:
                return
            except Exception:  # the daemon's loop: log and carry on
                log.exception("scan.upload_crashed")
                result = RoundResult(failed=True, wait=self.retry_max)
            if result.wait > 0:
                self._wake.wait(result.wait)
                self._wake.clear()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: the usual backoff will do


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _problem_detail(reply: HttpReply) -> str:
    problem = _json_object(reply.body)
    for key in ("detail", "title"):
        value = problem.get(key)
        if isinstance(value, str) and value:
            return value
    return f"HTTP {reply.status}"
