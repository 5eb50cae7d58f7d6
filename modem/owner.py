"""The owner of one modem: the only thread that talks to it (an actor).

Its loop, while it holds the modem's lease: keep the device connected (reconnect with backoff),
take in stored SMS (persist, then delete from the SIM, then hand to the workers), apply status
reports, publish health, and send queued SMS one part at a time, saving each part's state before
the PDU goes out. Nothing here blocks on anything but the modem and Redis; nothing dies silently:
the loop catches, logs with the traceback, and carries on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar

import redis

from config.settings import ModemSettings, PoolSettings
from gateway.core.errors import InvalidPhone
from gateway.core.messages import RetryWhere, SmsState, reports_alive
from gateway.core.modem_states import ModemState
from gateway.core.phones import mask_phone, normalise_phone
from gateway.core.send_caps import Caps, under_caps
from gateway.core.times import to_micros
from gateway.store import metrics
from gateway.store.caps import SendCaps
from gateway.store.inbox import InboundPart, Inbox
from gateway.store.metrics import NO_CREDIT
from gateway.store.modems import ModemRegistry
from gateway.store.outbound import Outbound, UnknownFate
from gateway.store.outbox import Outbox
from gateway.store.replies import OptOuts
from modem.credit import Credit, carrier_named
from modem.device import Device, StatusReport, encode_parts
from modem.errors import ModemError, ModemUnavailable, PinRequired, SendFailed, SendVerdict
from modem.in_doubt import InDoubt
from modem.outgoing import dropped_for_opt_out

log = logging.getLogger(__name__)
T = TypeVar("T")

LEASE_MS = 15_000
POLL_INBOX_SECONDS = 2.0
POLL_REPORTS_SECONDS = 5.0
POLL_IN_DOUBT_SECONDS = 1.0  # while a crash left parts in doubt, waiting for their reports
HEALTH_SECONDS = 5.0
RECONNECT_BACKOFF_MAX = 30.0
IDLE_WAIT_SECONDS = 0.5
STANDBY_WAIT_SECONDS = 2.0
PARTIAL_TIMEOUT_MS = 15 * 60 * 1000
STORE_BACKOFF_FIRST = 0.25  # seconds; doubled while the store does not answer
STORE_BACKOFF_MAX = 5.0
STORE_PERSIST_SECONDS = 30.0  # how long a write recording a sent part is retried in place

WHERE = {
    SendVerdict.RETRY_HERE: RetryWhere.HERE,
    SendVerdict.RETRY_ELSEWHERE: RetryWhere.ELSEWHERE,
    SendVerdict.QUARANTINE: RetryWhere.ELSEWHERE,
    SendVerdict.NEVER: RetryWhere.NEVER,
}

DeviceFactory = Callable[[ModemSettings], Device]
HandOver = Callable[[str], None]  # gives an inbound message id to the workers (an RQ job)


def replace_fate(fate: UnknownFate, sms: Outbound) -> UnknownFate:
    return UnknownFate(sms, fate.part, fate.expected_ref, fate.since_ms)


def default_device(settings: ModemSettings) -> Device:
    return Device(settings.port, settings.baudrate, settings.pin)


def e164_or_raw(sender: str) -> str:
    """Senders as E.164 where they are numbers; alphanumeric senders ("VIETTEL") as they are."""
    try:
        return normalise_phone(sender)
    except InvalidPhone:
        return sender


def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclass
class OwnerState:
    state: ModemState = ModemState.STARTING
    last_error: str = ""
    down_since: float | None = None  # unix time
    sent: int = 0
    received: int = 0
    reconnects: int = 0
    next_connect: float = 0.0
    backoff: float = 1.0
    last_inbox: float = 0.0
    last_reports: float = 0.0
    last_health: float = 0.0
    lease_renew_at: float = 0.0
    registered: bool = False
    unregistered_since: float | None = None  # unix time: up but not on the network since then
    last_ref: int | None = None
    health: dict[str, object] = field(default_factory=dict)
    store_hiccup: bool = False  # the store failed the last turn
    store_backoff: float = 0.25  # seconds before the next try while it does
    limits: dict[str, str] = field(default_factory=dict)  # what the modem could not do
    limits_logged: set[str] = field(default_factory=set)  # each logged once per owner
    sim_waiting: int = 0  # received SMS on the SIM when last counted


class Owner(threading.Thread):
    def __init__(
        self,
        settings: ModemSettings,
        instance: str,
        registry: ModemRegistry,
        outbox: Outbox,
        inbox: Inbox,
        hand_over: HandOver,
        make_device: DeviceFactory = default_device,
        clock: Callable[[], datetime] = now_utc,
        pool: PoolSettings | None = None,
    ) -> None:
        super().__init__(name=f"modem-{settings.id}", daemon=True)
        self.settings = settings
        self.instance = instance
        self.registry = registry
        self.outbox = outbox.acting_as(instance)  # the attempt log names this service
        self.inbox = inbox
        self.hand_over = hand_over
        self.wake = threading.Event()  # set by the service (queued work) and the device (URCs)
        self.make_device = make_device
        self.clock = clock
        self.device: Device | None = None
        self.pool = pool or PoolSettings()
        self.in_doubt = InDoubt()
        self.credit = Credit(settings.id, self.pool, registry, clock)
        self.caps = SendCaps(registry)
        self.opt_outs = OptOuts(registry.client)
        self.status = OwnerState()
        self.stopping = threading.Event()

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> None:
        log.info("modem.owner_started modem=%s port=%s", self.settings.id, self.settings.port)
        while not self.stopping.is_set():
            try:
                if self.status.store_hiccup:
                    self.recover_after_hiccup()
                busy = self.step()
                self._store_back()
            except ModemError as exc:  # the modem stopped answering properly: reconnect
                self._lost(str(exc))
                busy = False
            except redis.RedisError as exc:  # the store, not the modem: wait and go on
                self._store_hiccup(exc)
                continue
            except Exception as exc:  # the daemon's one broad catch: log, drop the device, go on
                log.error(
                    "modem.loop_error modem=%s error=%s", self.settings.id, exc, exc_info=True
                )
                self._lost(f"internal: {exc}")
                busy = False
            if self.status.state is ModemState.STANDBY:
                self.stopping.wait(STANDBY_WAIT_SECONDS)  # another service drives this modem
            elif not busy:
                self.wake.wait(IDLE_WAIT_SECONDS)
                self.wake.clear()
        self._close()
        self.registry.let_go(self.settings.id, self.instance)
        log.info("modem.owner_stopped modem=%s", self.settings.id)

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()

    # -- store hiccups ---------------------------------------------------------------------
    # A Redis that stalls or restarts for a few seconds is not the modem's fault: the device is
    # kept, the state and last error stay, the turn is retried with a growing pause. Writes that
    # record what the modem already did (a part accepted) are retried in place (`_persist`);
    # anything left half done is settled as after a crash once the store answers again.

    def _store_hiccup(self, exc: redis.RedisError) -> None:
        if not self.status.store_hiccup:
            log.warning("modem.store_unavailable modem=%s error=%s", self.settings.id, exc)
        self.status.store_hiccup = True
        self.stopping.wait(self.status.store_backoff)
        self.status.store_backoff = min(STORE_BACKOFF_MAX, self.status.store_backoff * 2)

    def _store_back(self) -> None:
        if self.status.store_hiccup:
            log.warning("modem.store_back modem=%s", self.settings.id)
        self.status.store_hiccup = False
        self.status.store_backoff = STORE_BACKOFF_FIRST

    def recover_after_hiccup(self) -> None:
        """The SMS this owner was handling when the store failed: as after a crash."""
        if self.device is not None and self.device.alive():
            self.recover()

    def _persist(self, what: str, write: Callable[[], T]) -> T:
        """A write recording what the modem did, retried through a store hiccup (bounded);
        past the bound it raises, and `recover_after_hiccup` settles the part."""
        pause = STORE_BACKOFF_FIRST
        deadline = time.monotonic() + STORE_PERSIST_SECONDS
        while True:
            try:
                return write()
            except redis.RedisError as exc:
                if time.monotonic() + pause > deadline or self.stopping.is_set():
                    raise
                log.info("modem.store_retry modem=%s what=%s error=%s", self.settings.id, what, exc)
                time.sleep(pause)
                pause = min(STORE_BACKOFF_MAX, pause * 2)

    def step(self) -> bool:
        """One turn of the loop; True when it did work (so the next turn comes at once)."""
        modem = self.settings.id
        mono = time.monotonic()
        if mono >= self.status.lease_renew_at or self.status.state is ModemState.STANDBY:
            if not self.registry.hold(modem, self.instance, LEASE_MS):
                self._close()
                self.status.state = ModemState.STANDBY
                return False
            self.status.lease_renew_at = mono + LEASE_MS / 3000
            if self.status.state is ModemState.STANDBY:
                self.status.state = ModemState.STARTING
        if self.device is None or not self.device.alive():
            if self.device is not None:
                self._lost("the port or its reader died")
            if mono < self.status.next_connect or not self._connect():
                self._publish_health(mono, force=False)
                return False
        device = self.device
        assert device is not None
        hints = device.drain_urcs()
        if any(h.startswith("+CMTI") for h in hints):  # hints only: storage is polled anyway
            self.status.last_inbox = 0.0
        if any(h.startswith("+CDSI") for h in hints):
            self.status.last_reports = 0.0
        # Not ^BOOT: Huawei sticks repeat it every few seconds, as a heartbeat.
        if any(h.startswith(("RDY", "SMS Ready", "+CFUN: 1")) for h in hints):
            log.warning("modem.rebooted modem=%s", modem)
        if mono - self.status.last_inbox >= POLL_INBOX_SECONDS:
            self.take_inbound()
            self.status.last_inbox = mono
        every = POLL_IN_DOUBT_SECONDS if self.in_doubt else POLL_REPORTS_SECONDS
        if mono - self.status.last_reports >= every:
            self.apply_reports(device.status_reports())
            self.status.last_reports = mono
        if self.in_doubt and self.device is not None:
            self.settle_expired()
        self._publish_health(mono, force=False)
        if self.send_one():
            return True
        if self.credit.due() and self.device is not None:  # when idle: USSD takes seconds
            self.credit.read(self.device, self._carrier())
        return False

    # -- connection ------------------------------------------------------------------------

    def _connect(self) -> bool:
        modem = self.settings.id
        pin = self.settings.pin
        refused = pin is not None and self.registry.pin_refused(modem, pin)
        device = self.make_device(replace(self.settings, pin=None) if refused else self.settings)
        device.on_urc = self.wake.set
        try:
            try:
                device.connect()
            finally:
                self._note_device(device)
        except PinRequired as exc:
            if exc.attempted and pin is not None:
                self.registry.refuse_pin(modem, pin)
                log.error("modem.pin_refused modem=%s (not tried again)", modem)
            if refused or exc.attempted:
                error = (
                    f"SIM: the configured PIN was refused ({exc.state}); it is not tried again"
                    " (3 wrong PINs lock the SIM): set the right one"
                )
            else:
                error = f"SIM: {exc}"
            self._down(error, retry_in=RECONNECT_BACKOFF_MAX * 4)
            device.close()
            return False
        except ModemError as exc:
            self._down(str(exc), retry_in=self.status.backoff)
            self.status.backoff = min(RECONNECT_BACKOFF_MAX, self.status.backoff * 2)
            device.close()
            return False
        self.device = device
        if pin is not None and not refused:
            self.registry.pin_accepted(modem)
        self.status.backoff = 1.0
        self.status.state = ModemState.UP
        self.status.down_since = None
        self.status.reconnects += 1
        self.status.last_inbox = 0.0
        self.status.last_reports = 0.0
        log.info("modem.up modem=%s", modem)
        self.recover()
        self._publish_health(time.monotonic(), force=True)
        return True

    def _note_device(self, device: Device) -> None:
        """What a connection (or a failed one) learnt: limitations, SMS waiting on the SIM."""
        if device.last_stored is not None:
            self.status.sim_waiting = device.last_stored
        if device.limits:
            self.status.limits = {str(k): v for k, v in device.limits.items()}
        for code, detail in self.status.limits.items():
            if code not in self.status.limits_logged:
                self.status.limits_logged.add(code)
                log.warning(
                    "modem.limitation modem=%s what=%s detail=%r", self.settings.id, code, detail
                )

    def _down(self, error: str, retry_in: float) -> None:
        if self.status.state is not ModemState.DOWN:
            log.warning("modem.down modem=%s error=%s", self.settings.id, error)
        self.status.state = ModemState.DOWN
        self.status.last_error = error
        if self.status.down_since is None:
            self.status.down_since = time.time()
        self.status.next_connect = time.monotonic() + retry_in

    def _lost(self, error: str) -> None:
        self._close()
        self._down(error, retry_in=1.0)

    def _close(self) -> None:
        if self.device is not None:
            self.device.close()
            self.device = None

    # -- inbound ----------------------------------------------------------------------------

    def take_inbound(self) -> None:
        assert self.device is not None
        now = self.clock()
        for stored in self.device.list_stored():
            text = stored.text if not stored.corrupt else f"[undecodable PDU {stored.pdu}]"
            concat = (
                (stored.concat.ref, stored.concat.total, stored.concat.seq)
                if stored.concat
                else None
            )
            part = InboundPart(
                self.settings.id,
                e164_or_raw(stored.sender),
                text,
                stored.smsc_time,
                stored.digest,
                concat,
            )
            message = self.inbox.take(part, now)  # persisted (AOF, fsync) before the delete below
            if not stored.direct:  # a +CMT left nothing on the modem
                self.device.delete(stored.index, stored.memory)
            if message is not None:
                self.status.received += 1
                metrics.sms_received(self.registry.client, self.settings.id)
                log.info(
                    "sms.received modem=%s id=%s from=%s parts=%s",
                    self.settings.id,
                    message,
                    mask_phone(stored.sender),
                    stored.concat.total if stored.concat else 1,
                )
                self.hand_over(message)
        self.inbox.expire_partials(to_micros(now) // 1000 - PARTIAL_TIMEOUT_MS, now)

    # -- delivery reports --------------------------------------------------------------------

    def apply_reports(self, reports: list[StatusReport]) -> None:
        """Applies each report to its part, deletes it from the modem; a report that matches no
        recorded part may settle a part a crash left in doubt (modem/in_doubt.py)."""
        assert self.device is not None
        now_ms = to_micros(self.clock()) // 1000
        confirmed: list[UnknownFate] = []
        for report in reports:
            applied = self._apply(report, now_ms)
            if applied is None and self.in_doubt:
                doubt = self.in_doubt.match(report, self.device.stray_refs)
                if doubt is not None:
                    self._confirm(doubt.fate, report.reference, "report")
                    confirmed.append(doubt.fate)
                    applied = self._apply(report, now_ms)
            log.info(
                "sms.report modem=%s ref=%s status=%s sms=%s",
                self.settings.id,
                report.reference,
                report.status,
                applied[0] if applied else "unknown",
            )
            if report.index is not None:
                self.device.delete_report(report)
        for fate in confirmed:  # the rest of a multipart SMS whose part in doubt went out
            self._continue(fate.sms.id)

    def _apply(self, report: StatusReport, now_ms: int) -> tuple[str, SmsState] | None:
        return self.outbox.delivery_report(
            self.settings.id,
            report.reference,
            report.recipient,
            report.delivered,
            report.final,
            now_ms,
            report.status,
        )

    # -- outbound ---------------------------------------------------------------------------

    def _may_send(self) -> bool:
        s = self.settings
        if not s.enabled:
            self.status.state = ModemState.DISABLED
            return False
        reason = self.registry.quarantined(s.id)
        if reason is not None:
            self.status.state = ModemState.QUARANTINED
            self.status.last_error = reason
            return False
        self.status.state = ModemState.UP
        if not self.status.registered or self.credit.no_credit:
            return False
        return under_caps(
            self.caps.sent(s.id, self.clock()), Caps(s.per_minute, s.per_hour, s.per_day)
        )

    def send_one(self) -> bool:
        if not self._may_send():
            return False
        now_ms = to_micros(self.clock()) // 1000
        sms = self.outbox.claim(
            self.settings.id,
            self._carrier() or "",
            now_ms,
            reply_wait_ms=self.pool.reply_wait_seconds * 1000,
        )
        if sms is None:
            return False
        if dropped_for_opt_out(
            self.outbox, self.opt_outs, sms, now_ms, f"modem={self.settings.id}"
        ):
            return True
        self.send(sms, start=sms.next_part, resend_first=False)
        return True

    def send(
        self, sms: Outbound, start: int, resend_first: bool, expected_ref: int | None = None
    ) -> None:
        """Sends the parts of `sms` from `start`; the first one as a duplicate-safe resend."""
        assert self.device is not None
        concat_ref = sms.concat_reference
        parts = encode_parts(
            sms.to,
            sms.text,
            concat_ref=concat_ref,
            reject_duplicates=False,
            message_reference=0,
        )
        sms = self.outbox.plan(sms, len(parts), concat_ref if len(parts) > 1 else None)
        for index in range(start, len(parts)):
            part = parts[index]
            resend = index == start and resend_first
            if resend:
                part = encode_parts(
                    sms.to,
                    sms.text,
                    concat_ref=concat_ref,
                    reject_duplicates=True,
                    message_reference=((expected_ref or 0) - index) % 256,
                )[index]
            guess = None if self.status.last_ref is None else (self.status.last_ref + 1) % 256
            now_ms = to_micros(self.clock()) // 1000
            if not self.outbox.submitting(sms, index, guess, now_ms, resend=resend):
                # No longer claimed: a report failed it meanwhile. Nothing more of it goes out.
                log.warning(
                    "sms.stopped modem=%s id=%s part=%d reason=not-claimed",
                    *(self.settings.id, sms.id, index),
                )
                return
            started = time.monotonic()
            try:
                reference = self.device.send(part)
            except SendFailed as exc:
                self._refused(sms, exc)
                return
            except ModemUnavailable as exc:
                # The part's fate is unknown: it stays `submitting` and is resolved on reconnect.
                metrics.modem_lost(self.registry.client, self.settings.id)
                self._lost(f"send: {exc}")
                return
            self.status.last_ref = reference
            self.credit.spent()
            now_ms = to_micros(self.clock()) // 1000
            record = partial(self.outbox.submitted, sms, index, reference, now_ms)
            self._persist("submitted", record)
            self._persist("caps", partial(self._count_part, time.monotonic() - started))
            self.status.sent += 1
        log.info(
            "sms.submitted modem=%s id=%s to=%s parts=%d",
            self.settings.id,
            sms.id,
            mask_phone(sms.to),
            len(parts),
        )

    def _count_part(self, seconds: float) -> None:
        self.registry.count_sent(self.settings.id, self.clock())
        self.caps.count(self.settings.id, self.clock())
        metrics.part_sent(self.registry.client, self.settings.id, seconds)

    def _refused(self, sms: Outbound, exc: SendFailed) -> None:
        now_ms = to_micros(self.clock()) // 1000
        self.status.last_error = str(exc)
        error = f"+CMS ERROR: {exc.code}" if exc.code is not None else str(exc)
        assert self.device is not None
        if self.credit.explains(exc.code, self.device, self._carrier()):
            # Not the SIM's fault nor the message's: it has no credit. Another modem sends it.
            metrics.send_failed(self.registry.client, self.settings.id, NO_CREDIT, exc.code)
            self.status.last_error = f"{error}: SIM hết tiền"
            self._persist(
                "refused",
                lambda: self.outbox.failed_attempt(
                    sms, RetryWhere.ELSEWHERE, f"{error} (SIM hết tiền)", now_ms
                ),
            )
            log.warning(
                "sms.refused modem=%s id=%s code=%s verdict=no-credit",
                *(self.settings.id, sms.id, exc.code),
            )
            self._publish_health(time.monotonic(), force=True)
            return
        metrics.send_failed(self.registry.client, self.settings.id, exc.verdict, exc.code)
        where = WHERE[exc.verdict]
        if exc.verdict is SendVerdict.QUARANTINE and self.registry.note_quarantine_error(
            self.settings.id, exc.code, now_ms
        ):
            log.warning("modem.quarantined modem=%s code=%s", self.settings.id, exc.code)
        state = self._persist(
            "refused", lambda: self.outbox.failed_attempt(sms, where, error, now_ms)
        )
        log.warning(
            "sms.refused modem=%s id=%s code=%s verdict=%s now=%s",
            self.settings.id,
            sms.id,
            exc.code,
            exc.verdict,
            state,
        )

    # -- crash recovery --------------------------------------------------------------------

    def recover(self) -> None:
        """At connect: parts a crash left in doubt wait (bounded) for the status report that
        confirms them; SMS claimed but not started go back to their queue (Outbox.recover)."""
        assert self.device is not None
        modem = self.settings.id
        now_ms = to_micros(self.clock()) // 1000
        if self.status.last_ref is None:
            self.status.last_ref = self.outbox.last_reference(modem)
        unknown = self.outbox.recover(modem, now_ms)
        wait = self.pool.report_wait_seconds
        for fate in unknown:
            if self.device.reports == "none" or wait <= 0:
                self._settle_without_report(fate)
            else:
                log.info(
                    "sms.fate_waiting modem=%s id=%s part=%d seconds=%d",
                    *(modem, fate.sms.id, fate.part, wait),
                )
                self.in_doubt.add(fate, time.monotonic() + wait)
        if self.in_doubt:
            self.apply_reports(self.device.status_reports())
            self.status.last_reports = time.monotonic()

    def settle_expired(self) -> None:
        """Parts in doubt whose wait is over: no report confirmed them, send them again. A part
        already resent once is sent again only while this modem's reports are known to come
        (a report in the last `messages.REPORTS_ALIVE_MS`): if the network sends none, the silence
        proves nothing, and a third copy is never risked."""
        for doubt in self.in_doubt.expired(time.monotonic()):
            fate = doubt.fate
            current = self.outbox.get(fate.sms.id) or fate.sms
            last_report = self.outbox.last_report_ms(self.settings.id)
            if current.resent and not reports_alive(last_report, self._now_ms()):
                self._settle_without_report(replace_fate(fate, current))
                continue
            log.warning(
                "sms.resend_unknown modem=%s id=%s part=%d reason=no-report",
                *(self.settings.id, fate.sms.id, fate.part),
            )
            self.send(current, start=fate.part, resend_first=True, expected_ref=fate.expected_ref)

    def _now_ms(self) -> int:
        return to_micros(self.clock()) // 1000

    def _settle_without_report(self, fate: UnknownFate) -> None:
        """A modem without status reports: resend once; a part already resent once is taken as
        sent (never a third copy: without reports nothing tells which copy went out)."""
        sms = fate.sms
        if sms.resent:
            self._confirm(fate, fate.expected_ref or 0, "earlier-resend")
            self._continue(sms.id)
            return
        log.warning(
            "sms.resend_unknown modem=%s id=%s part=%d reason=no-reports",
            *(self.settings.id, sms.id, fate.part),
        )
        self.send(sms, start=fate.part, resend_first=True, expected_ref=fate.expected_ref)

    def _confirm(self, fate: UnknownFate, reference: int, how: str) -> None:
        log.info(
            "sms.fate_resolved modem=%s id=%s part=%d by=%s ref=%s",
            *(self.settings.id, fate.sms.id, fate.part, how, reference),
        )
        now_ms = to_micros(self.clock()) // 1000
        self.outbox.submitted(fate.sms, fate.part, reference, now_ms, how=how)

    def _continue(self, sms_id: str) -> None:
        refreshed = self.outbox.get(sms_id)
        if refreshed is not None and 0 < refreshed.next_part < refreshed.parts:
            self.send(refreshed, start=refreshed.next_part, resend_first=False)

    def _carrier(self) -> str | None:
        """The SIM's carrier: as configured, else from the network the modem is on."""
        operator = self.status.health.get("operator") if self.status.health else None
        return self.settings.carrier or carrier_named(str(operator) if operator else None)

    # -- health -----------------------------------------------------------------------------

    def _publish_health(self, mono: float, force: bool) -> None:
        if not force and mono - self.status.last_health < HEALTH_SECONDS:
            return
        self.status.last_health = mono
        fields: dict[str, object] = {
            "state": self.status.state,
            "last_error": self.status.last_error,
            "instance": self.instance,
            "port": self.settings.port,
            "carrier": self.settings.carrier or "",
            "sent_today": self.registry.sent_today(self.settings.id, self.clock()),
            "sent": self.status.sent,
            "received": self.status.received,
            "reconnects": self.status.reconnects,
            "queue": self.outbox.depth(self.settings.id),
            "down_since": self.status.down_since,
            "updated_at": self.clock().isoformat(),
        }
        if self.device is not None:
            try:
                h = self.device.health()
                self.device.stored_count()
            except ModemError as exc:
                self._lost(f"health: {exc}")
            else:
                self._note_device(self.device)
                self.status.registered = h.registered
                if h.registered:
                    self.status.unregistered_since = None
                elif self.status.unregistered_since is None:
                    self.status.unregistered_since = time.time()
                fields |= {
                    "unregistered_since": self.status.unregistered_since,
                    "signal_dbm": h.signal_dbm,
                    "signal_csq": h.signal_csq,
                    "registered": int(h.registered),
                    "roaming": int(h.roaming),
                    "operator": h.operator,
                    "sim": h.sim,
                    "imei": h.imei,
                    "model": h.model,
                }
        fields["state"] = self.status.state
        fields["limits"] = ",".join(sorted(self.status.limits))
        fields["sim_waiting"] = self.status.sim_waiting
        fields["no_credit"] = int(self.credit.no_credit)
        self.status.health = fields
        self.registry.publish_health(self.settings.id, fields)
