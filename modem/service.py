"""`hoso modem`: the modem service of one host.

The pool is the config file's `[[modems]]` (or, for the demo and tests, every emulated modem in
a `--sim-dir`), with administrators' live changes from Redis over it; the service reconciles it
every few seconds: a new or re-enabled modem gets an owner thread, a disabled or removed one is
stopped and its pinned SMS go to the other modems, a modem whose port or PIN changed is restarted.

A service may be restricted to some modem ids (`hoso modem --modem ID`, one systemd unit per
modem: `hoso-modem@ID.service`): it then drives only those and leaves the rest of the pool to its
sibling services; it never starts an owner for, stops, or publishes the health of a modem outside
its set. Failover stays pool-wide: any service moves the SMS pinned to a modem that nobody can
send them from (disabled, quarantined, down for a while, or driven by no service at all) to the
shared queue, so a modem whose own service died still has its messages sent by the others.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from pathlib import Path
from types import FrameType

import redis
from rq import Queue

from config.settings import ModemSettings, Settings
from gateway.core.modem_states import ModemState
from gateway.core.office_routes import modem_pool
from gateway.modem_offices import ModemOffices
from gateway.store import keys
from gateway.store.connect import connect, connect_rq
from gateway.store.inbox import Inbox
from gateway.store.modems import ModemRegistry
from gateway.store.outbox import Outbox
from gateway.store.queues import INBOUND_QUEUE
from modem.handover import hand_over
from modem.owner import DeviceFactory, Owner, default_device, now_utc

log = logging.getLogger(__name__)

RECONCILE_SECONDS = 2.0
WAKE_BLOCK_SECONDS = 1.0
FAILOVER_AFTER_SECONDS = 30.0  # a modem down this long hands its pinned SMS to the others
RESTART_ON = ("port", "baudrate", "pin")


def emulated_pool(sim_dir: Path) -> list[ModemSettings]:
    """Every emulated modem in a `hoso sim` directory (a symlink per modem)."""
    if not sim_dir.is_dir():
        return []
    return [
        ModemSettings(id=p.name, port=str(p)) for p in sorted(sim_dir.iterdir()) if p.is_symlink()
    ]


class ModemService:
    def __init__(
        self,
        settings: Settings,
        client: redis.Redis,
        rq_client: redis.Redis,
        sim_dir: Path | None = None,
        make_device: DeviceFactory = default_device,
        instance: str | None = None,
        failover_after: float = FAILOVER_AFTER_SECONDS,
        only: frozenset[str] | None = None,
    ) -> None:
        self.failover_after = failover_after
        self.only = only  # None: every modem of the pool; else these ids alone
        self._absent: frozenset[str] = frozenset()
        self.settings = settings
        self.redis = client
        self.sim_dir = sim_dir
        self.make_device = make_device
        self.instance = instance or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.registry = ModemRegistry(client)
        self.outbox = Outbox(client)
        self.inbox = Inbox(client)
        self.queue = Queue(INBOUND_QUEUE, connection=rq_client)
        self.owners: dict[str, Owner] = {}
        self._emulated: dict[str, ModemSettings] = {}
        self.stopping = threading.Event()
        self._waker = client  # BLPOP needs its own connection per call: the pool gives one

    # -- wiring for owners -----------------------------------------------------------------

    def hand_over(self, message_id: str) -> None:
        """To the workers (modem/handover.py)."""
        hand_over(self.queue, self.inbox, message_id)

    def wake_owners(self) -> None:
        """One blocking read for the whole service: queued work wakes the modem it is for (or
        every modem, for the shared queue); the owners otherwise sleep on their own event."""
        while not self.stopping.is_set():
            owners = dict(self.owners)
            if not owners:  # nothing to wake: leave the shared wake-ups to sibling services
                self.stopping.wait(WAKE_BLOCK_SECONDS)
                continue
            pools = {m: modem_pool(o.settings.office) or "shared" for m, o in owners.items()}
            names = [keys.outbox_wake(m) for m in owners] + [keys.outbox_wake("shared")]
            names += sorted({keys.outbox_wake(p) for p in pools.values()} - set(names))
            try:
                popped = self._waker.blpop(names, timeout=WAKE_BLOCK_SECONDS)
            except (redis.ConnectionError, redis.TimeoutError):
                self.stopping.wait(1.0)
                continue
            if popped is None:
                continue
            key = str(popped[0])
            for modem, owner in owners.items():
                if key in (
                    keys.outbox_wake(modem),
                    keys.outbox_wake("shared"),
                    keys.outbox_wake(pools[modem]),
                ):
                    owner.wake.set()

    # -- the pool -----------------------------------------------------------------------------

    def desired(self) -> dict[str, ModemSettings]:
        base = list(self.settings.modems)
        if self.sim_dir is not None:
            # An unplugged modem's link vanishes (as /dev/serial/by-id links do): it stays in
            # the pool, down, until it is plugged in again.
            for m in emulated_pool(self.sim_dir):
                self._emulated.setdefault(m.id, m)
            configured = {m.id for m in base}  # a [[modems]] table says more (its office...)
            base += [m for m in self._emulated.values() if m.id not in configured]
        pool = {m.id: m for m in self.registry.effective(base)}
        if self.only is None:
            return pool
        absent = self.only - pool.keys()
        if absent and absent != self._absent:
            log.warning(
                "modem.not_configured modems=%s (in no [[modems]] table nor live change yet)",
                ",".join(sorted(absent)),
            )
        self._absent = frozenset(absent)
        return {modem: m for modem, m in pool.items() if modem in self.only}

    def reconcile(self) -> None:
        desired = self.desired()
        # Workers route an office's SMS to its modems by this (their own file may name none).
        self.registry.note_offices({modem: m.office for modem, m in desired.items()})
        for modem, owner in list(self.owners.items()):
            want = desired.get(modem)
            if (
                want is None
                or not want.enabled
                or any(getattr(want, f) != getattr(owner.settings, f) for f in RESTART_ON)
            ):
                self._stop_owner(modem, release=want is None or not want.enabled)
            elif want != owner.settings:
                owner.settings = want  # caps, carrier: taken on the owner's next turn
                log.info("modem.settings_changed modem=%s", modem)
        self._free_dead_leases(
            [m for m, want in desired.items() if want.enabled and m not in self.owners]
        )
        for modem, want in desired.items():
            if want.enabled and modem not in self.owners:
                self._start_owner(want)
            elif not want.enabled:  # so that dashboards see it, not an empty slot
                self.registry.publish_health(
                    modem, {"state": ModemState.DISABLED, "port": want.port}
                )

    def _free_dead_leases(self, modems: list[str]) -> None:
        """A lease held by a modem service of this host that no longer runs (killed, crashed:
        systemd restarts it at once) is freed now, not when it expires 15 s later. Instances
        are named host:pid:random; a lease of another host is never touched."""
        host = socket.gethostname()
        for modem in modems:
            holder = self.registry.owner(modem)
            if holder is None or holder == self.instance:
                continue
            name, _, rest = holder.partition(":")
            pid = rest.partition(":")[0]
            if name != host or not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
                continue
            self.registry.let_go(modem, holder)
            log.info("modem.lease_freed modem=%s holder=%s (its service is gone)", modem, holder)

    def _start_owner(self, settings: ModemSettings) -> None:
        owner = Owner(
            settings,
            self.instance,
            self.registry,
            self.outbox,
            self.inbox,
            self.hand_over,
            self.make_device,
            now_utc,
            self.settings.pool,
        )
        self.owners[settings.id] = owner
        owner.start()

    def _stop_owner(self, modem: str, release: bool) -> None:
        owner = self.owners.pop(modem)
        owner.stop()
        owner.join(timeout=30)
        if release:
            moved = self.outbox.release_pinned(modem, modem_pool(owner.settings.office))
            self.registry.publish_health(
                modem, {"state": ModemState.DISABLED, "instance": self.instance}
            )
            log.info("modem.disabled modem=%s moved=%d", modem, moved)

    def release_orphans(self) -> None:
        """SMS pinned to a modem that cannot send them (disabled, quarantined, down or off the
        network for a while, or driven by no service at all) go to its pool's queue: any modem
        of its office takes them (of the shared pool, for a modem of no office)."""
        now = time.time()
        offices = {m: s.office for m, s in self.desired().items()}
        for modem in self.registry.known():
            if not self.outbox.depth(modem):
                continue
            h = self.registry.health(modem)
            state = h.get("state", "")
            down_for = now - float(h.get("down_since") or now)
            off_network_for = now - float(h.get("unregistered_since") or now)
            unowned = not h and modem not in self.owners and not self.registry.owner(modem)
            if (
                unowned
                or state in (ModemState.DISABLED, ModemState.QUARANTINED)
                or h.get("no_credit") == "1"  # a dry SIM: its replies go out elsewhere
                or (state == ModemState.DOWN and down_for >= self.failover_after)
                or (state == ModemState.UP and off_network_for >= self.failover_after)
            ):
                moved = self.outbox.release_pinned(modem, modem_pool(offices.get(modem, "")))
                log.warning(
                    "modem.failover modem=%s state=%s moved=%d", modem, state or "gone", moved
                )

    def warn_unknown_offices(self) -> None:
        """A modem whose office no saved office has still runs (its SMS are the default
        office's until the office is created): said once at start."""
        try:
            unknown = ModemOffices(self.redis, self.settings.modems, self.settings.sms)
            for modem, office in sorted(unknown.unknown_offices().items()):
                log.warning(
                    "modem.unknown_office modem=%s office=%s (no such office: create it with"
                    " hoso offices, or fix [[modems]] office in %s)",
                    modem,
                    office,
                    self.settings.source,
                )
        except redis.RedisError as exc:
            log.warning("modem.offices_unread error=%s", exc)

    def hand_over_pending(self) -> None:
        """Inbound messages persisted by an earlier run but never handed over (a crash)."""
        for message_id in self.inbox.pending():
            self.hand_over(message_id)

    def run(self) -> None:
        log.info("modem.service_started instance=%s", self.instance)
        self.warn_unknown_offices()
        waker = threading.Thread(target=self.wake_owners, name="modem-waker", daemon=True)
        waker.start()
        while not self.stopping.is_set():
            try:
                self.hand_over_pending()
                self.reconcile()
                self.release_orphans()
                self.registry.service_round(self.instance, self.owners, time.time())
            except redis.RedisError as exc:
                log.warning("modem.service_redis error=%s", exc)
            except Exception as exc:  # the daemon's one broad catch
                log.error("modem.service_error error=%s", exc, exc_info=True)
            self.stopping.wait(RECONCILE_SECONDS)
        owners = list(self.owners.values())
        for owner in owners:  # all at once: each finishes the part it is sending
            owner.stop()
        for owner in owners:
            owner.join(timeout=90)
        self.owners.clear()
        log.info("modem.service_stopped instance=%s", self.instance)

    def stop(self) -> None:
        self.stopping.set()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def main(
    settings: Settings, sim_dir: Path | None = None, only: frozenset[str] | None = None
) -> int:
    client = connect(settings.redis)
    rq_client = connect_rq(settings.redis)
    if not settings.modems and sim_dir is None:
        log.warning("modem.no_modems configure [[modems]] or use --sim-dir")
    service = ModemService(settings, client, rq_client, sim_dir, only=only)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        service.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    service.run()
    return 0
