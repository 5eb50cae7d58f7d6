"""Routing rules in Redis: what administrators set (`hoso routes set`, /admin/routes) over the
configuration's `[[routes]]`, over the built-in defaults (gateway/core/routes.py).

`change` is the one validated way to set a rule, for the CLI, the dashboard and the admin API.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import cast

import redis

from config.settings import RouteSettings
from gateway.core.routes import (
    ANY_OFFICE,
    DEFAULT_ROUTES,
    MessageKind,
    Route,
    Rule,
    format_routes,
    make_rule,
    parse_kind,
    parse_office,
    parse_routes,
)
from gateway.store import keys

Rules = dict[tuple[str, MessageKind], tuple[Route, ...]]


@dataclass(frozen=True, slots=True)
class Shown:
    """A rule as the CLI and the dashboard list it."""

    office: str
    kind: MessageKind
    routes: tuple[Route, ...]
    source: str  # "default", "config" or "live"


def _field(office: str, kind: MessageKind) -> str:
    return f"{office}|{kind.value}"


class RouteRules:
    def __init__(self, client: redis.Redis, configured: Sequence[RouteSettings] = ()) -> None:
        self._redis = client
        self._configured = configured

    def _from_config(self) -> Rules:
        return {(r.office, MessageKind(r.kind)): parse_routes(r.via) for r in self._configured}

    def _live(self) -> Rules:
        raw = cast(dict[str, str], self._redis.hgetall(keys.routes()))
        rules: Rules = {}
        for name, text in raw.items():
            office, _, kind = name.partition("|")
            rules[(office, MessageKind(kind))] = parse_routes(text)
        return rules

    def effective(self) -> Rules:
        """The rules in force: live changes over the configuration (defaults apply where neither
        has a rule: `gateway.core.routes.routes_for`)."""
        return self._from_config() | self._live()

    def shown(self) -> list[Shown]:
        """Every rule in force, with where it comes from; the defaults for any office too."""
        configured, live = self._from_config(), self._live()
        rows: dict[tuple[str, MessageKind], Shown] = {
            (ANY_OFFICE, kind): Shown(ANY_OFFICE, kind, routes, "default")
            for kind, routes in DEFAULT_ROUTES.items()
        }
        for key, routes in configured.items():
            rows[key] = Shown(key[0], key[1], routes, "config")
        for key, routes in live.items():
            rows[key] = Shown(key[0], key[1], routes, "live")
        return sorted(rows.values(), key=lambda r: (r.office != ANY_OFFICE, r.office, r.kind))

    def change(
        self, office: str, kind: str, routes: str | Iterable[str], links: Iterable[str]
    ) -> Rule:
        """Sets a rule live, checked (RouteError says what is wrong); takes effect for the next
        SMS queued and for the next failover."""
        rule = make_rule(office, kind, routes, links)
        self._redis.hset(keys.routes(), _field(rule.office, rule.kind), format_routes(rule.routes))
        return rule

    def reset(self, office: str, kind: str) -> bool:
        """Drops the live rule: back to the configuration's (or the default). False if none."""
        name = _field(parse_office(office), parse_kind(kind))
        return bool(self._redis.hdel(keys.routes(), name))
