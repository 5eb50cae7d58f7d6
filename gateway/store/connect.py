"""Every process gets its Redis clients here, from `[redis] url` / ``HOSO_REDIS_URL``.

The URL forms:

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

A Sentinel client asks the Sentinels for the master each time it opens a connection, so after a
failover the next connection goes to the new master; a command in flight when the master dies
fails with `redis.ConnectionError`, which every process already treats as "Redis is down for a
moment" (the gateway answers 503, daemons retry). A connection still open to a master that came
back as a replica gets READONLY errors, which become a ConnectionError that drops the connection:
redis-py does that for the plain READONLY reply (what Redis 7 and Valkey answer, also to a Lua
script that writes), `_MasterConnection` for the one Redis 6 wraps in a script's error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelManagedConnection

from config.settings import RedisSettings
from gateway.store.replication import ReplicatedRedis, Replication

SENTINEL_SCHEME = "redis+sentinel"
SENTINEL_PORT = 26379
SENTINEL_TIMEOUT = 1.0  # seconds for each question to a Sentinel: a dead one costs no more

# The store's client fails fast while Redis is down and reconnects by itself when it is back.
STORE_SOCKET_TIMEOUT = 2.0
STORE_CONNECT_TIMEOUT = 1.0
HEALTH_CHECK_SECONDS = 30

_SENTINEL_FLOAT_OPTIONS = ("socket_timeout", "socket_connect_timeout")
_SENTINEL_TEXT_OPTIONS = ("sentinel_username", "sentinel_password")


class InvalidRedisUrl(ValueError):
    """`[redis] url` cannot be used; the message says why (and never repeats a password)."""


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


def parse_sentinel_url(url: str) -> SentinelUrl:
    """The parts of a ``redis+sentinel://`` URL (see the module's docstring)."""
    if not is_sentinel_url(url):
        raise InvalidRedisUrl(f"redis.url: not a {SENTINEL_SCHEME}:// URL")
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
    sentinels = tuple(_host_port(h) for h in hosts.split(","))
    parts = [unquote(p) for p in path.split("/") if p]
    if not parts or len(parts) > 2:
        raise InvalidRedisUrl(
            f"redis.url: name the master after the Sentinels: "
            f"{SENTINEL_SCHEME}://host:port[,host:port...]/<master name>[/<db>]"
        )
    db = 0
    if len(parts) == 2:
        if not parts[1].isdecimal():
            raise InvalidRedisUrl(f"redis.url: the database must be a number, not {parts[1]!r}")
        db = int(parts[1])
    options: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in _SENTINEL_TEXT_OPTIONS:
            options[key] = value
        elif key in _SENTINEL_FLOAT_OPTIONS:
            try:
                options[key] = float(value)
            except ValueError:
                raise InvalidRedisUrl(f"redis.url: {key} must be a number of seconds") from None
        else:
            raise InvalidRedisUrl(f"redis.url: unknown option {key!r}")
    return SentinelUrl(sentinels, parts[0], db, username, password, **options)


def _host_port(text: str) -> tuple[str, int]:
    text = text.strip()
    if text.startswith("["):  # [IPv6]:port
        host, _, port = text[1:].partition("]")
        port = port.removeprefix(":")
    else:
        host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    if not host:
        raise InvalidRedisUrl("redis.url: a Sentinel without a host name")
    if not port:
        return host, SENTINEL_PORT
    if not port.isdecimal() or not 0 < int(port) < 65536:
        raise InvalidRedisUrl(f"redis.url: bad Sentinel port {port!r}")
    return host, int(port)


class _MasterConnection(SentinelManagedConnection):
    """A connection to the master Sentinel names; READONLY (the server is a replica now) is a
    lost connection, also when it comes wrapped in the error of a Lua script (Redis 6)."""

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().read_response(*args, **kwargs)
        except redis.ResponseError as exc:
            if "-READONLY " not in str(exc):
                raise
            self.disconnect()  # type: ignore[no-untyped-call]
            raise redis.ConnectionError("the master became a replica") from exc


def connect_url(
    url: str,
    *,
    decode_responses: bool = True,
    replication: Replication | None = None,
    **options: Any,
) -> redis.Redis:
    """A client of the Redis `url` names; `options` are redis-py's (socket timeouts, retry...).
    With `replication`, the client also says how many replicas must confirm a write before the
    store acknowledges it (`gateway.store.replication.confirm`)."""
    options["decode_responses"] = decode_responses
    client: redis.Redis
    if is_sentinel_url(url):
        target = parse_sentinel_url(url)
        sentinel_options: dict[str, Any] = {
            "socket_timeout": SENTINEL_TIMEOUT,
            "socket_connect_timeout": SENTINEL_TIMEOUT,
            # One try per Sentinel: the next one is asked at once (redis-py would otherwise
            # retry a dead Sentinel ten times with backoff before asking another).
            "retry": Retry(NoBackoff(), 0),
        }
        if target.sentinel_username is not None:
            sentinel_options["username"] = target.sentinel_username
        if target.sentinel_password is not None:
            sentinel_options["password"] = target.sentinel_password
        for name in _SENTINEL_FLOAT_OPTIONS:
            if getattr(target, name) is not None:
                options[name] = getattr(target, name)
        sentinel = Sentinel(list(target.sentinels), sentinel_kwargs=sentinel_options)  # type: ignore[no-untyped-call]
        client = sentinel.master_for(  # type: ignore[no-untyped-call]
            target.service,
            redis_class=ReplicatedRedis,
            connection_class=_MasterConnection,
            db=target.db,
            username=target.username,
            password=target.password,
            **options,
        )
    else:
        try:
            client = ReplicatedRedis.from_url(url, **options)
        except ValueError as exc:
            raise InvalidRedisUrl(f"redis.url: {exc}") from None
    if replication is not None and isinstance(client, ReplicatedRedis):
        client.replication = replication
    return client


def connect(settings: RedisSettings) -> redis.Redis:
    """The store's client: text replies, fails fast while Redis is unreachable (one quick retry,
    then `redis.ConnectionError`), reconnects by itself, and waits for `wait_replicas` replicas
    to confirm the writes that are acknowledged to the outside."""
    return connect_url(
        settings.effective_url(),
        replication=Replication(settings.wait_replicas, settings.wait_timeout_ms),
        socket_timeout=STORE_SOCKET_TIMEOUT,
        socket_connect_timeout=STORE_CONNECT_TIMEOUT,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=HEALTH_CHECK_SECONDS,
    )


def connect_rq(settings: RedisSettings) -> redis.Redis:
    """RQ's client: RQ stores pickled jobs, so replies are bytes; RQ sets its own socket timeout
    for its blocking reads, and its worker loop retries a lost connection itself."""
    return connect_url(
        settings.effective_url(),
        decode_responses=False,
        health_check_interval=HEALTH_CHECK_SECONDS,
    )
