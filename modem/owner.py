"""The owner of one modem: the only thread that talks to it (an actor).

Its loop, while it holds the modem's lease: keep the device connected (reconnect with backoff),
take in stored SMS (persist, then delete from the SIM, then hand to the workers), apply status
reports, publish health, and send queued SMS one part at a time, saving each part's state before
the PDU goes out. Nothing here blocks on anything but the modem and Redis; nothing dies silently:
the loop catches, logs with the traceback, and carries on.

This module holds the loop, store hiccups, the connection, inbound SMS and health; sending is
owner_sending.py, status reports and parts a crash left in doubt owner_fates.py: mixins over the
state owner_base.py declares.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import redis

from config.settings import ModemSettings, PoolSettings
from gateway.core.errors import InvalidPhone
from gateway.core.modem_states import ModemState
from gateway.core.phones import mask_phone, normalise_phone
from gateway.core.times import to_micros
from gateway.store import metrics
from gateway.store.caps import SendCaps
from gateway.store.inbox import InboundPart, Inbox
from gateway.store.modems import ModemRegistry
from gateway.store.outbox import Outbox
from gateway.store.replies import OptOuts
from modem.credit import Credit
from modem.device import Device
from modem.errors import ModemError, PinRequired
from modem.in_doubt import InDoubt
from modem.owner_base import STORE_BACKOFF_FIRST, STORE_BACKOFF_MAX, OwnerState
from modem.owner_fates import Fates
from modem.owner_sending import Sending

log = logging.getLogger(__name__)

LEASE_MS = 15_000
POLL_INBOX_SECONDS = 2.0
POLL_REPORTS_SECONDS = 5.0
POLL_IN_DOUBT_SECONDS = 1.0  # while a crash left parts in doubt, waiting for their reports
HEALTH_SECONDS = 5.0
RECONNECT_BACKOFF_MAX = 30.0
IDLE_WAIT_SECONDS = 0.5
STANDBY_WAIT_SECONDS = 2.0
PARTIAL_TIMEOUT_MS = 15 * 60 * 1000

DeviceFactory = Callable[[ModemSettings], Device]
HandOver = Callable[[str], None]  # gives an inbound message id to the workers (an RQ job)


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


class Owner(threading.Thread, Sending, Fates):
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
        try:
            self.status.own_number = device.own_number()
        except ModemError as exc:
            log.info("modem.own_number_unknown modem=%s error=%s", modem, exc)
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
        fields["number"] = self.status.own_number
        fields["office"] = self.settings.office
        fields["no_credit"] = int(self.credit.no_credit)
        self.status.health = fields
        self.registry.publish_health(self.settings.id, fields)
