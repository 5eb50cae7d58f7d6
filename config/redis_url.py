"""`[redis] url`: the forms it takes, read in one place for the processes that connect with it
(`gateway.store.connect`) and for `hoso check-config`, which reports what is wrong before a
process meets it. Pure: nothing here connects.

``redis://[[user]:password@]host[:port][/db]``, ``rediss://...`` (TLS),
``unix://[[user]:password@]/path/to/redis.sock[?db=N]``
    one Redis server, as redis-py reads them.

``redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/service[/db][?option=value&...]``
    a master found through Redis Sentinel. The hosts are the Sentinels (port 26379 when left
    out; IPv6 in brackets); ``service`` is the master's name in the Sentinels' ``sentinel monitor``
    line; ``db`` defaults to 0; user and password are those of the Redis servers (not of the
    Sentinels). Options: ``sentinel_username`` and ``sentinel_password`` (the Sentinels' own
    ``requirepass``), ``socket_timeout`` and ``socket_connect_timeout`` (seconds, for the Redis
    servers). Percent-encode reserved characters in names and passwords.

What is said about a URL never repeats its password (`mask_url` hides it for display).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

SENTINEL_SCHEME = "redis+sentinel"
SENTINEL_PORT = 26379
SCHEMES = ("redis", "rediss", "unix", SENTINEL_SCHEME)
SENTINEL_FLOAT_OPTIONS = ("socket_timeout", "socket_connect_timeout")
SENTINEL_TEXT_OPTIONS = ("sentinel_username", "sentinel_password")


class InvalidRedisUrl(ValueError):
    """`[redis] url` cannot be used; `detail` says why (and never repeats a password)."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"redis.url: {detail}")
        self.detail = detail


@dataclass(frozen=True, slots=True)
class SentinelUrl:
    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = None
    socket_timeout: float | None = None
    socket_connect_timeout: float | None = None


def is_sentinel_url(url: str) -> bool:
    return url.lower().startswith(SENTINEL_SCHEME + "://")


def redis_url_problem(url: str) -> str | None:
    """Why a Redis URL cannot be used, or None."""
    try:
        check_redis_url(url)
    except InvalidRedisUrl as exc:
        return exc.detail
    return None


def check_redis_url(url: str) -> None:
    """`InvalidRedisUrl` for a URL of no form above (a one-server URL is read by redis-py when
    connecting; this checks what it would trip on)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in SCHEMES:
        forms = ", ".join(f"{s}://" for s in SCHEMES)
        raise InvalidRedisUrl(f"must start with one of {forms}")
    scheme = scheme.lower()
    if scheme == SENTINEL_SCHEME:
        parse_sentinel_url(url)
        return
    if scheme == "unix":
        if not urlsplit(url).path.startswith("/"):
            raise InvalidRedisUrl("names no socket: unix:///path/to/redis.sock")
        return
    netloc, _, path = rest.partition("?")[0].partition("/")
    host, port = _host_and_port(netloc.rpartition("@")[2])
    if not host:
        raise InvalidRedisUrl("host is missing")
    if port and not _is_port(port):
        raise InvalidRedisUrl(f"port {port!r} is not a port number")
    if path and not path.isdecimal():
        raise InvalidRedisUrl(f"database must be a number, not {path!r}")


def parse_sentinel_url(url: str) -> SentinelUrl:
    """The parts of a ``redis+sentinel://`` URL (see the module's docstring)."""
    if not is_sentinel_url(url):
        raise InvalidRedisUrl(f"not a {SENTINEL_SCHEME}:// URL")
    rest = url[len(SENTINEL_SCHEME) + 3 :]
    rest, _, query = rest.partition("?")
    rest = rest.partition("#")[0]
    netloc, _, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    sentinels = tuple(_sentinel(h) for h in hosts.split(","))
    parts = [unquote(p) for p in path.split("/") if p]
    if not parts or len(parts) > 2:
        raise InvalidRedisUrl(
            f"must name the master after the Sentinels: "
            f"{SENTINEL_SCHEME}://host:port[,host:port...]/<master name>[/<db>]"
        )
    db = 0
    if len(parts) == 2:
        if not parts[1].isdecimal():
            raise InvalidRedisUrl(f"the database must be a number, not {parts[1]!r}")
        db = int(parts[1])
    options: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in SENTINEL_TEXT_OPTIONS:
            options[key] = value
        elif key in SENTINEL_FLOAT_OPTIONS:
            try:
                options[key] = float(value)
            except ValueError:
                raise InvalidRedisUrl(f"{key} must be a number of seconds") from None
        else:
            raise InvalidRedisUrl(f"unknown option {key!r}")
    return SentinelUrl(sentinels, parts[0], db, username, password, **options)


def _sentinel(text: str) -> tuple[str, int]:
    host, port = _host_and_port(text)
    if not host:
        raise InvalidRedisUrl("Sentinel host is missing (one Sentinel is written without a host)")
    if not port:
        return host, SENTINEL_PORT
    if not _is_port(port):
        raise InvalidRedisUrl(f"bad Sentinel port {port!r}")
    return host, int(port)


def _host_and_port(text: str) -> tuple[str, str]:
    """("host", "port") of ``host[:port]`` or ``[IPv6][:port]``; either may be empty."""
    text = text.strip()
    if text.startswith("["):
        host, _, port = text[1:].partition("]")
        return host, port.removeprefix(":")
    host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    return host, port


def _is_port(text: str) -> bool:
    return text.isdecimal() and 0 < int(text) < 65536


def mask_url(url: str) -> str:
    """The URL with its password (and any ``*password=`` option) replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    rest, qmark, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    if at and ":" in userinfo:
        userinfo = userinfo.partition(":")[0] + ":***"
    masked = f"{scheme}://{userinfo}{at}{hosts}{slash}{path}"
    if qmark:
        pairs = []
        for pair in query.split("&"):
            key, eq, _ = pair.partition("=")
            pairs.append(f"{key}=***" if eq and "password" in key.lower() else pair)
        masked += "?" + "&".join(pairs)
    return masked
