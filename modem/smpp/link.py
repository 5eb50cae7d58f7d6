"""One carrier link: the only thread that talks to its SMSC (an actor), like a modem's owner.

Its loop, while it holds the link's lease: keep the bind (transceiver, or transmitter + receiver)
up, reconnecting with backoff; keep it alive with enquire_link; take SMS from the link's queue in
the outbox and write each part as a submit_sm, at most `window` unanswered and `tps` a second,
with the part's state saved (`submitting`) before it is written; store the message id each
answer gives (`accepted`) and apply the receipts that come back (`receipt`); back off on
ESME_RTHROTTLED / ESME_RMSGQFUL and send the same part again; take citizens' SMS (deliver_sm)
into the inbox, persisted before the deliver_sm_resp, and hand them to the workers.

Parts of unknown fate - written when the process died or the connection broke, never answered -
wait up to `in_doubt_wait` for a receipt that names them (`fates.match`), then are sent again
once. At most one duplicate per submit that was in flight; none lost.

Nothing blocks but select() on the sockets and a wake-up pipe (a thread BLPOPs the link's wake
list), and Redis; nothing dies silently: the loop logs with the traceback and carries on.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import select
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import redis
from rq import Queue

from config.settings import SmppSettings
from gateway.core.modem_states import LinkState
from gateway.core.phones import mask_phone
from gateway.core.times import to_micros
from gateway.store import keys
from gateway.store.inbox import InboundPart, Inbox
from gateway.store.links import LinkRegistry, canonical_id
from gateway.store.outbound import Outbound
from gateway.store.outbox import Outbox
from gateway.store.queues import INBOUND_QUEUE
from gateway.store.replies import OptOuts
from modem.handover import hand_over
from modem.outgoing import dropped_for_opt_out
from modem.smpp import fates
from modem.smpp.coding import (
    DC_UCS2,
    DeliveryReceipt,
    MobileOriginated,
    SubmitPart,
    deliver_digest,
    destination,
    encode,
    read_deliver,
    source_ton_npi,
)
from modem.smpp.errors import (
    THROTTLED,
    BindRefused,
    LinkDown,
    status_name,
    where_to_retry,
)
from modem.smpp.session import ESME_ROK, Session, SmppAnswer, SmppRequest

log = logging.getLogger(__name__)

LEASE_MS = 10_000
HEALTH_SECONDS = 2.0
FLUSH_SECONDS = 1.0
CLAIM_POLL_SECONDS = 1.0  # retries come due without a wake-up: look at the queue this often
HOUSEKEEPING_SECONDS = 5.0
STANDBY_WAIT_SECONDS = 2.0
SOCKET_TIMEOUT = 10.0
THROTTLE_BACKOFF_MAX = 30.0
# A deliver_sm sent again by the SMSC (its answer was lost, the session broke) is recognised by
# its content within this window and the one before (60 to 120 s): deliver_sm carry no time stamp,
# and a citizen who sends the same text again minutes later must get an answer again.
REDELIVERY_WINDOW_SECONDS = 60
PARTIAL_TIMEOUT_MS = 15 * 60 * 1000
ORPHAN_SWEEP_MS = 10 * 60 * 1000  # receipts this young are tried again against the index
READ_BURST = 500
ESME_RX_T_APPN = 0x64  # "ESME receiver temporary app error": the SMSC sends it again later


def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclass
class Job:
    """An SMS the link has claimed: its parts, and the next one to write."""

    sms: Outbound
    parts: list[SubmitPart]
    next: int
    resend: bool = False  # the part at `next` is the one resend of a part of unknown fate


@dataclass
class InFlight:
    job: Job
    part: int
    sent: float  # monotonic


@dataclass
class SubmitInDoubt:
    job: Job
    part: int
    since_ms: int
    deadline: float  # monotonic


@dataclass
class LinkStatus:
    state: LinkState = LinkState.STARTING
    last_error: str = ""
    down_since: float | None = None  # unix time
    connected_since: float | None = None
    next_connect: float = 0.0
    backoff: float = 1.0
    connects: int = 0
    lease_renew_at: float = 0.0
    paused_until: float = 0.0  # monotonic: throttled by the SMSC
    throttle_backoff: float = 0.0
    tokens: float = 0.0
    tokens_at: float = 0.0
    maybe_work: bool = True
    last_claim: float = 0.0
    last_flush: float = 0.0
    last_health: float = 0.0
    last_housekeeping: float = 0.0
    submitted: int = 0
    received: int = 0
    rate_samples: collections.deque[tuple[float, int]] = field(
        default_factory=lambda: collections.deque(maxlen=16)
    )


class Link:
    def __init__(
        self,
        settings: SmppSettings,
        password: str,
        client: redis.Redis,
        rq_client: redis.Redis,
        *,
        instance: str | None = None,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.settings = settings
        self.id = settings.id
        self.password = password
        self.redis = client
        self.instance = instance or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.registry = LinkRegistry(client)
        self.outbox = Outbox(client).acting_as(self.instance)
        self.inbox = Inbox(client)
        self.opt_outs = OptOuts(client)
        self.queue = Queue(INBOUND_QUEUE, connection=rq_client)
        self.clock = clock
        self.stopping = threading.Event()
        self.status = LinkStatus()
        self.sessions: list[Session] = []
        self.tx: Session | None = None
        self.ready: collections.deque[Job] = collections.deque()
        self.outstanding: dict[int, InFlight] = {}
        self.in_doubt: list[SubmitInDoubt] = []
        self.enquiring: dict[str, tuple[int, float]] = {}  # session name -> (seq, sent)
        self.heard: dict[str, float] = {}  # session name -> last PDU either way (monotonic)
        self.counters: collections.Counter[str] = collections.Counter()
        self.recovered = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.source_ton, self.source_npi = source_ton_npi(
            settings.source, settings.source_ton, settings.source_npi
        )
        national = settings.number_format == "national"
        self.dest_ton = (
            settings.dest_ton if settings.dest_ton is not None else (2 if national else 1)
        )
        self.dest_npi = settings.dest_npi if settings.dest_npi is not None else 1

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> None:
        log.info("smpp.link_started link=%s instance=%s", self.id, self.instance)
        waker = threading.Thread(
            target=self._wake_on_work, name=f"smpp-{self.id}-waker", daemon=True
        )
        waker.start()
        while not self.stopping.is_set():
            try:
                self.step()
            except LinkDown as exc:
                self._lost(str(exc))
            except redis.RedisError as exc:
                log.warning("smpp.redis link=%s error=%s", self.id, exc)
                self.stopping.wait(1.0)
            except Exception as exc:  # the daemon's one broad catch: log, drop the bind, go on
                log.error("smpp.loop_error link=%s error=%s", self.id, exc, exc_info=True)
                self._lost(f"internal: {exc}")
                self.stopping.wait(1.0)
        self._shut_down()
        waker.join(5)
        os.close(self._wake_r)
        os.close(self._wake_w)
        log.info("smpp.link_stopped link=%s", self.id)

    def stop(self) -> None:
        self.stopping.set()
        self._poke()

    def step(self) -> None:
        mono = time.monotonic()
        if mono >= self.status.lease_renew_at or self.status.state is LinkState.STANDBY:
            if not self.registry.hold(self.id, self.instance, LEASE_MS):
                self._stand_by()
                return
            self.status.lease_renew_at = mono + LEASE_MS / 3000
            if self.status.state is LinkState.STANDBY:
                self.status.state = LinkState.STARTING
        if not self.recovered:
            self._recover()
            self.recovered = True
        if not self.settings.enabled:
            self.status.state = LinkState.DISABLED
            self._publish_health(mono, force=False)
            self.stopping.wait(STANDBY_WAIT_SECONDS)
            return
        if not self.sessions:
            if mono >= self.status.next_connect:
                self._connect()
            if not self.sessions:
                self._housekeeping(mono)
                self._wait(min(1.0, max(0.0, self.status.next_connect - mono)))
                return
        self._exchange(self._timeout(mono))
        self._check_timers(time.monotonic())
        self._send()
        self._housekeeping(time.monotonic())

    def _stand_by(self) -> None:
        if self.status.state is not LinkState.STANDBY:
            log.warning("smpp.standby link=%s owner=%s", self.id, self.registry.owner(self.id))
        self._close_sessions()
        # Another instance drives the link: what this one held in memory is that one's now.
        self.ready.clear()
        self.outstanding.clear()
        self.in_doubt.clear()
        self.recovered = False
        self.status.state = LinkState.STANDBY
        self.stopping.wait(STANDBY_WAIT_SECONDS)

    def _wait(self, seconds: float) -> None:
        select.select([self._wake_r], [], [], seconds)
        self._drain_wake()

    # -- connection ------------------------------------------------------------------------

    def _connect(self) -> None:
        s = self.settings
        modes = (
            [("transceiver", s.id)]
            if s.bind == "transceiver"
            else [("transmitter", f"{s.id}-tx"), ("receiver", f"{s.id}-rx")]
        )
        opened: list[Session] = []
        try:
            for mode, name in modes:
                session = Session(s.host, s.port, SOCKET_TIMEOUT, name)
                session.open(
                    mode, system_id=s.system_id, password=self.password, system_type=s.system_type
                )
                opened.append(session)
        except BindRefused as exc:
            for session in opened:
                session.close()
            # A wrong password or account will not fix itself: try again rarely.
            self._down(str(exc), retry_in=float(s.reconnect_max))
            return
        except LinkDown as exc:
            for session in opened:
                session.close()
            self._down(str(exc), retry_in=self.status.backoff)
            self.status.backoff = min(float(s.reconnect_max), self.status.backoff * 2)
            return
        mono = time.monotonic()
        self.sessions = opened
        self.tx = opened[0]
        self.heard = {session.name: mono for session in opened}
        self.enquiring.clear()
        if self.status.connects:
            self.counters["reconnects"] += 1
        self.status.connects += 1
        self.status.state = LinkState.UP
        self.status.backoff = 1.0
        self.status.down_since = None
        self.status.connected_since = time.time()
        self.status.maybe_work = True
        log.info("smpp.up link=%s bind=%s host=%s:%s", self.id, s.bind, s.host, s.port)
        self._publish_health(mono, force=True)

    def _down(self, error: str, retry_in: float) -> None:
        if self.status.state is not LinkState.DOWN:
            log.warning("smpp.down link=%s error=%s", self.id, error)
        self.status.state = LinkState.DOWN
        self.status.last_error = error
        self.status.connected_since = None
        if self.status.down_since is None:
            self.status.down_since = time.time()
        self.status.next_connect = time.monotonic() + retry_in
        self._publish_health(time.monotonic(), force=True)

    def _lost(self, error: str) -> None:
        """The bind is gone: parts written and not answered are of unknown fate now."""
        self._close_sessions()
        self._doubt_outstanding()
        self._down(error, retry_in=self.status.backoff)
        self.status.backoff = min(float(self.settings.reconnect_max), self.status.backoff * 2)

    def _close_sessions(self) -> None:
        for session in self.sessions:
            session.close()
        self.sessions = []
        self.tx = None
        self.enquiring.clear()

    def _doubt_outstanding(self) -> None:
        mono, now_ms = time.monotonic(), self._now_ms()
        for flight in sorted(self.outstanding.values(), key=lambda f: f.sent):
            since = now_ms - int((mono - flight.sent) * 1000)
            self.in_doubt.append(
                SubmitInDoubt(flight.job, flight.part, since, self._deadline(mono))
            )
        if self.outstanding:
            log.warning("smpp.in_doubt link=%s parts=%d", self.id, len(self.outstanding))
        self.outstanding.clear()

    def _deadline(self, mono: float) -> float:
        return mono + (self.settings.in_doubt_wait if self.settings.receipts else 0)

    # -- reading and writing ----------------------------------------------------------------

    def _timeout(self, mono: float) -> float:
        if self._may_send(mono) and (self.ready or self.status.maybe_work):
            return 0.0
        deadlines = [self.status.last_housekeeping + FLUSH_SECONDS]
        if self.ready or self.status.maybe_work:
            deadlines.append(max(self.status.paused_until, self._token_time(mono)))
        if self.outstanding:
            oldest = min(f.sent for f in self.outstanding.values())
            deadlines.append(oldest + self.settings.response_timeout)
        deadlines += [heard + self.settings.enquire_link for heard in self.heard.values()]
        deadlines += [d.deadline for d in self.in_doubt]
        return min(1.0, max(0.0, min(deadlines) - mono))

    def _exchange(self, timeout: float) -> None:
        """Waits for PDUs (or a wake-up) up to `timeout`, reads every one that came, then settles
        the answers and receipts read, each kind in one round trip to Redis."""
        by_fd = {session.fileno(): session for session in self.sessions}
        readable, _, _ = select.select([*by_fd, self._wake_r], [], [], timeout)
        if self._wake_r in readable:
            self._drain_wake()
            self.status.maybe_work = True
        answers: list[SmppAnswer] = []
        receipts: list[tuple[Session, SmppRequest, DeliveryReceipt]] = []
        for fd in readable:
            if fd in by_fd:
                self._read(by_fd[fd], answers, receipts)
        self._settle(answers)
        self._apply_receipts(receipts)

    def _read(
        self,
        session: Session,
        answers: list[SmppAnswer],
        receipts: list[tuple[Session, SmppRequest, DeliveryReceipt]],
    ) -> None:
        fd = session.fileno()
        for _ in range(READ_BURST):
            pdu = session.read()
            self.heard[session.name] = time.monotonic()
            if isinstance(pdu, SmppAnswer):
                if pdu.command == "enquire_link_resp":
                    self.enquiring.pop(session.name, None)
                elif pdu.command in ("submit_sm_resp", "generic_nack"):
                    answers.append(pdu)
            elif isinstance(pdu, SmppRequest):
                if pdu.command == "enquire_link":
                    session.answer(pdu)
                elif pdu.command == "unbind":
                    session.answer(pdu)
                    raise LinkDown(f"{session.name}: the SMSC unbound the session")
                elif pdu.command == "deliver_sm":
                    found = self._deliver(pdu)
                    if isinstance(found, DeliveryReceipt):
                        receipts.append((session, pdu, found))
                    else:
                        self._take_in(session, pdu, found)
            if not select.select([fd], [], [], 0)[0]:
                return

    def _settle(self, answers: list[SmppAnswer]) -> None:
        """The SMSC's answers to submit_sm: message ids stored (one atomic step for all the
        accepted ones), throttled parts queued again, refusals retried or given up."""
        accepted: list[tuple[InFlight, str]] = []
        for answer in answers:
            flight = self.outstanding.pop(answer.sequence, None)
            if flight is None:
                log.info("smpp.late_answer link=%s seq=%s", self.id, answer.sequence)
            elif answer.status == ESME_ROK and answer.command == "submit_sm_resp":
                accepted.append(
                    (flight, canonical_id(answer.message_id, self.settings.receipt_ids))
                )
            elif answer.status in THROTTLED:
                self._throttled(flight, answer.status)
            else:
                self._refused(flight, answer.status)
        if not accepted:
            return
        done = self.outbox.accepted_parts(
            [(f.job.sms, f.part, message_id, "submit_sm_resp") for f, message_id in accepted],
            self._now_ms(),
        )
        self.counters["submitted"] += len(accepted)
        self.status.submitted += len(accepted)
        self.status.throttle_backoff = 0.0
        for (flight, _), finished in zip(accepted, done, strict=True):
            job = flight.job
            if finished:
                log.info(
                    "sms.submitted link=%s id=%s to=%s parts=%d",
                    self.id,
                    job.sms.id,
                    mask_phone(job.sms.to),
                    len(job.parts),
                )
            else:
                job.next = flight.part + 1
                self.ready.appendleft(job)

    def _throttled(self, flight: InFlight, status: int) -> None:
        mono = time.monotonic()
        if mono >= self.status.paused_until:  # a new refusal, not one more of the same burst
            backoff = min(THROTTLE_BACKOFF_MAX, max(1.0, self.status.throttle_backoff * 2))
            self.status.throttle_backoff = backoff
            self.status.paused_until = mono + backoff
            log.warning(
                "smpp.throttled link=%s status=%s pause=%.0fs",
                self.id,
                status_name(status),
                backoff,
            )
        self.counters["throttled"] += 1
        flight.job.next = flight.part
        self.ready.appendleft(flight.job)  # the same part again, not an attempt that failed

    def _refused(self, flight: InFlight, status: int) -> None:
        name = status_name(status)
        self.counters[f"error:{name}"] += 1
        sms = flight.job.sms
        state = self.outbox.failed_attempt(sms, where_to_retry(status), name, self._now_ms())
        log.warning("sms.refused link=%s id=%s status=%s now=%s", self.id, sms.id, name, state)

    def _may_send(self, mono: float) -> bool:
        return (
            self.tx is not None
            and not self.stopping.is_set()
            and len(self.outstanding) < self.settings.window
            and mono >= self.status.paused_until
            and self._tokens(mono) >= 1.0
        )

    def _tokens(self, mono: float) -> float:
        tps = float(self.settings.tps)
        elapsed = mono - self.status.tokens_at
        self.status.tokens = min(tps, self.status.tokens + elapsed * tps)
        self.status.tokens_at = mono
        return self.status.tokens

    def _token_time(self, mono: float) -> float:
        missing = 1.0 - self._tokens(mono)
        return mono if missing <= 0 else mono + missing / self.settings.tps

    def _send(self) -> None:
        """As many parts as the window and the TPS allow, their states saved in one atomic step
        before their submit_sm are written."""
        mono = time.monotonic()
        if not self._may_send(mono):
            return
        assert self.tx is not None
        room = min(self.settings.window - len(self.outstanding), int(self._tokens(mono)))
        jobs = self._jobs(room)
        if not jobs:
            return
        prepared = [(job, job.next, self.tx.prepare_submit(self._fields(job))) for job in jobs]
        saved = self.outbox.submitting_parts(
            [(job.sms, part, job.resend) for job, part, _ in prepared], self._now_ms()
        )
        outgoing = []
        for (job, part, pdu), ok in zip(prepared, saved, strict=True):
            if ok:
                outgoing.append((job, part, pdu))
            else:  # no longer claimed: a receipt failed it meanwhile; nothing more goes out
                log.warning(
                    "sms.stopped link=%s id=%s part=%d reason=not-claimed",
                    self.id,
                    job.sms.id,
                    part,
                )
        if not outgoing:
            return
        mono = time.monotonic()
        for job, part, pdu in outgoing:
            self.outstanding[pdu.sequence] = InFlight(job, part, mono)
            job.resend = False
        self.status.tokens -= len(outgoing)
        self.heard[self.tx.name] = mono
        self.tx.send([pdu for _, _, pdu in outgoing])  # LinkDown: they are in doubt now

    def _jobs(self, room: int) -> list[Job]:
        jobs: list[Job] = []
        while self.ready and len(jobs) < room:
            jobs.append(self.ready.popleft())
        mono = time.monotonic()
        if len(jobs) == room or (
            not self.status.maybe_work and mono - self.status.last_claim < CLAIM_POLL_SECONDS
        ):
            return jobs
        self.status.last_claim = mono
        wanted = room - len(jobs)
        claimed = self.outbox.claim_route(self.id, self._now_ms(), wanted)
        self.status.maybe_work = len(claimed) >= wanted
        planned = []
        for sms in claimed:
            parts = self._usable_parts(sms)
            if parts is not None:
                concat_ref = sms.concat_reference
                planned.append((sms, parts, concat_ref if len(parts) > 1 else None))
        stored = self.outbox.plan_all([(sms, len(parts), ref) for sms, parts, ref in planned])
        jobs += [
            Job(sms, parts, sms.next_part)
            for sms, (_, parts, _) in zip(stored, planned, strict=True)
        ]
        return jobs

    def _usable_parts(self, sms: Outbound) -> list[SubmitPart] | None:
        if dropped_for_opt_out(self.outbox, self.opt_outs, sms, self._now_ms(), f"link={self.id}"):
            return None
        return self._parts(sms)

    def _parts(self, sms: Outbound) -> list[SubmitPart] | None:
        s = self.settings
        concat_ref = sms.concat_reference
        try:
            return encode(
                sms.text, long=s.long, coding=s.coding, packed=s.gsm7_packed, concat_ref=concat_ref
            )
        except ValueError as exc:
            self.outbox.give_up(sms, f"cannot be encoded: {exc}", self._now_ms())
            log.warning("sms.unencodable link=%s id=%s error=%s", self.id, sms.id, exc)
            return None

    def _fields(self, job: Job) -> dict[str, object]:
        part = job.parts[job.next]
        fields: dict[str, object] = {
            "source_addr_ton": self.source_ton,
            "source_addr_npi": self.source_npi,
            "source_addr": self.settings.source,
            "dest_addr_ton": self.dest_ton,
            "dest_addr_npi": self.dest_npi,
            "destination_addr": destination(job.sms.to, self.settings.number_format),
            "esm_class": part.esm_class,
            "data_coding": part.data_coding,
            "registered_delivery": 1 if self.settings.receipts else 0,
        }
        if part.payload is not None:
            fields["message_payload"] = part.payload
        else:
            fields["short_message"] = part.short_message
        if part.sar is not None:
            ref, total, seq = part.sar
            fields |= {
                "sar_msg_ref_num": ref,
                "sar_total_segments": total,
                "sar_segment_seqnum": seq,
            }
        return fields

    # -- timers -----------------------------------------------------------------------------

    def _check_timers(self, mono: float) -> None:
        if self.outstanding:
            oldest = min(self.outstanding.values(), key=lambda f: f.sent)
            if mono - oldest.sent > self.settings.response_timeout:
                raise LinkDown(f"no answer to a submit_sm in {self.settings.response_timeout} s")
        for session in self.sessions:
            pending = self.enquiring.get(session.name)
            if pending is not None:
                if mono - pending[1] > self.settings.response_timeout:
                    raise LinkDown(f"{session.name}: no answer to enquire_link")
            elif mono - self.heard.get(session.name, mono) >= self.settings.enquire_link:
                self.enquiring[session.name] = (session.enquire_link(), mono)

    # -- inbound: receipts and citizens' SMS ---------------------------------------------------

    def _deliver(self, request: SmppRequest) -> DeliveryReceipt | MobileOriginated:
        try:
            return read_deliver(request.fields, self.settings.gsm7_packed)
        except ValueError as exc:
            raw = request.fields.get("short_message")
            sender = request.fields.get("source_addr")
            log.warning("smpp.undecodable link=%s error=%s", self.id, exc)
            return MobileOriginated(
                sender.decode("latin-1") if isinstance(sender, bytes) else str(sender or ""),
                "",
                f"[undecodable deliver_sm {raw.hex() if isinstance(raw, bytes) else ''}]",
                None,
            )

    def _take_in(self, session: Session, request: SmppRequest, sms: MobileOriginated) -> None:
        """A citizen's SMS (or one part of it): persisted, then answered, then handed over."""
        try:
            message = self._take(sms, request)
        except redis.RedisError as exc:
            # Not persisted: the SMSC keeps it and sends it again.
            log.warning("smpp.inbound_not_taken link=%s error=%s", self.id, exc)
            session.answer(request, ESME_RX_T_APPN)
            return
        session.answer(request)  # only now: the part is in Redis (AOF, fsync)
        if message is not None:
            self.counters["received"] += 1
            self.status.received += 1
            log.info(
                "sms.received link=%s id=%s from=%s parts=%s",
                self.id,
                message,
                mask_phone(sms.sender),
                sms.concat[1] if sms.concat else 1,
            )
            self.hand_over(message)

    def _take(self, sms: MobileOriginated, request: SmppRequest) -> str | None:
        now = self.clock()
        window = int(now.timestamp() // REDELIVERY_WINDOW_SECONDS)
        if self.inbox.seen_part(self.id, deliver_digest(self.id, request.fields, window - 1)):
            return None  # sent again by the SMSC: taken in the window before
        digest = deliver_digest(self.id, request.fields, window)
        part = InboundPart(self.id, sms.sender, sms.text, now, digest, sms.concat)
        return self.inbox.take(part, now)

    def hand_over(self, message_id: str) -> None:
        """To the workers, as the modem service hands over (modem/handover.py)."""
        hand_over(self.queue, self.inbox, message_id)

    def _apply_receipts(self, read: list[tuple[Session, SmppRequest, DeliveryReceipt]]) -> None:
        """Final receipts applied (one round trip), receipts for unknown ids kept as orphans,
        and only then answered: an unanswered receipt comes again."""
        final = [(request, receipt) for _, request, receipt in read if receipt.final]
        now_ms = self._now_ms()
        ids = [canonical_id(receipt.message_id) for _, receipt in final]
        applied = self.outbox.receipts(
            self.id, [(i, r.delivered, True) for i, (_, r) in zip(ids, final, strict=True)], now_ms
        )
        for message_id, (_, receipt), result in zip(ids, final, applied, strict=True):
            if result is None:
                self.registry.add_orphan(
                    self.id, message_id, receipt.state, receipt.recipient, receipt.text, now_ms
                )
                self.status.last_housekeeping = 0.0  # look for the part it fits at once
        for session, request, receipt in read:
            self.counters[f"receipts:{receipt.state}"] += 1
            session.answer(request)

    # -- parts of unknown fate --------------------------------------------------------------

    def _recover(self) -> None:
        """At the start: SMS this link had claimed go back to its queue; parts it was writing
        when it died wait for their receipt, then are sent again once."""
        now_ms, mono = self._now_ms(), time.monotonic()
        for fate in self.outbox.recover(self.id, now_ms):
            parts = self._parts(fate.sms)
            if parts is None:
                continue
            since = int(fate.sms.fields.get("updated_ms") or now_ms)
            job = Job(fate.sms, parts, fate.part)
            self.in_doubt.append(SubmitInDoubt(job, fate.part, since, self._deadline(mono)))
        if self.in_doubt:
            log.warning("smpp.recovered link=%s in_doubt=%d", self.id, len(self.in_doubt))

    def _resolve(self, mono: float) -> None:
        if not self.in_doubt:
            return
        orphans = {o.member: o for o in self.registry.orphans(self.id)}
        unknown = [
            fates.UnknownSubmit(
                i,
                d.job.sms.to,
                d.since_ms,
                d.job.parts[d.part].text,
                d.job.parts[d.part].data_coding != DC_UCS2,
            )
            for i, d in enumerate(self.in_doubt)
        ]
        candidates = [
            fates.Candidate(o.member, o.recipient, o.at_ms, o.text) for o in orphans.values()
        ]
        found = fates.match(unknown, candidates)
        now_ms = self._now_ms()
        keep: list[SubmitInDoubt] = []
        for i, doubt in enumerate(self.in_doubt):
            job, part = doubt.job, doubt.part
            member = found.get(i)
            if member is not None:
                orphan = orphans[str(member)]
                done = self.outbox.accepted(job.sms, part, orphan.message_id, now_ms, how="receipt")
                self.outbox.receipt(
                    self.id, orphan.message_id, orphan.state == "DELIVRD", True, now_ms
                )
                self.registry.drop_orphans(self.id, [orphan.member])
                self.counters["resolved"] += 1
                log.info(
                    "sms.fate_resolved link=%s id=%s part=%d by=receipt", self.id, job.sms.id, part
                )
            elif mono >= doubt.deadline:
                if job.sms.resent:
                    # Sent again once already and still unknown: never a third copy.
                    done = self.outbox.accepted(job.sms, part, "", now_ms, how="earlier-resend")
                    log.warning("sms.fate_assumed link=%s id=%s part=%d", self.id, job.sms.id, part)
                else:
                    log.warning(
                        "sms.resend_unknown link=%s id=%s part=%d", self.id, job.sms.id, part
                    )
                    self.counters["resent"] += 1
                    job.next, job.resend = part, True
                    job.sms = replace(job.sms, resent=True)
                    self.ready.appendleft(job)
                    continue
            else:
                keep.append(doubt)
                continue
            if not done:
                job.next = part + 1
                self.ready.append(job)
        self.in_doubt = keep

    def _sweep_orphans(self, now_ms: int) -> None:
        """Receipts that came before the answer that names their id (a receiver session may be
        faster than the transmitter's): applied once the id is known."""
        applied = []
        for orphan in self.registry.orphans(self.id):
            if orphan.at_ms < now_ms - ORPHAN_SWEEP_MS:
                continue
            delivered = orphan.state == "DELIVRD"
            if self.outbox.receipt(self.id, orphan.message_id, delivered, True, now_ms) is not None:
                applied.append(orphan.member)
        self.registry.drop_orphans(self.id, applied)
        self.registry.prune_orphans(self.id, now_ms)

    # -- housekeeping -------------------------------------------------------------------------

    def _housekeeping(self, mono: float) -> None:
        if mono - self.status.last_housekeeping < FLUSH_SECONDS:
            return
        self.status.last_housekeeping = mono
        if self.counters:
            self.registry.count(self.id, self.counters)
            self.counters.clear()
        if self.in_doubt:
            self._resolve(mono)
        self._publish_health(mono, force=False)
        if mono - self.status.last_flush >= HOUSEKEEPING_SECONDS:
            self.status.last_flush = mono
            now = self.clock()
            now_ms = to_micros(now) // 1000
            self._sweep_orphans(now_ms)
            for message_id in self.inbox.pending():
                message = self.inbox.get(message_id)
                if message is not None and message.modem == self.id:
                    self.hand_over(message_id)
            for message_id in self.inbox.expire_partials(now_ms - PARTIAL_TIMEOUT_MS, now):
                self.hand_over(message_id)

    def _publish_health(self, mono: float, force: bool) -> None:
        if not force and mono - self.status.last_health < HEALTH_SECONDS:
            return
        self.status.last_health = mono
        samples = self.status.rate_samples
        samples.append((mono, self.status.submitted))
        while len(samples) > 2 and mono - samples[0][0] > 10.0:
            samples.popleft()
        span = samples[-1][0] - samples[0][0]
        rate = (samples[-1][1] - samples[0][1]) / span if span > 0 else 0.0
        s = self.settings
        self.registry.publish_health(
            self.id,
            {
                "state": self.status.state,
                "last_error": self.status.last_error,
                "instance": self.instance,
                "host": f"{s.host}:{s.port}",
                "bind": s.bind,
                "source": s.source,
                "system_id": s.system_id,
                "office": s.office,
                "window": s.window,
                "tps": s.tps,
                "in_flight": len(self.outstanding),
                "in_doubt": len(self.in_doubt),
                "queue": self.outbox.depth(self.id),
                "submitted": self.status.submitted,
                "received": self.status.received,
                "rate": f"{rate:.1f}",
                "throttled": int(mono < self.status.paused_until),
                "down_since": self.status.down_since,
                "connected_since": self.status.connected_since,
                "updated_at": self.clock().isoformat(),
            },
        )

    # -- waking and stopping ------------------------------------------------------------------

    def _wake_on_work(self) -> None:
        """One blocking read of the link's wake list; queued work pokes the loop."""
        name = keys.outbox_wake(self.id)
        while not self.stopping.is_set():
            try:
                if self.redis.blpop([name], timeout=1) is not None:
                    self._poke()
            except (redis.ConnectionError, redis.TimeoutError):
                self.stopping.wait(1.0)

    def _poke(self) -> None:
        with contextlib.suppress(BlockingIOError):  # a full pipe: the loop is awake anyway
            os.write(self._wake_w, b"x")

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass

    def _shut_down(self) -> None:
        """Answers for what was written are waited for (up to response_timeout), then the
        session is unbound; claimed SMS not written go back to the queue."""
        deadline = time.monotonic() + self.settings.response_timeout
        try:
            while self.outstanding and self.sessions and time.monotonic() < deadline:
                self._exchange(min(1.0, deadline - time.monotonic()))
        except LinkDown as exc:
            log.warning("smpp.stop_lost link=%s error=%s", self.id, exc)
            self._close_sessions()
        for session in self.sessions:
            session.unbind()
        self._close_sessions()
        try:
            if self.counters:
                self.registry.count(self.id, self.counters)
            if self.recovered and self.status.state is not LinkState.STANDBY:
                self.outbox.recover(self.id, self._now_ms())  # requeues the claimed ones
            self.status.state = LinkState.STOPPED
            self._publish_health(time.monotonic(), force=True)
            self.registry.let_go(self.id, self.instance)
        except redis.RedisError as exc:
            log.warning("smpp.stop_redis link=%s error=%s", self.id, exc)

    def _now_ms(self) -> int:
        return to_micros(self.clock()) // 1000
