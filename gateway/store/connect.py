"""Every process gets its Redis clients here, from `[redis] url` / ``HOSO_REDIS_URL`` (its forms,
and how they are read: `config.redis_url`).

A Sentinel client asks the Sentinels for the master each time it opens a connection, so after a
failover the next connection goes to the new master; a command in flight when the master dies
fails with `redis.ConnectionError`, which every process already treats as "Redis is down for a
moment" (the gateway answers 503, daemons retry). A connection still open to a master that came
back as a replica gets READONLY errors, which become a ConnectionError that drops the connection:
redis-py does that for the plain READONLY reply (what Redis 7 and Valkey answer, also to a Lua
script that writes), `_MasterConnection` for the one Redis 6 wraps in a script's error.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelManagedConnection

from config.redis_url import (
    SENTINEL_FLOAT_OPTIONS,
    InvalidRedisUrl,
    is_sentinel_url,
    parse_sentinel_url,
)
from config.settings import RedisSettings
from gateway.store.replication import ReplicatedRedis, Replication

SENTINEL_TIMEOUT = 1.0  # seconds for each question to a Sentinel: a dead one costs no more

# The store's client fails fast while Redis is down and reconnects by itself when it is back.
STORE_SOCKET_TIMEOUT = 2.0
STORE_CONNECT_TIMEOUT = 1.0
HEALTH_CHECK_SECONDS = 30


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
        for name in SENTINEL_FLOAT_OPTIONS:
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
            raise InvalidRedisUrl(str(exc)) from None
    if replication is not None and isinstance(client, ReplicatedRedis):
        client.replication = replication
    return client


def connect(settings: RedisSettings) -> redis.Redis:
    """The store's client: text replies, fails fast while Redis is unreachable (one quick retry,
    then `redis.ConnectionError`), reconnects by itself, and waits for `wait_replicas` replicas
    to confirm the writes that are acknowledged to the outside."""
    # A write confirmed by replicas waits up to wait_timeout_ms for them (WAIT): the socket
    # waits that long more, else a wait of 2 s or more ended as a lost connection, not a refusal.
    waits = settings.wait_timeout_ms / 1000 if settings.wait_replicas > 0 else 0.0
    return connect_url(
        settings.effective_url(),
        replication=Replication(settings.wait_replicas, settings.wait_timeout_ms),
        socket_timeout=STORE_SOCKET_TIMEOUT + waits,
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


def connect_redis(url: str) -> redis.Redis:
    """The store's client for `url` (any form above): fails fast while Redis is down and
    reconnects by itself when it is back. It waits for no replica: the processes that
    acknowledge changes use `connect(settings.redis)`; the CLI's commands and tests use this."""
    return connect(RedisSettings(url=url))
