"""Which way an outbound SMS leaves: routing rules (pure).

A route is where the outbox can put an SMS:
- ``origin``: the modem or carrier link the citizen wrote to (a reply goes back the way the
  question came; an SMS with no origin skips it);
- ``modems``: the shared pool of GSM modems (any modem takes it);
- ``modem:<id>``: one modem;
- ``link:<id>``: one carrier link (SMPP, `[[smpp]]`).

A rule says, for one office (``*``: any office) and one kind of message (a reply to a citizen's
SMS, or a notification the office sends on its own), the routes in order of preference: the SMS
takes the first route that is not down, and moves on to the next when the one it waits on goes
down (`next_routes`). Where no rule is set, `DEFAULT_ROUTES` apply: today's behaviour of a pool of
modems.

Every SMS carries its office: the rule for that office is looked up first, then the rule for
any office (`routes_for`). What ``modems`` means for an office with modems of its own (its pool,
then the shared pool if it allows): `gateway.core.office_routes.expand`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from gateway.core.errors import CoreError

ANY_OFFICE = "*"
ROUTE_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # modem and link ids (systemd instance names)
OFFICE_ID = re.compile(r"\*|[A-Za-z0-9_.-]{1,64}")


class MessageKind(StrEnum):
    REPLY = "reply"  # the answer to a citizen's SMS
    NOTIFICATION = "notification"  # what the office sends on its own (status, dates)


class RouteKind(StrEnum):
    ORIGIN = "origin"
    MODEMS = "modems"
    MODEM = "modem"
    LINK = "link"


@dataclass(frozen=True, slots=True)
class Route:
    kind: RouteKind
    target: str = ""  # the modem or link id (MODEM, LINK)

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.target}" if self.target else self.kind.value


ORIGIN = Route(RouteKind.ORIGIN)
MODEMS = Route(RouteKind.MODEMS)

DEFAULT_ROUTES: Mapping[MessageKind, tuple[Route, ...]] = {
    MessageKind.REPLY: (ORIGIN, MODEMS),
    # A notification's origin: the modem the citizen last wrote to, when the notice knows it.
    MessageKind.NOTIFICATION: (ORIGIN, MODEMS),
}

KIND_LABELS = {MessageKind.REPLY: "Trả lời tin nhắn", MessageKind.NOTIFICATION: "Thông báo"}


class RouteError(CoreError):
    """A route or rule that cannot be used; the message says why, `reason` names the case (for
    the dashboard's Vietnamese messages) and `value` the text at fault."""

    def __init__(self, message: str, reason: str, value: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.value = value


def kind_of(outbox_kind: str) -> MessageKind:
    """The message kind of an outbound SMS from the `kind` the outbox records: notices (and
    the date notices) are notifications, everything else answers a citizen."""
    return MessageKind.NOTIFICATION if outbox_kind == "notice" else MessageKind.REPLY


def parse_kind(text: str) -> MessageKind:
    try:
        return MessageKind(text.strip().lower())
    except ValueError as exc:
        kinds = ", ".join(k.value for k in MessageKind)
        raise RouteError(f"unknown message kind {text!r} (one of {kinds})", "kind", text) from exc


def parse_office(text: str) -> str:
    office = text.strip() or ANY_OFFICE
    if not OFFICE_ID.fullmatch(office):
        raise RouteError(f"office {text!r}: '*' or letters, digits, '-', '_', '.'", "office", text)
    return office


def parse_route(text: str) -> Route:
    name, sep, target = text.strip().partition(":")
    try:
        kind = RouteKind(name.strip().lower())
    except ValueError as exc:
        raise RouteError(
            f"unknown route {text.strip()!r}: origin, modems, modem:<id> or link:<id>",
            "route",
            text.strip(),
        ) from exc
    target = target.strip()
    if kind in (RouteKind.ORIGIN, RouteKind.MODEMS):
        if sep:
            raise RouteError(f"route {kind.value} takes no id ({text.strip()!r})", "route", text)
        return Route(kind)
    if not ROUTE_ID.fullmatch(target):
        raise RouteError(
            f"route {kind.value} needs an id: {kind.value}:<id> ({text.strip()!r})", "route", text
        )
    return Route(kind, target)


def parse_routes(texts: str | Iterable[str]) -> tuple[Route, ...]:
    """Routes from "link:brand, modems" or ["link:brand", "modems"]: at least one, none twice."""
    pieces = texts.split(",") if isinstance(texts, str) else list(texts)
    routes = tuple(parse_route(p) for p in pieces if p.strip())
    if not routes:
        raise RouteError("a rule needs at least one route", "empty")
    seen: set[Route] = set()
    for route in routes:
        if route in seen:
            raise RouteError(f"route {route} is named twice", "twice", str(route))
        seen.add(route)
    return routes


def format_routes(routes: Sequence[Route]) -> str:
    return ", ".join(str(r) for r in routes)


@dataclass(frozen=True, slots=True)
class Rule:
    office: str
    kind: MessageKind
    routes: tuple[Route, ...]


def check_rule(rule: Rule, links: Iterable[str]) -> None:
    """A rule that names no unknown link and sends no notification to an origin."""
    known = set(links)
    if rule.kind is MessageKind.NOTIFICATION and ORIGIN in rule.routes:
        raise RouteError(
            "a notification has no origin: use modems, modem:<id> or link:<id>", "origin"
        )
    for route in rule.routes:
        if route.kind is RouteKind.LINK and route.target not in known:
            listed = ", ".join(sorted(known)) or "none is configured"
            raise RouteError(
                f"no carrier link {route.target!r} ([[smpp]] ids: {listed})", "link", route.target
            )


def make_rule(office: str, kind: str, routes: str | Iterable[str], links: Iterable[str]) -> Rule:
    """The one validated way to a rule, for the configuration, the CLI and the dashboard."""
    rule = Rule(parse_office(office), parse_kind(kind), parse_routes(routes))
    check_rule(rule, links)
    return rule


def routes_for(
    rules: Mapping[tuple[str, MessageKind], tuple[Route, ...]], office: str, kind: MessageKind
) -> tuple[Route, ...]:
    """The routes of the office's own rule, else the rule for any office, else the default."""
    for key in ((office or ANY_OFFICE, kind), (ANY_OFFICE, kind)):
        if key in rules:
            return rules[key]
    return DEFAULT_ROUTES[kind]


def resolve(route: Route, origin: str) -> str | None:
    """The outbox queue a route stands for, as `Outbox.enqueue(via=...)` names it: "" for the
    modems' shared queue, a modem or link id for its own queue; None for an origin the SMS does
    not have."""
    if route.kind is RouteKind.ORIGIN:
        return origin or None
    if route.kind is RouteKind.MODEMS:
        return ""
    return route.target


def queues(routes: Sequence[Route], origin: str) -> list[str]:
    """The outbox queues a rule stands for, in order, each once (a route that resolves to a
    queue named before it, like ``link:x`` after an ``origin`` that is link x, adds nothing)."""
    out: list[str] = []
    for route in routes:
        target = resolve(route, origin)
        if target is not None and target not in out:
            out.append(target)
    return out


def next_routes(routes: Sequence[Route], via: str, origin: str) -> list[str]:
    """The queues after the one an SMS waits on, in order: where it goes when its queue's route
    is down. An SMS on no route of the rule (the rule changed since it was queued) may take any
    of them."""
    order = queues(routes, origin)
    if via not in order:
        return order
    return order[order.index(via) + 1 :]


def choose(candidates: Sequence[str], down: Mapping[str, bool]) -> str | None:
    """The first candidate queue whose route is not down (None if every one is)."""
    return next((c for c in candidates if not down.get(c, False)), None)
