"""GET /metrics: the figures every process counts in Redis, in Prometheus's text format.

Unauthenticated, like /healthz: it names modems, stations and templates, never citizens.
Read at scrape time (`gateway.store.metrics.read`), so every gunicorn worker answers the same.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from flask import Blueprint, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from gateway.http.context import services
from gateway.http.metrics_smpp import LinksCollector, read_links
from gateway.store.metrics import Snapshot, read

bp = Blueprint("metrics", __name__)

# The classic text format generate_latest writes (newer clients default to announcing 1.0.0).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@bp.get("/metrics")
def scrape() -> Response:
    svc = services()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(read(svc.redis, int(svc.clock() * 1000))))
    links = read_links(svc.links, svc.outbox, (k.id for k in svc.settings.smpp))
    registry.register(LinksCollector(links))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE)


class SnapshotCollector(Collector):
    """Metric families of one snapshot (one scrape)."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        yield from modem_families(self.snapshot)
        yield from queue_families(self.snapshot)
        yield from traffic_families(self.snapshot)


# What a modem's owner publishes (modem/owner.py), and "unknown" when nothing is published.
MODEM_STATES = ("up", "down", "disabled", "quarantined", "starting", "standby", "unknown")


def modem_families(s: Snapshot) -> Iterator[Metric]:
    sent = CounterMetricFamily(
        "hoso_modem_sms_sent",
        "SMS parts the network accepted (+CMGS), per modem.",
        labels=["modem"],
    )
    received = CounterMetricFamily(
        "hoso_modem_received", "Inbound SMS taken in (whole messages), per modem.", labels=["modem"]
    )
    errors = CounterMetricFamily(
        "hoso_modem_send_errors",
        "Parts refused, per modem and class (the +CMS verdict; timeout: no code; "
        "unavailable: the modem stopped answering).",
        labels=["modem", "class"],
    )
    cmgs = HistogramMetricFamily(
        "hoso_modem_cmgs_seconds",
        "AT+CMGS latency of accepted parts, per modem.",
        labels=["modem"],
    )
    up = GaugeMetricFamily(
        "hoso_modem_up", "1 when the modem's owner reports it up, else 0.", labels=["modem"]
    )
    state = GaugeMetricFamily(
        "hoso_modem_state",
        "1 for the state the modem's owner reports (unknown: no report, e.g. its service is "
        "gone), 0 for the others.",
        labels=["modem", "state"],
    )
    registered = GaugeMetricFamily(
        "hoso_modem_registered",
        "1 when the modem is registered on the network (home or roaming), else 0.",
        labels=["modem"],
    )
    signal = GaugeMetricFamily(
        "hoso_modem_signal_dbm", "Signal strength the modem last reported.", labels=["modem"]
    )
    waiting = GaugeMetricFamily(
        "hoso_modem_sim_waiting",
        "Received SMS waiting on the modem's SIM when last counted; with the modem down, "
        "citizens' SMS nobody reads.",
        labels=["modem"],
    )
    no_credit = GaugeMetricFamily(
        "hoso_modem_no_credit",
        "1 while the SIM's sends are refused and its balance cannot pay for SMS (dry), else 0.",
        labels=["modem"],
    )
    balance = GaugeMetricFamily(
        "hoso_modem_balance_vnd",
        "The SIM's prepaid balance (đồng) as the carrier last answered the USSD balance code.",
        labels=["modem"],
    )
    balance_low = GaugeMetricFamily(
        "hoso_modem_balance_low",
        "1 when the balance is below [pool] low_balance_vnd (or the SIM is dry), else 0.",
        labels=["modem"],
    )
    validity = GaugeMetricFamily(
        "hoso_modem_validity_days",
        "Days until the SIM's validity ends, as the carrier last said.",
        labels=["modem"],
    )
    validity_low = GaugeMetricFamily(
        "hoso_modem_validity_low",
        "1 when the SIM's validity ends within [pool] validity_warn_days, else 0.",
        labels=["modem"],
    )
    limited = GaugeMetricFamily(
        "hoso_modem_limitation",
        "1 for each thing the modem could not do (a refused optional command), by code.",
        labels=["modem", "limitation"],
    )
    for m in s.modems:
        sent.add_metric([m.modem], m.sent)
        received.add_metric([m.modem], m.received)
        for klass, count in sorted(m.errors.items()):
            errors.add_metric([m.modem, klass], count)
        buckets = [(_le(bound), float(count)) for bound, count in m.cmgs.buckets]
        cmgs.add_metric([m.modem], buckets, m.cmgs.total)
        up.add_metric([m.modem], 1 if m.up else 0)
        current = m.state if m.state in MODEM_STATES else "unknown"
        for name in MODEM_STATES:
            state.add_metric([m.modem, name], 1 if name == current else 0)
        if m.registered is not None:
            registered.add_metric([m.modem], 1 if m.registered else 0)
        if m.signal_dbm is not None:
            signal.add_metric([m.modem], m.signal_dbm)
        waiting.add_metric([m.modem], m.sim_waiting)
        for code in m.limits:
            limited.add_metric([m.modem, code], 1)
        no_credit.add_metric([m.modem], 1 if m.no_credit else 0)
        if m.balance_vnd is not None:
            balance.add_metric([m.modem], m.balance_vnd)
        if m.balance_low is not None:
            balance_low.add_metric([m.modem], 1 if m.balance_low else 0)
        if m.validity_days is not None:
            validity.add_metric([m.modem], m.validity_days)
        if m.validity_low is not None:
            validity_low.add_metric([m.modem], 1 if m.validity_low else 0)
    yield from (sent, received, errors, cmgs, up, state, registered, signal, waiting, limited)
    yield from (no_credit, balance, balance_low, validity, validity_low)


def queue_families(s: Snapshot) -> Iterator[Metric]:
    outbox = GaugeMetricFamily(
        "hoso_outbox_depth",
        "Outbound SMS waiting: shared (any modem), pinned (one modem), delayed (retry later).",
        labels=["queue", "modem"],
    )
    outbox.add_metric(["shared", ""], s.outbox_shared)
    outbox.add_metric(["delayed", ""], s.outbox_delayed)
    inflight = GaugeMetricFamily(
        "hoso_outbox_inflight", "Outbound SMS a modem claimed and is sending.", labels=["modem"]
    )
    for m in s.modems:
        outbox.add_metric(["pinned", m.modem], m.pinned)
        inflight.add_metric([m.modem], m.inflight)
    offices = GaugeMetricFamily(
        "hoso_outbox_office_depth",
        "Outbound SMS waiting for an office's own modems (none up, and the office does not let"
        " the shared pool stand in; or they are busy).",
        labels=["office"],
    )
    for office, waiting in s.outbox_offices.items():
        offices.add_metric([office], waiting)
    yield outbox
    yield offices
    yield inflight
    yield GaugeMetricFamily(
        "hoso_inbound_pending",
        "Inbound SMS persisted and not yet handed to the workers.",
        value=s.inbound_pending,
    )
    queued = GaugeMetricFamily("hoso_jobs_queued", "RQ jobs waiting.", labels=["queue"])
    failed = GaugeMetricFamily("hoso_jobs_failed", "RQ jobs failed (registry).", labels=["queue"])
    for name, count in s.jobs_queued.items():
        queued.add_metric([name], count)
    for name, count in s.jobs_failed.items():
        failed.add_metric([name], count)
    yield queued
    yield failed


def traffic_families(s: Snapshot) -> Iterator[Metric]:
    replies = CounterMetricFamily(
        "hoso_sms_replies", "Replies to citizens' SMS enqueued, per template.", labels=["template"]
    )
    for template, count in sorted(s.replies.items()):
        replies.add_metric([template], count)
    yield replies
    yield CounterMetricFamily(
        "hoso_notifications_sent",
        "Notification SMS enqueued (one per phone).",
        value=s.notifications_sent,
    )
    yield GaugeMetricFamily(
        "hoso_notifications_held",
        "Pending notices due later (coalescing window or quiet hours).",
        value=s.notifications_held,
    )
    yield GaugeMetricFamily(
        "hoso_notifications_due",
        "Pending notices whose time has come (waiting for or in a release).",
        value=s.notifications_due,
    )
    scans = CounterMetricFamily(
        "hoso_scans", "Scans recorded (repeats not counted), per station.", labels=["station"]
    )
    for station, count in sorted(s.scans.items()):
        scans.add_metric([station], count)
    yield scans


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(bound)
