"""The client's address: the peer's, or the one a trusted reverse proxy forwarded.

Every per-address limit (failed signed requests, dashboard logins, lookups, photo decoding)
counts `client_address()`, and only it.

- A request's peer is the client unless the peer is in `gateway.trusted_proxies`.
- From a trusted peer, `X-Forwarded-For` is read from the right, one hop per proxy in front
  (`gateway.proxies`): an entry is taken only while the address that handed it over is itself
  trusted, so a client can add as many entries as it likes on the left and never choose its
  address. An entry that is no IP address ends the walk (a proxy that forwarded garbage).
- `X-Forwarded-Proto` (http or https) is read from a trusted peer only.

`TrustedProxies` applies the rule once per request, as WSGI middleware (it replaces werkzeug's
ProxyFix, which trusts any peer): the views then see the client's address as `remote_addr`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

from flask import request

from config.settings import ProxyNetwork

PEER_ENVIRON = "hoso.peer_addr"  # the connection's own address, kept beside the client's
UNKNOWN = "unknown"


def client_address() -> str:
    """The address of the client of the current request, as every per-address limit counts it."""
    return request.remote_addr or UNKNOWN


def forwarded_client(
    peer: str, forwarded_for: str | None, hops: int, trusted: Sequence[ProxyNetwork]
) -> str:
    """The client's address for a request from `peer` carrying `forwarded_for`."""
    address = _normal(peer) or peer
    chain = [entry.strip() for entry in (forwarded_for or "").split(",")]
    for _ in range(hops):
        if not chain or not _is_trusted(address, trusted):
            break
        forwarded = _normal(chain.pop())
        if forwarded is None:
            break
        address = forwarded
    return address


def _normal(text: str) -> str | None:
    """One spelling per address (IPv6 compressed, IPv4-mapped unwrapped); None if not one."""
    try:
        parsed = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(parsed)


def _is_trusted(address: str, trusted: Iterable[ProxyNetwork]) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed.version == net.version and parsed in net for net in trusted)


class TrustedProxies:
    """WSGI middleware: REMOTE_ADDR becomes `forwarded_client(...)`, the peer is kept in the
    environ under PEER_ENVIRON, and the scheme follows a trusted peer's X-Forwarded-Proto."""

    def __init__(self, app: Any, hops: int, trusted: Sequence[ProxyNetwork]) -> None:
        self.app = app
        self.hops = hops
        self.trusted = tuple(trusted)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        peer = str(environ.get("REMOTE_ADDR") or "")
        environ[PEER_ENVIRON] = peer
        if self.hops > 0 and _is_trusted(_normal(peer) or peer, self.trusted):
            environ["REMOTE_ADDR"] = forwarded_client(
                peer, environ.get("HTTP_X_FORWARDED_FOR"), self.hops, self.trusted
            )
            proto = str(environ.get("HTTP_X_FORWARDED_PROTO") or "").split(",")[-1].strip()
            if proto.lower() in ("http", "https"):
                environ["wsgi.url_scheme"] = proto.lower()
        elif peer:
            environ["REMOTE_ADDR"] = _normal(peer) or peer
        return self.app(environ, start_response)
