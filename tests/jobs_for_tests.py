"""Job functions that only the tests enqueue (the workers import them by name)."""

from __future__ import annotations

import os
import time

import redis


def slow_then_mark(seconds: float, marker: str) -> str:
    """Records which process runs it (`<marker>:pids`: RQ's work horse), sleeps, then records
    that it finished (in the Redis the worker uses)."""
    client = redis.Redis.from_url(os.environ["HOSO_REDIS_URL"])
    client.rpush(f"{marker}:pids", os.getpid())
    time.sleep(seconds)
    client.incr(marker)
    return "done"


def always_fails(reason: str) -> None:
    raise RuntimeError(reason)


def mark_in_store(marker: str) -> str:
    """Records that it ran, through the worker's own store client (whatever its Redis URL)."""
    from worker.context import context

    context().redis.incr(marker)
    return "done"
