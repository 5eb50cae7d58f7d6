"""The carrier links' families of GET /metrics (`hoso_smpp_*`), read at scrape time from what
each link process publishes (gateway/store/links.py): its health hash and its counters."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.store.links import LinkRegistry
from gateway.store.outbox import Outbox

STATES = ("up", "down", "standby", "disabled", "stopped", "starting", "unknown")


@dataclass(frozen=True, slots=True)
class LinkSnapshot:
    link: str
    state: str
    health: dict[str, str]
    counters: dict[str, int] = field(default_factory=dict)
    queue: int = 0


def read_links(
    registry: LinkRegistry, outbox: Outbox, configured: Iterable[str]
) -> list[LinkSnapshot]:
    out = []
    for link in sorted(set(configured) | set(registry.known())):
        health = registry.health(link)
        state = health.get("state") or "unknown"
        out.append(
            LinkSnapshot(
                link,
                state if state in STATES else "unknown",
                health,
                registry.counters(link),
                outbox.depth(link),
            )
        )
    return out


class LinksCollector(Collector):
    def __init__(self, links: list[LinkSnapshot]) -> None:
        self.links = links

    def collect(self) -> Iterator[Metric]:
        yield from link_families(self.links)


def _gauge(name: str, doc: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=["link"])


def link_families(links: list[LinkSnapshot]) -> Iterator[Metric]:
    up = _gauge("hoso_smpp_up", "1 when the link's process reports its bind up, else 0.")
    state = GaugeMetricFamily(
        "hoso_smpp_state",
        "1 for the state the link's process reports (unknown: no report), 0 for the others.",
        labels=["link", "state"],
    )
    in_flight = _gauge("hoso_smpp_in_flight", "submit_sm written and not answered yet.")
    window = _gauge("hoso_smpp_window", "The most submit_sm the link leaves unanswered.")
    tps = _gauge("hoso_smpp_tps_limit", "Submits a second the carrier allows the link.")
    rate = _gauge("hoso_smpp_submit_rate", "Parts accepted a second over the last 10 s.")
    in_doubt = _gauge(
        "hoso_smpp_in_doubt",
        "Parts of unknown fate (a crash or a lost bind) waiting for a receipt.",
    )
    throttled = _gauge("hoso_smpp_throttled", "1 while the link is backing off a throttling.")
    queue = _gauge("hoso_smpp_queue_depth", "SMS queued for the link.")
    submitted = CounterMetricFamily(
        "hoso_smpp_submitted", "Parts the SMSC accepted (submit_sm_resp OK).", labels=["link"]
    )
    throttles = CounterMetricFamily(
        "hoso_smpp_throttled_answers",
        "submit_sm answered ESME_RTHROTTLED or ESME_RMSGQFUL (sent again after a pause).",
        labels=["link"],
    )
    errors = CounterMetricFamily(
        "hoso_smpp_submit_errors",
        "submit_sm refused, per command_status.",
        labels=["link", "status"],
    )
    receipts = CounterMetricFamily(
        "hoso_smpp_receipts",
        "Delivery receipts, per state (DELIVRD, UNDELIV...).",
        labels=["link", "state"],
    )
    received = CounterMetricFamily(
        "hoso_smpp_received", "Citizens' SMS taken in (whole messages).", labels=["link"]
    )
    reconnects = CounterMetricFamily(
        "hoso_smpp_reconnects", "Binds made again after a lost connection.", labels=["link"]
    )
    fates = CounterMetricFamily(
        "hoso_smpp_unknown_fates",
        "Parts of unknown fate: resolved by a receipt, or sent again once.",
        labels=["link", "outcome"],
    )
    for s in links:
        h = s.health
        up.add_metric([s.link], 1 if s.state == "up" else 0)
        for name in STATES:
            state.add_metric([s.link, name], 1 if name == s.state else 0)
        for family, key in (
            (in_flight, "in_flight"),
            (window, "window"),
            (tps, "tps"),
            (rate, "rate"),
            (in_doubt, "in_doubt"),
            (throttled, "throttled"),
        ):
            if h.get(key):
                family.add_metric([s.link], float(h[key]))
        queue.add_metric([s.link], s.queue)
        c = s.counters
        submitted.add_metric([s.link], c.get("submitted", 0))
        throttles.add_metric([s.link], c.get("throttled", 0))
        received.add_metric([s.link], c.get("received", 0))
        reconnects.add_metric([s.link], c.get("reconnects", 0))
        fates.add_metric([s.link, "resolved"], c.get("resolved", 0))
        fates.add_metric([s.link, "resent"], c.get("resent", 0))
        for name, count in sorted(c.items()):
            if name.startswith("error:"):
                errors.add_metric([s.link, name[6:]], count)
            elif name.startswith("receipts:"):
                receipts.add_metric([s.link, name[9:]], count)
    yield from (up, state, in_flight, window, tps, rate, in_doubt, throttled, queue)
    yield from (submitted, throttles, errors, receipts, received, reconnects, fates)
