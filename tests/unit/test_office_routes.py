"""Offices' SMS routing (gateway.core.office_routes): which office a citizen's SMS is, who signs
the answer, and which modems an office's SMS may leave from."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.office_routes import (
    Pools,
    expand,
    inbound_office,
    modem_pool,
    office_pool,
    pool_office,
    signature,
    signed,
    signing_office,
)
from gateway.core.offices import InvalidOffice, make_office
from gateway.core.routes import (
    DEFAULT_ROUTES,
    MODEMS,
    ORIGIN,
    MessageKind,
    Route,
    RouteKind,
    queues,
)
from gateway.core.sms_text import DEFAULT_TEMPLATES, fill

POOLS = Pools({"a1": "a", "a2": "a", "b1": "b", "s1": "", "s2": ""})
REPLY, NOTICE = MessageKind.REPLY, MessageKind.NOTIFICATION


def test_an_sms_on_an_office_modem_is_that_office_s() -> None:
    assert inbound_office("a", "+84911000001", {"+84911000001": "b"}, "main") == "a"


def test_an_sms_on_a_shared_modem_is_the_office_listing_the_modem_s_number() -> None:
    assert inbound_office("", "+84911000001", {"+84911000001": "b"}, "main") == "b"


def test_an_sms_on_a_shared_modem_of_unknown_or_unlisted_number_is_the_default_office_s() -> None:
    assert inbound_office("", "", {"+84911000001": "b"}, "main") == "main"
    assert inbound_office("", "+84911000009", {"+84911000001": "b"}, "main") == "main"


def test_a_reply_about_a_dossier_is_signed_by_its_office_anything_else_by_the_receiving() -> None:
    assert signing_office("a", "b") == "b"
    assert signing_office("a", None) == "a"


def test_the_signature_is_the_sms_name_the_office_s_hotline_and_its_number() -> None:
    office = make_office(
        "ben-nghe",
        {
            "name": "UBND phường Bến Nghé",
            "hotline": "028 3822 0000",
            "numbers": ["0911000001", "0911000002"],
        },
    )
    assert signature(office, False) == {
        "office": "UBND phuong Ben Nghe",
        "hotline": "028 3822 0000",
        "number": "0911000001",
    }
    # accents allowed when free: the accented name (render strips it when they are not free)
    assert signature(office, True)["office"] == "UBND phường Bến Nghé"
    short = make_office("ben-nghe", {"name": "UBND phường Bến Nghé", "sms_name": "P. Ben Nghe"})
    assert signature(short, True)["office"] == "P. Ben Nghe"  # an SMS name chosen: always it


def test_pool_queues_name_their_office_and_never_a_modem() -> None:
    assert office_pool("a") == "@a"
    assert pool_office("@a") == "a"
    assert pool_office("") is None
    assert pool_office("a1") is None
    assert modem_pool("") == ""
    assert modem_pool("a") == "@a"


def test_pools_know_which_modems_take_from_which_queue() -> None:
    assert POOLS.members("@a") == ["a1", "a2"]
    assert POOLS.members("") == ["s1", "s2"]
    assert POOLS.office_pools() == ["@a", "@b"]
    assert POOLS.has_modems("a")
    assert not POOLS.has_modems("c")
    assert not POOLS.has_modems("")


def test_an_office_s_notice_leaves_from_its_pool_then_the_shared_one_when_it_allows() -> None:
    routes = DEFAULT_ROUTES[NOTICE]
    assert expand(routes, "", "a", NOTICE, POOLS, shared_fallback=True) == ["@a", ""]
    assert expand(routes, "", "a", NOTICE, POOLS, shared_fallback=False) == ["@a"]


def test_an_office_without_modems_uses_the_shared_pool_whatever_it_allows() -> None:
    routes = DEFAULT_ROUTES[NOTICE]
    assert expand(routes, "", "c", NOTICE, POOLS, shared_fallback=False) == [""]


def test_a_notice_leaves_from_the_modem_last_written_to_only_if_it_is_its_office_s() -> None:
    routes = (ORIGIN, MODEMS)
    assert expand(routes, "a2", "a", NOTICE, POOLS, True) == ["a2", "@a", ""]
    assert expand(routes, "b1", "a", NOTICE, POOLS, True) == ["@a", ""]  # another office's
    assert expand(routes, "s1", "a", NOTICE, POOLS, False) == ["@a"]  # the shared pool's
    assert expand(routes, "s1", "c", NOTICE, POOLS, False) == ["s1", ""]
    assert expand(routes, "a1", "c", NOTICE, POOLS, False) == [""]


def test_a_reply_leaves_from_the_modem_written_to_whichever_office_it_is() -> None:
    routes = DEFAULT_ROUTES[REPLY]
    assert expand(routes, "b1", "b", REPLY, POOLS, False) == ["b1", "@b"]
    assert expand(routes, "s1", "main", REPLY, POOLS, True) == ["s1", ""]


def test_named_modems_and_links_stay_as_the_rule_says() -> None:
    routes = (Route(RouteKind.LINK, "brand"), MODEMS, Route(RouteKind.MODEM, "s2"))
    assert expand(routes, "", "a", NOTICE, POOLS, False) == ["brand", "@a", "s2"]


route = st.sampled_from(
    [ORIGIN, MODEMS, Route(RouteKind.LINK, "brand"), Route(RouteKind.MODEM, "s1")]
)


@given(
    st.lists(route, min_size=1, max_size=4, unique=True),
    st.sampled_from(["", "s1", "s2"]),
    st.sampled_from([REPLY, NOTICE]),
    st.booleans(),
)
def test_without_office_modems_the_queues_are_those_of_an_installation_without_offices(
    routes: list[Route], origin: str, kind: MessageKind, fallback: bool
) -> None:
    shared_only = Pools({"s1": "", "s2": ""})
    assert expand(routes, origin, "main", kind, shared_only, fallback) == queues(routes, origin)


def test_an_office_s_own_reply_budget_is_a_whole_number_and_0_means_the_sms_one() -> None:
    assert make_office("a", {"name": "A"}).reply_budget == 0
    assert make_office("a", {"name": "A", "reply_budget": 500}).reply_budget == 500
    assert make_office("a", {"name": "A", "reply_budget": "500"}).reply_budget == 500  # a form
    for bad in (-1, True, "nhieu", 2.5, 10**9):
        with pytest.raises(InvalidOffice) as caught:
            make_office("a", {"name": "A", "reply_budget": bad})
        assert caught.value.field == "reply_budget"


@pytest.mark.parametrize("name", sorted(DEFAULT_TEMPLATES))
def test_in_a_province_every_shipped_template_names_its_office_once(name: str) -> None:
    template = DEFAULT_TEMPLATES[name]
    alone = signed(template, several_offices=False)
    assert alone == template  # one office sends its templates as written
    province = signed(template, several_offices=True)
    assert province.body.count("{office}") == 1
    assert province.urgent == template.urgent
    if "office" in template.placeholders:
        assert province == template
    else:
        assert province.body == "{office}: " + template.body
        values = dict.fromkeys(province.placeholders, "x") | {"office": "UBND phuong Da Kao"}
        assert fill(province, values).startswith("UBND phuong Da Kao: ")
