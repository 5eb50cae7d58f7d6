"""`[redis] url`: the Sentinel form, read without connecting to anything."""

from __future__ import annotations

import re

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from config.redis_url import InvalidRedisUrl, SentinelUrl, is_sentinel_url, parse_sentinel_url
from config.settings import RedisSettings
from gateway.store.connect import connect, connect_rq
from gateway.store.replication import ReplicatedRedis, Replication


def test_three_sentinels_a_master_name_and_a_database() -> None:
    parsed = parse_sentinel_url(
        "redis+sentinel://10.0.0.11:26379,10.0.0.12:26380,sentinel-3/hoso/2"
    )
    assert parsed == SentinelUrl(
        sentinels=(("10.0.0.11", 26379), ("10.0.0.12", 26380), ("sentinel-3", 26379)),
        service="hoso",
        db=2,
    )


def test_the_password_is_the_servers_and_the_options_are_the_sentinels() -> None:
    parsed = parse_sentinel_url(
        "redis+sentinel://hoso:p%40ss%2Fw0rd@[::1]:26379,127.0.0.1/tinh%20a"
        "?sentinel_password=s3cret&sentinel_username=watch&socket_timeout=2.5"
        "&socket_connect_timeout=0.5"
    )
    assert parsed.sentinels == (("::1", 26379), ("127.0.0.1", 26379))
    assert (parsed.service, parsed.db) == ("tinh a", 0)
    assert (parsed.username, parsed.password) == ("hoso", "p@ss/w0rd")
    assert (parsed.sentinel_username, parsed.sentinel_password) == ("watch", "s3cret")
    assert (parsed.socket_timeout, parsed.socket_connect_timeout) == (2.5, 0.5)


def test_a_password_without_a_user_name() -> None:
    parsed = parse_sentinel_url("REDIS+SENTINEL://:only-pass@h1:1,h2:2/m")
    assert (parsed.username, parsed.password) == (None, "only-pass")
    assert is_sentinel_url("REDIS+SENTINEL://h/m")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis+sentinel://h1:26379", "name the master"),
        ("redis+sentinel://h1:26379/", "name the master"),
        ("redis+sentinel://h1:26379/hoso/0/extra", "name the master"),
        ("redis+sentinel://h1:26379/hoso/zero", "database must be a number"),
        ("redis+sentinel://h1:port/hoso", "bad Sentinel port"),
        ("redis+sentinel://h1:70000/hoso", "bad Sentinel port"),
        ("redis+sentinel://h1,:26379/hoso", "without a host"),
        ("redis+sentinel://h1/hoso?sentinel_pasword=x", "unknown option 'sentinel_pasword'"),
        ("redis+sentinel://h1/hoso?socket_timeout=soon", "socket_timeout must be a number"),
        ("redis://h1/hoso", "not a redis+sentinel"),
    ],
)
def test_a_bad_url_is_refused_with_a_reason(url: str, says: str) -> None:
    with pytest.raises(InvalidRedisUrl, match="redis.url: .*" + re.escape(says)):
        parse_sentinel_url(url)


def test_the_refusal_never_repeats_the_password() -> None:
    with pytest.raises(InvalidRedisUrl) as caught:
        parse_sentinel_url("redis+sentinel://u:hunter2@h1:bad/hoso")
    assert "hunter2" not in str(caught.value)


@given(
    hosts=st.lists(
        st.tuples(st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True), st.integers(1, 65535)),
        min_size=1,
        max_size=5,
    ),
    service=st.text(min_size=1, max_size=20).filter(lambda s: s.strip() == s),
    db=st.integers(0, 15),
)
def test_any_list_of_sentinels_reads_back(
    hosts: list[tuple[str, int]], service: str, db: int
) -> None:
    from urllib.parse import quote

    url = (
        "redis+sentinel://"
        + ",".join(f"{h}:{p}" for h, p in hosts)
        + f"/{quote(service, safe='')}/{db}"
    )
    parsed = parse_sentinel_url(url)
    assert parsed.sentinels == tuple(hosts)
    assert (parsed.service, parsed.db) == (service, db)


def test_the_store_client_carries_the_replicas_to_wait_for() -> None:
    settings = RedisSettings(
        url="redis+sentinel://127.0.0.1:1,127.0.0.1:2/hoso/3",
        wait_replicas=1,
        wait_timeout_ms=250,
    )
    client = connect(settings)  # connects lazily: nothing listens there
    assert isinstance(client, ReplicatedRedis)
    assert client.replication == Replication(1, 250)
    kwargs = client.connection_pool.connection_kwargs
    # the socket's 2 s and the replicas' wait on top: a WAIT that times out is a refusal
    assert (kwargs["db"], kwargs["decode_responses"], kwargs["socket_timeout"]) == (3, True, 2.25)
    rq = connect_rq(settings)
    assert rq.connection_pool.connection_kwargs["decode_responses"] is False
    with pytest.raises(redis.ConnectionError):  # no Sentinel answers: a master is not found
        client.ping()


def test_one_server_urls_are_read_as_before() -> None:
    client = connect(RedisSettings(url="unix:///run/hoso/redis.sock?db=4"))
    assert isinstance(client, ReplicatedRedis)
    assert client.replication == Replication(0, 1000)
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["path"], kwargs["db"]) == ("/run/hoso/redis.sock", 4)
    with pytest.raises(InvalidRedisUrl, match=r"redis\.url"):
        connect(RedisSettings(url="http://example.org/"))
