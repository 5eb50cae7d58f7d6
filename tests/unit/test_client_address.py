"""The client's address behind trusted proxies (`gateway.http.proxies.forwarded_client`)."""

from __future__ import annotations

import ipaddress
import re

import pytest

from config.settings import GatewaySettings
from gateway.http.proxies import forwarded_client

LOCAL = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128"))
BALANCERS = (*LOCAL, ipaddress.ip_network("10.0.1.0/24"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "hops", "trusted", "client"),
    [
        ("127.0.0.1", "203.0.113.7", 1, LOCAL, "203.0.113.7"),  # nginx on the host
        ("198.51.100.9", "203.0.113.7", 1, LOCAL, "198.51.100.9"),  # a direct client forging
        ("127.0.0.1", "6.6.6.6, 203.0.113.7", 1, LOCAL, "203.0.113.7"),  # left entries: ignored
        ("127.0.0.1", None, 1, LOCAL, "127.0.0.1"),  # the proxy forwarded nothing
        ("127.0.0.1", "", 1, LOCAL, "127.0.0.1"),
        ("127.0.0.1", "203.0.113.7", 0, LOCAL, "127.0.0.1"),  # proxies = 0: nothing is read
        ("127.0.0.1", "203.0.113.7, 10.0.1.5", 2, BALANCERS, "203.0.113.7"),  # LB, then nginx
        ("127.0.0.1", "203.0.113.7, 198.51.100.9", 2, BALANCERS, "198.51.100.9"),  # not the LB
        ("127.0.0.1", "6.6.6.6, 203.0.113.7, 10.0.1.5", 2, BALANCERS, "203.0.113.7"),
        ("127.0.0.1", "not-an-address", 1, LOCAL, "127.0.0.1"),  # garbage ends the walk
        ("::1", "2001:db8:0:0::1", 1, LOCAL, "2001:db8::1"),  # one spelling per address
        ("::ffff:127.0.0.1", "203.0.113.7", 1, LOCAL, "203.0.113.7"),  # IPv4-mapped peer
    ],
)
def test_the_client_is_the_first_untrusted_hop_from_the_right(
    peer: str,
    forwarded: str | None,
    hops: int,
    trusted: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...],
    client: str,
) -> None:
    assert forwarded_client(peer, forwarded, hops, trusted) == client


def test_trusted_proxies_are_parsed_once_and_a_bad_entry_is_named() -> None:
    assert GatewaySettings().proxy_networks() == LOCAL
    with pytest.raises(ValueError, match=re.escape("'10.0.0.0/33'")):
        GatewaySettings(trusted_proxies=("10.0.0.0/8", "10.0.0.0/33")).proxy_networks()
