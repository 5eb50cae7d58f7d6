"""Shared fixtures: a real redis-server (AOF, appendfsync always) started by the tests.

Which server: ``HOSO_REDIS_SERVER`` as for hoso itself (empty: the bundled Valkey; a path such as
/usr/bin/redis-server: that one). The processes the tests start inherit it. `make test` runs the
suite on the bundled server, then the tests marked `redis` again on Debian's Redis.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from hypothesis import settings

from hoso.redis_server import RedisServer, redis_server_binary, server_version

MASTER_KEY = bytes(range(32))
# The redis-server every test runs (read once, like hoso reads its environment).
REDIS_SERVER = os.environ.get("HOSO_REDIS_SERVER", "")

# No example of a property test has a deadline (Hypothesis's default is 200 ms): how long code
# takes is measured in bench/, never asserted in a test, and a loaded machine takes longer.
# In CI, property tests explore the same examples on every run: a red run is then reproducible,
# and new examples are explored wherever the suite runs without CI set.
settings.register_profile("hoso", deadline=None)
settings.register_profile(
    "ci", parent=settings.get_profile("hoso"), derandomize=True, print_blob=True
)
settings.load_profile("ci" if os.environ.get("CI") else "hoso")


# The tests about Redis itself (its scripts, persistence, replication, the server process):
# `make test` runs them a second time on Debian's Redis (HOSO_REDIS_SERVER=/usr/bin/redis-server).
REDIS_FACING = (
    "tests/integration/test_store.py",
    "tests/integration/test_province_figures.py",
    "tests/integration/test_outbox.py",
    "tests/integration/test_inbox.py",
    "tests/integration/test_notices.py",
    "tests/integration/test_durability.py",
    "tests/integration/test_sentinel.py",
    "tests/integration/test_redis_server.py",
    "tests/security/test_redis_files.py",
    "tests/e2e/test_up.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(str(config.rootpath))
    for item in items:
        if item.path.relative_to(root).as_posix() in REDIS_FACING:
            item.add_marker(pytest.mark.redis)


def pytest_report_header() -> str:
    binary = redis_server_binary(REDIS_SERVER)
    return f"redis-server: {binary} ({server_version(binary)})"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"), binary=REDIS_SERVER)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis_server.client()
    client.flushall()
    yield client
    client.close()


class Clock:
    """A clock tests can set and move; seconds since the epoch, like time.time."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fresh_redis(tmp_path: Path) -> Iterator[Callable[[], RedisServer]]:
    """A factory of private redis-servers for tests that kill them; all stopped at the end."""
    servers: list[RedisServer] = []

    def make() -> RedisServer:
        server = RedisServer(tmp_path / f"redis{len(servers)}", binary=REDIS_SERVER)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.kill()
