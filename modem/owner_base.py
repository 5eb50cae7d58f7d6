"""What every part of a modem's owner shares: its state, its collaborators, and the retried
write that records what the modem did.

An owner (`Owner`, modem/owner.py) is one thread, one object; its parts are mixins that each keep
one concern - owner_sending.py (outbound), owner_fates.py (status reports and parts a crash left
in doubt) - over the state declared here. What one part calls of another is declared here too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

import redis

from config.settings import ModemSettings, PoolSettings
from gateway.core.modem_states import ModemState
from gateway.core.times import to_micros
from gateway.store.caps import SendCaps
from gateway.store.modems import ModemRegistry
from gateway.store.outbound import Outbound
from gateway.store.outbox import Outbox
from gateway.store.replies import OptOuts
from modem.credit import Credit, carrier_named
from modem.device import Device
from modem.in_doubt import InDoubt

log = logging.getLogger(__name__)
T = TypeVar("T")

STORE_BACKOFF_FIRST = 0.25  # seconds; doubled while the store does not answer
STORE_BACKOFF_MAX = 5.0
STORE_PERSIST_SECONDS = 30.0  # how long a write recording a sent part is retried in place


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
    own_number: str = ""  # the SIM's own number (AT+CNUM) when it knows it: its office's


class OwnerBase:
    """The state of an owner (set by `Owner.__init__`) and what every part of it uses."""

    settings: ModemSettings
    instance: str
    registry: ModemRegistry
    outbox: Outbox
    clock: Callable[[], datetime]
    device: Device | None
    pool: PoolSettings
    in_doubt: InDoubt
    credit: Credit
    caps: SendCaps
    opt_outs: OptOuts
    status: OwnerState
    stopping: threading.Event

    # -- what one part calls of another (each defined by the part named) ----------------------

    def send(  # owner_sending.py
        self, sms: Outbound, start: int, resend_first: bool, expected_ref: int | None = None
    ) -> None:
        raise NotImplementedError

    def _lost(self, error: str) -> None:  # owner.py: the device is gone, reconnect
        raise NotImplementedError

    def _publish_health(self, mono: float, force: bool) -> None:  # owner.py
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------------
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

    def _now_ms(self) -> int:
        return to_micros(self.clock()) // 1000

    def _carrier(self) -> str | None:
        """The SIM's carrier: as configured, else from the network the modem is on."""
        operator = self.status.health.get("operator") if self.status.health else None
        return self.settings.carrier or carrier_named(str(operator) if operator else None)
