"""What every part of a carrier link shares: the SMS it holds in memory and its status.

A link (`Link`, modem/smpp/link.py) is one thread, one object; its parts are mixins that each keep
one concern - submitting.py (the window and the answers), inbound.py (deliver_sm), in_doubt.py
(parts of unknown fate) - over the state declared here. Invariants over that state:
- an SMS the link claimed is in exactly one place: `ready` (a `Job` with its next part to write),
  `outstanding` (a part written, its answer awaited, by sequence number) or `in_doubt` (a part
  written whose answer will never come), until its last part is answered;
- a part is in `outstanding` only after its `submitting` was saved, and leaves it for
  `in_doubt` when the bind is lost: memory never holds a part the store does not know of.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import redis
from rq import Queue

from config.settings import SmppSettings
from gateway.core.modem_states import LinkState
from gateway.core.times import to_micros
from gateway.store.inbox import Inbox
from gateway.store.links import LinkRegistry
from gateway.store.outbound import Outbound
from gateway.store.outbox import Outbox
from gateway.store.replies import OptOuts
from modem.smpp.coding import SubmitPart, encode
from modem.smpp.session import Session

log = logging.getLogger(__name__)


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


class LinkBase:
    """The state of a link (set by `Link.__init__`) and what every part of it uses."""

    settings: SmppSettings
    id: str
    instance: str
    redis: redis.Redis
    registry: LinkRegistry
    outbox: Outbox
    inbox: Inbox
    opt_outs: OptOuts
    queue: Queue
    clock: Callable[[], datetime]
    stopping: threading.Event
    status: LinkStatus
    sessions: list[Session]
    tx: Session | None
    ready: collections.deque[Job]
    outstanding: dict[int, InFlight]
    in_doubt: list[SubmitInDoubt]
    heard: dict[str, float]
    counters: collections.Counter[str]
    source_ton: int
    source_npi: int
    dest_ton: int
    dest_npi: int

    def _parts(self, sms: Outbound) -> list[SubmitPart] | None:
        """The submit_sm user data of a claimed SMS, as the link is configured; None (and the
        SMS given up) if it cannot be encoded."""
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

    def _now_ms(self) -> int:
        return to_micros(self.clock()) // 1000
