"""Routing rules (gateway.core.routes): parsing, the rule in force, where an SMS goes next."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.routes import (
    DEFAULT_ROUTES,
    MODEMS,
    ORIGIN,
    MessageKind,
    Route,
    RouteError,
    RouteKind,
    choose,
    format_routes,
    kind_of,
    make_rule,
    next_routes,
    parse_routes,
    routes_for,
)

BRAND = Route(RouteKind.LINK, "brand")


def test_routes_parse_from_text_or_a_list_and_print_back() -> None:
    routes = parse_routes(" link:brand ,modems, modem:vt1 ")
    assert routes == (BRAND, MODEMS, Route(RouteKind.MODEM, "vt1"))
    assert parse_routes(["link:brand", "modems", "modem:vt1"]) == routes
    assert format_routes(routes) == "link:brand, modems, modem:vt1"


@pytest.mark.parametrize(
    "text", ["", "link", "link:", "modems:vt1", "origin:x", "bus:1", "modems, modems", "link:a b"]
)
def test_a_route_list_that_cannot_be_used_is_refused(text: str) -> None:
    with pytest.raises(RouteError):
        parse_routes(text)


def test_a_rule_names_only_configured_links_and_no_origin_for_notifications() -> None:
    assert make_rule("*", "notification", "link:brand, modems", ["brand"]).routes == (BRAND, MODEMS)
    with pytest.raises(RouteError, match="no carrier link 'other'"):
        make_rule("*", "notification", "link:other", ["brand"])
    with pytest.raises(RouteError, match="no origin"):
        make_rule("*", "notification", "origin, modems", [])
    with pytest.raises(RouteError, match="office"):
        make_rule("ba dinh", "reply", "origin", [])


def test_notices_are_notifications_and_everything_else_answers_a_citizen() -> None:
    assert kind_of("notice") is MessageKind.NOTIFICATION
    assert kind_of("reply_help") is MessageKind.REPLY
    assert kind_of("") is MessageKind.REPLY


def test_the_offices_own_rule_wins_then_any_office_then_the_default() -> None:
    rules = {
        ("*", MessageKind.NOTIFICATION): (BRAND, MODEMS),
        ("badinh", MessageKind.NOTIFICATION): (MODEMS,),
    }
    assert routes_for(rules, "badinh", MessageKind.NOTIFICATION) == (MODEMS,)
    assert routes_for(rules, "hoankiem", MessageKind.NOTIFICATION) == (BRAND, MODEMS)
    assert routes_for(rules, "", MessageKind.NOTIFICATION) == (BRAND, MODEMS)
    assert routes_for(rules, "", MessageKind.REPLY) == DEFAULT_ROUTES[MessageKind.REPLY]


def test_an_sms_moves_on_to_the_routes_after_the_one_it_waits_on() -> None:
    routes = (ORIGIN, MODEMS, BRAND)
    # A reply the citizen sent to modem vt1: first vt1, then the pool, then the link.
    assert next_routes(routes, "vt1", "vt1") == ["", "brand"]
    assert next_routes(routes, "", "vt1") == ["brand"]
    assert next_routes(routes, "brand", "vt1") == []
    # A citizen who texted the link's short code: the origin is the link itself.
    assert next_routes(routes, "brand", "brand") == [""]
    # Queued before the rule changed: any route of the rule will do.
    assert next_routes((BRAND,), "", "") == ["brand"]


def test_the_first_route_that_is_not_down_is_chosen() -> None:
    assert choose(["brand", ""], {"brand": True}) == ""
    assert choose(["brand", ""], {}) == "brand"
    assert choose(["brand", ""], {"brand": True, "": True}) is None


@given(
    st.lists(
        st.sampled_from(["origin", "modems", "link:a", "link:b", "modem:m1"]),
        min_size=1,
        max_size=5,
        unique=True,
    ),
    st.sampled_from(["", "m1", "a", "b", "m2"]),
    st.sampled_from(["", "m1", "a", "m2"]),
)
def test_following_the_next_routes_never_loops_and_never_repeats(
    names: list[str], via: str, origin: str
) -> None:
    routes = parse_routes(names)
    seen = [via]
    while True:
        following = next_routes(routes, seen[-1], origin)
        if not following:
            break
        assert following[0] not in seen
        seen.append(following[0])
        assert len(seen) <= len(routes) + 1
