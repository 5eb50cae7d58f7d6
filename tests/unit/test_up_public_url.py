"""`hoso up --bind`: receipts printed on the system it starts lead citizens to that gateway."""

from __future__ import annotations

from config.settings import GatewaySettings, Settings
from hoso.up import public_url_of


def test_a_gateway_bound_elsewhere_is_the_public_address_when_none_was_named() -> None:
    assert public_url_of(Settings(), "127.0.0.1:9000", {}) == "http://127.0.0.1:9000"


def test_a_named_public_address_stands() -> None:
    named = Settings(gateway=GatewaySettings(public_url="https://tracuu.example.gov.vn"))
    assert public_url_of(named, "127.0.0.1:9000", {}) is None
    env = {"HOSO_GATEWAY_PUBLIC_URL": "https://tracuu.example.gov.vn"}
    assert public_url_of(Settings(), "127.0.0.1:9000", env) is None
