"""Routing: which queue an outbound SMS goes to, and where it moves when its route goes down.

The rules (gateway/core/routes.py, stored by gateway/store/routes.py) name routes in order of
preference; a route is down when whoever drives it says so for `failover_after` seconds, or says
nothing at all (no health published: its process is gone):
- a carrier link: its `hoso smpp` process's health (gateway/store/links.py);
- one modem: its owner's health; quarantined, disabled or standing by counts as down;
- the modems: down when every modem is.

`RoutedOutbox` is the outbox the workers enqueue through: a reply's `via` is where the citizen
wrote (the origin), and the rule for its kind and office (the office's own rule, else the rule
for any office) picks the first route that is up (if every one is down, the first: the SMS waits
there). "The modems" of an office with modems of its own are its own pool, then the shared pool
only if the office allows it (`gateway.core.office_routes`): an office's pool is down when each
of its modems is. `Router.fail_over` (a cron job every tick) moves SMS queued for a route that
went down to the next route of their rule that is up; the modem service still moves SMS pinned
to one modem to that modem's pool (its office's, or the shared one) itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import redis

from config.settings import Settings
from gateway.core.messages import Priority
from gateway.core.modem_states import ModemState, route_down
from gateway.core.office_routes import Pools, expand, modem_pool, pool_office
from gateway.core.offices import DEFAULT_OFFICE
from gateway.core.routes import kind_of, routes_for
from gateway.modem_offices import ModemOffices
from gateway.store import keys
from gateway.store.links import LinkRegistry
from gateway.store.modems import ModemRegistry
from gateway.store.outbox import Outbox
from gateway.store.routes import RouteRules, Rules

log = logging.getLogger(__name__)

FAILOVER_AFTER_SECONDS = 30.0  # as the modem service's (modem/service.py)
FAILOVER_BATCH = 500
# A burst of notifications asks the same questions for every SMS: the rules and the routes' states
# are read again after this long (an SMS queued meanwhile for a route that just went down is moved
# by the next failover).
CACHE_SECONDS = 1.0


class Router:
    def __init__(
        self,
        client: redis.Redis,
        settings: Settings,
        *,
        failover_after: float = FAILOVER_AFTER_SECONDS,
        clock: Callable[[], float] = time.time,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self.redis = client
        self.links = frozenset(link.id for link in settings.smpp)
        self.rules = RouteRules(client, settings.routes)
        self.link_registry = LinkRegistry(client)
        self.modem_registry = ModemRegistry(client)
        self.modem_offices = ModemOffices(client, settings.modems, settings.sms, cache_seconds)
        self.failover_after = failover_after
        self.clock = clock
        self.cache_seconds = cache_seconds
        self._down: dict[str, tuple[float, bool]] = {}
        self._rules: tuple[float, Rules] | None = None
        self._fallback: dict[str, tuple[float, bool]] = {}

    def effective_rules(self) -> Rules:
        mono = time.monotonic()
        if self._rules is None or mono - self._rules[0] >= self.cache_seconds:
            self._rules = (mono, self.rules.effective())
        return self._rules[1]

    def is_down(self, via: str) -> bool:
        """Whether the route behind an outbox queue is down ("" the modems' shared queue)."""
        mono = time.monotonic()
        cached = self._down.get(via)
        if cached is not None and mono - cached[0] < self.cache_seconds:
            return cached[1]
        down = self._is_down(via)
        self._down[via] = (mono, down)
        return down

    def pools(self) -> Pools:
        return self.modem_offices.pools()

    def shared_fallback(self, office: str) -> bool:
        """Whether the office's notifications may leave from the shared pool (an office not
        saved: yes, as the default office)."""
        mono = time.monotonic()
        cached = self._fallback.get(office)
        if cached is None or mono - cached[0] >= self.cache_seconds:
            found = self.modem_offices.offices.find(office)
            cached = (mono, True if found is None else found.shared_fallback)
            self._fallback[office] = cached
        return cached[1]

    def pool_for(self, office: str) -> str:
        """The queue standing for "another modem" for an SMS of `office`: its own pool when it
        has modems, else the shared one."""
        return modem_pool(office) if self.pools().has_modems(office) else ""

    def candidates(self, outbox_kind: str, origin: str, office: str) -> list[str]:
        """The queues of the rule for an SMS of `office`, in order."""
        kind = kind_of(outbox_kind)
        routes = routes_for(self.effective_rules(), office, kind)
        return expand(routes, origin, office, kind, self.pools(), self.shared_fallback(office))

    def _is_down(self, via: str) -> bool:
        now = self.clock()
        if via == "" or pool_office(via) is not None:
            modems = self.pools().members(via)
            return all(route_down(self._modem_health(m), now, self.failover_after) for m in modems)
        if via in self.links or via in self.link_registry.known():
            return route_down(self.link_registry.health(via), now, self.failover_after)
        return route_down(self._modem_health(via), now, self.failover_after)

    def _modem_health(self, modem: str) -> dict[str, str]:
        health = self.modem_registry.health(modem)
        if health and self.modem_registry.quarantined(modem):
            return {**health, "state": ModemState.QUARANTINED}
        return health

    def choose(self, outbox_kind: str, origin: str, office: str = DEFAULT_OFFICE) -> str:
        """The queue for a new SMS: the first route of its rule that is up, else the first."""
        candidates = self.candidates(outbox_kind, origin, office)
        for via in candidates:
            if not self.is_down(via):
                return via
        return candidates[0] if candidates else origin

    def fail_over(self, outbox: Outbox, limit: int = FAILOVER_BATCH) -> int:
        """Moves SMS queued for a route that is down to the next route of their rule that is
        up; returns how many moved."""
        self._rules = (time.monotonic(), self.rules.effective())
        self._fallback.clear()
        pools = self.pools()
        watched = [*sorted(self.links | set(self.link_registry.known())), "", *pools.office_pools()]
        moved = 0
        down: dict[str, bool] = {}

        def is_down(via: str) -> bool:  # read fresh, once per run
            if via not in down:
                down[via] = self._is_down(via)
            return down[via]

        for via in watched:
            if not is_down(via):
                continue
            for sms in outbox.waiting(via, limit):
                order = self.candidates(sms["kind"], sms["origin"], sms["office"] or DEFAULT_OFFICE)
                after = order[order.index(via) + 1 :] if via in order else order
                target = next((t for t in after if not is_down(t)), None)
                if target is not None and outbox.reroute(sms["id"], target):
                    moved += 1
                    log.info(
                        "route.failover sms=%s from=%s to=%s",
                        sms["id"],
                        via or "modems",
                        target or "modems",
                    )
        return moved


class RoutedOutbox(Outbox):
    """The outbox the workers enqueue through: `via` names the origin (where the citizen wrote),
    the router picks the queue."""

    def __init__(self, client: redis.Redis, router: Router, instance: str = "") -> None:
        super().__init__(client, instance)
        self.router = router

    def enqueue(
        self,
        to: str,
        text: str,
        priority: Priority,
        now_ms: int,
        *,
        via: str = "",
        carrier: str = "",
        kind: str = "",
        dossier: str = "",
        dedupe_key: str = "",
        office: str = "",
        pool: str = "",
    ) -> str:
        office = office or DEFAULT_OFFICE
        chosen = self.router.choose(kind, via, office)
        message_id = super().enqueue(
            to,
            text,
            priority,
            now_ms,
            via=chosen,
            carrier=carrier,
            kind=kind,
            dossier=dossier,
            dedupe_key=dedupe_key,
            office=office,
            pool=pool or self.router.pool_for(office),
        )
        if via:
            fields: dict[Any, Any] = {"origin": via}
            self.router.redis.hset(keys.sms(message_id), mapping=fields)
        return message_id
