"""Operational figures, counted in Redis by every process and read at once for GET /metrics.

The gateway runs as several gunicorn workers, and modems, workers and stations are other
processes, so in-process counters would each see a slice. Every process adds to counters here
instead (a few HINCRBYs in one round trip, or in a pipeline the caller passes in with its own
work), and the gateway reads them all, with the queue depths and the modems' published health,
when Prometheus scrapes (`read`). Counters live as long as Redis's data (AOF); a flushed Redis is
a counter reset, which Prometheus handles.

The AT+CMGS latency histogram keeps one field per bucket, not cumulative (`le:<bound>`: parts
whose latency fell above the previous bound and at most this one), plus `sum` and `count`; `read`
makes them cumulative. Changing `CMGS_BUCKETS` later keeps old observations in the right bounds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import cast

import redis
from redis.client import Pipeline
from rq import Queue
from rq.registry import FailedJobRegistry

from gateway.core.modem_limits import parse_limits
from gateway.core.office_routes import office_pool
from gateway.core.offices import DEFAULT_OFFICE
from gateway.store import keys
from gateway.store.queues import ALL_QUEUES

CMGS_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)  # seconds
TIMEOUT = "timeout"  # the error class of a part refused without a +CMS ERROR code
UNAVAILABLE = "unavailable"  # the modem stopped answering during the send (fate unknown)
NO_CREDIT = "no_credit"  # refused, and the SIM's balance (read at once) cannot pay for SMS
ERROR_CLASSES = (
    "retry_here",
    "retry_elsewhere",
    "quarantine",
    "never",
    NO_CREDIT,
    TIMEOUT,
    UNAVAILABLE,
)
ERROR_PREFIX = "error:"
BUCKET_PREFIX = "le:"

Recorder = Callable[[Pipeline], object]


def _record(client: redis.Redis, add: Recorder) -> None:
    """Adds the commands to the caller's pipeline (not executed), or runs them in one MULTI."""
    if isinstance(client, Pipeline):
        add(client)
        return
    pipe = client.pipeline(transaction=True)
    add(pipe)
    pipe.execute()


def _bound(value: float) -> str:
    return "+Inf" if math.isinf(value) else repr(value)


def bucket_of(seconds: float) -> str:
    """The histogram field an observation is counted in: the smallest bound >= it."""
    for bound in CMGS_BUCKETS:
        if seconds <= bound:
            return BUCKET_PREFIX + _bound(bound)
    return BUCKET_PREFIX + "+Inf"


def error_class(verdict: str, code: int | None) -> str:
    """The class of a refused part: the +CMS verdict (or `no_credit`), or `timeout` when no
    code came (a timeout, or a final ERROR without a code)."""
    return TIMEOUT if code is None else str(verdict)


# -- recording (every process) --------------------------------------------------------------


def part_sent(client: redis.Redis, modem: str, seconds: float) -> None:
    """One part accepted by the network (+CMGS), `seconds` after AT+CMGS was written."""
    seconds = max(0.0, seconds)

    def add(pipe: Pipeline) -> None:
        pipe.sadd(keys.metrics_modems(), modem)
        pipe.hincrby(keys.metrics_modem(modem), "sent", 1)
        pipe.hincrby(keys.metrics_cmgs(modem), bucket_of(seconds), 1)
        pipe.hincrbyfloat(keys.metrics_cmgs(modem), "sum", seconds)
        pipe.hincrby(keys.metrics_cmgs(modem), "count", 1)

    _record(client, add)


def send_failed(client: redis.Redis, modem: str, verdict: str, code: int | None) -> None:
    """One part refused, with the +CMS ERROR code (None: none came) and its verdict."""
    _count_error(client, modem, error_class(verdict, code))


def modem_lost(client: redis.Redis, modem: str) -> None:
    """The modem stopped answering while a part was being sent (its fate is resolved later)."""
    _count_error(client, modem, UNAVAILABLE)


def _count_error(client: redis.Redis, modem: str, klass: str) -> None:
    def add(pipe: Pipeline) -> None:
        pipe.sadd(keys.metrics_modems(), modem)
        pipe.hincrby(keys.metrics_modem(modem), ERROR_PREFIX + klass, 1)

    _record(client, add)


def sms_received(client: redis.Redis, modem: str) -> None:
    """One inbound SMS (reassembled, deduplicated) taken in from this modem."""

    def add(pipe: Pipeline) -> None:
        pipe.sadd(keys.metrics_modems(), modem)
        pipe.hincrby(keys.metrics_modem(modem), "received", 1)

    _record(client, add)


def reply_sent(client: redis.Redis, template: str) -> None:
    """One reply to a citizen's SMS enqueued, written with this template."""
    _record(client, lambda pipe: pipe.hincrby(keys.metrics_replies(), template, 1))


def notifications_sent(client: redis.Redis, count: int) -> None:
    """`count` notification SMS enqueued (one per phone)."""
    if count > 0:
        _record(client, lambda pipe: pipe.incrby(keys.metrics_notifications(), count))


def scan_recorded(client: redis.Redis, station: str) -> None:
    """One scan recorded from this station (not a repeated one)."""
    _record(client, lambda pipe: pipe.hincrby(keys.metrics_scans(), station, 1))


# -- reading (GET /metrics) -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Histogram:
    buckets: tuple[tuple[float, int], ...]  # (upper bound, cumulative count); the last is +inf
    total: float  # the sum of the observations
    count: int


@dataclass(frozen=True, slots=True)
class ModemFigures:
    modem: str
    sent: int
    received: int
    errors: dict[str, int]  # error class -> parts (every class of ERROR_CLASSES, 0 if none)
    cmgs: Histogram
    up: bool  # its owner published health with state "up" (health expires when it dies)
    state: str  # "" when no health is published
    registered: bool | None  # on the network (None: not reported)
    signal_dbm: float | None
    pinned: int  # SMS queued for this modem only
    inflight: int  # SMS it has claimed and not finished
    sim_waiting: int = 0  # received SMS on its SIM when last counted (0: none or unknown)
    limits: tuple[str, ...] = ()  # what it could not do (gateway.core.modem_limits.Limit)
    no_credit: bool = False  # sends refused and the balance cannot pay: the SIM is dry
    balance_vnd: float | None = None  # the last balance read by USSD
    balance_low: bool | None = None  # below [pool] low_balance_vnd, or dry
    validity_days: float | None = None  # days until the SIM's validity ends
    validity_low: bool | None = None  # within [pool] validity_warn_days


@dataclass(frozen=True, slots=True)
class Snapshot:
    modems: tuple[ModemFigures, ...]
    outbox_shared: int
    outbox_delayed: int
    inbound_pending: int
    jobs_queued: dict[str, int]
    jobs_failed: dict[str, int]
    replies: dict[str, int]
    notifications_sent: int
    notifications_held: int  # pending notices due later (coalescing window, quiet hours)
    notifications_due: int  # pending notices whose time has come (or being sent)
    scans: dict[str, int]
    # SMS waiting for an office's own modems (its pool: `gateway.core.office_routes`), by office
    outbox_offices: dict[str, int] = field(default_factory=dict)


def histogram(raw: dict[str, str]) -> Histogram:
    """Cumulative buckets from the stored per-bucket counts."""
    counts: list[tuple[float, int]] = []
    for name, value in raw.items():
        if name.startswith(BUCKET_PREFIX):
            try:
                counts.append((float(name[len(BUCKET_PREFIX) :]), int(value)))
            except ValueError:
                continue
    observed = sum(n for _, n in counts)
    count = max(int(raw.get("count", 0)), observed)
    buckets = [(bound, sum(n for b, n in counts if b <= bound)) for bound in CMGS_BUCKETS]
    buckets.append((math.inf, count))
    return Histogram(tuple(buckets), float(raw.get("sum", 0.0)), count)


def _int(value: object) -> int:
    return int(cast(str, value)) if value is not None else 0


def _float_or_none(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _counts(raw: object) -> dict[str, int]:
    return {str(k): int(v) for k, v in cast(dict[str, str], raw).items()}


def rq_keys(name: str, client: redis.Redis) -> tuple[str, str]:
    """The keys of an RQ queue's waiting list and failed-job registry (read without cleanup)."""
    return str(Queue(name, connection=client).key), str(FailedJobRegistry(name, client).key)


def read(client: redis.Redis, now_ms: int, queues: Iterable[str] = ALL_QUEUES) -> Snapshot:
    """Everything /metrics shows, in two round trips."""
    queues = list(queues)
    pipe = client.pipeline(transaction=False)
    pipe.smembers(keys.modem_ids())
    pipe.smembers(keys.metrics_modems())
    pipe.hkeys(keys.modem_config())
    pipe.zcard(keys.outbox_shared())
    pipe.zcard(keys.outbox_delayed())
    pipe.llen(keys.inbound_pending())
    pipe.hgetall(keys.metrics_replies())
    pipe.get(keys.metrics_notifications())
    pipe.zcount(keys.notices_due(), f"({now_ms}", "+inf")
    pipe.zcount(keys.notices_due(), "-inf", now_ms)
    pipe.hgetall(keys.metrics_scans())
    for name in queues:
        waiting, failed = rq_keys(name, client)
        pipe.llen(waiting)
        pipe.zcard(failed)
    answers = pipe.execute()
    (driven, counted, configured, shared, delayed, pending, replies, sent, held, due, scans) = (
        answers[:11]
    )
    rq = answers[11:]
    modems = sorted({str(m) for m in (*driven, *counted, *configured)})
    return Snapshot(
        outbox_offices=_office_queues(client),
        modems=tuple(_read_modems(client, modems)),
        outbox_shared=int(shared),
        outbox_delayed=int(delayed),
        inbound_pending=int(pending),
        jobs_queued={name: int(rq[2 * i]) for i, name in enumerate(queues)},
        jobs_failed={name: int(rq[2 * i + 1]) for i, name in enumerate(queues)},
        replies=_counts(replies),
        notifications_sent=_int(sent),
        notifications_held=int(held),
        notifications_due=int(due),
        scans=_counts(scans),
    )


def _office_queues(client: redis.Redis) -> dict[str, int]:
    """How many SMS wait for each office's own modems (the default office's, saved or not)."""
    offices = sorted({DEFAULT_OFFICE, *(str(o) for o in client.hkeys(keys.offices()))})
    pipe = client.pipeline(transaction=False)
    for office in offices:
        pipe.zcard(keys.outbox_pinned(office_pool(office)))
    return {office: int(n) for office, n in zip(offices, pipe.execute(), strict=True)}


def _read_modems(client: redis.Redis, modems: list[str]) -> list[ModemFigures]:
    pipe = client.pipeline(transaction=False)
    for modem in modems:
        pipe.hgetall(keys.metrics_modem(modem))
        pipe.hgetall(keys.metrics_cmgs(modem))
        pipe.hmget(
            keys.modem_health(modem),
            ["state", "signal_dbm", "registered", "sim_waiting", "limits", "no_credit"],
        )
        pipe.zcard(keys.outbox_pinned(modem))
        pipe.scard(keys.outbox_inflight(modem))
        pipe.hmget(keys.modem_balance(modem), ["vnd", "low", "valid_days", "validity_low"])
    answers = pipe.execute()
    figures: list[ModemFigures] = []
    for i, modem in enumerate(modems):
        counters, cmgs, health, pinned, inflight, credit = answers[6 * i : 6 * i + 6]
        counts = _counts(counters)
        state, signal, registered, waiting, limits, dry = cast(list[str | None], health)
        vnd, low, days, validity_low = cast(list[str | None], credit)
        figures.append(
            ModemFigures(
                modem=modem,
                sent=counts.get("sent", 0),
                received=counts.get("received", 0),
                errors=dict.fromkeys(ERROR_CLASSES, 0)
                | {
                    k[len(ERROR_PREFIX) :]: v
                    for k, v in counts.items()
                    if k.startswith(ERROR_PREFIX)
                },
                cmgs=histogram(cast(dict[str, str], cmgs)),
                up=state == "up",
                state=state or "",
                registered=None if not registered else registered == "1",
                signal_dbm=_float_or_none(signal),
                pinned=int(pinned),
                inflight=int(inflight),
                sim_waiting=int(_float_or_none(waiting) or 0),
                limits=parse_limits(limits),
                no_credit=dry == "1",
                balance_vnd=_float_or_none(vnd),
                balance_low=None if not low else low == "1",
                validity_days=_float_or_none(days),
                validity_low=None if not validity_low else validity_low == "1",
            )
        )
    return figures
