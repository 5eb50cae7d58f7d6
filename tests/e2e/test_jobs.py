"""Jobs: failed ones are visible and can be run again from the CLI; a job abandoned by a worker
killed with -9 is run again by another worker within about two minutes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from rq import Queue, Retry
from rq.registry import StartedJobRegistry

from gateway.store.queues import INBOUND_QUEUE
from hoso.redis_server import RedisServer
from tests.conftest import REDIS_SERVER


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    server = RedisServer(tmp_path / "redis", binary=REDIS_SERVER).start()
    (tmp_path / "empty.toml").write_text("", encoding="utf-8")
    yield dict(os.environ) | {
        "HOSO_REDIS_URL": server.url,
        "HOSO_CONFIG": str(tmp_path / "empty.toml"),
    }
    server.stop()


def hoso(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hoso.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_failed_jobs_are_listed_and_run_again_from_the_cli(env: dict[str, str]) -> None:
    connection = redis.Redis.from_url(env["HOSO_REDIS_URL"])
    queue = Queue(INBOUND_QUEUE, connection=connection)
    job = queue.enqueue("tests.jobs_for_tests.always_fails", "the modem bank caught fire")
    assert hoso(env, "worker", "--burst").returncode == 0
    listed = hoso(env, "jobs", "failed")
    assert job.id in listed.stdout
    assert "the modem bank caught fire" in listed.stdout
    assert "1 failed job(s)" in listed.stdout
    retried = hoso(env, "jobs", "retry", job.id)
    assert "1 job(s) queued again" in retried.stdout
    assert queue.count == 1
    assert hoso(env, "jobs", "retry").returncode == 2  # names nothing


def test_a_job_abandoned_by_a_killed_worker_runs_again_within_two_minutes(
    env: dict[str, str],
) -> None:
    connection = redis.Redis.from_url(env["HOSO_REDIS_URL"])
    queue = Queue(INBOUND_QUEUE, connection=connection)
    queue.enqueue(
        "tests.jobs_for_tests.slow_then_mark", 5, "marker", retry=Retry(max=3), job_timeout=60
    )
    first = subprocess.Popen(
        [sys.executable, "-m", "hoso.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    started = StartedJobRegistry(queue=queue)
    deadline = time.monotonic() + 30
    while started.count == 0:
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.1)
    os.killpg(first.pid, signal.SIGKILL)  # the worker and its work horse, mid-job
    first.wait()
    killed_at = time.monotonic()
    second = subprocess.Popen(
        [sys.executable, "-m", "hoso.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        while connection.get("marker") is None:
            assert time.monotonic() - killed_at < 150, "the abandoned job did not come back"
            time.sleep(0.5)
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(30)
    assert int(connection.get("marker") or 0) == 1
    print(f"abandoned job finished {time.monotonic() - killed_at:.0f} s after the kill")
