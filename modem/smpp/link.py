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

This module holds the loop, the bind, reading, timers, housekeeping and health; the link's other
concerns are its mixins: submitting.py (the window and the answers), inbound.py (deliver_sm),
in_doubt.py (parts of unknown fate), over the state link_base.py declares.

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
from datetime import datetime

import redis
from rq import Queue

from config.settings import SmppSettings
from gateway.core.modem_states import LinkState
from gateway.core.times import to_micros
from gateway.store import keys
from gateway.store.inbox import Inbox
from gateway.store.links import LinkRegistry
from gateway.store.outbox import Outbox
from gateway.store.queues import INBOUND_QUEUE
from gateway.store.replies import OptOuts
from modem.smpp.coding import (
    DeliveryReceipt,
    source_ton_npi,
)
from modem.smpp.errors import (
    BindRefused,
    LinkDown,
)
from modem.smpp.in_doubt import Doubts
from modem.smpp.inbound import Inbound
from modem.smpp.link_base import InFlight, Job, LinkStatus, SubmitInDoubt, now_utc
from modem.smpp.session import Session, SmppAnswer, SmppRequest
from modem.smpp.submitting import Submitting

log = logging.getLogger(__name__)

LEASE_MS = 10_000
HEALTH_SECONDS = 2.0
FLUSH_SECONDS = 1.0
HOUSEKEEPING_SECONDS = 5.0
STANDBY_WAIT_SECONDS = 2.0
SOCKET_TIMEOUT = 10.0
PARTIAL_TIMEOUT_MS = 15 * 60 * 1000
READ_BURST = 500


class Link(Submitting, Inbound, Doubts):
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
