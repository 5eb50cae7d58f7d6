"""Jobs: failed ones are visible and can be run again from the CLI; a job abandoned by a worker
killed with -9 is run again by another worker (about 100 s later: RQ's heartbeat expiry and the
maintenance interval)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
import redis
from rq import Queue, Retry
from rq.job import JobStatus
from rq.registry import StartedJobRegistry

from gateway.store.queues import INBOUND_QUEUE
from hoso.redis_server import RedisServer
from tests.conftest import REDIS_SERVER
from worker.main import MAINTENANCE_SECONDS


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


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_job_abandoned_by_a_killed_worker_is_run_again_by_another_worker(
    env: dict[str, str],
) -> None:
    """The job's heartbeat expires (60 s + MONITORING_SECONDS after its last one: RQ's rule),
    then the next maintenance of the other worker (every MAINTENANCE_SECONDS) puts it back."""
    connection = redis.Redis.from_url(env["HOSO_REDIS_URL"])
    queue = Queue(INBOUND_QUEUE, connection=connection)
    job = queue.enqueue(
        "tests.jobs_for_tests.slow_then_mark", 5, "marker", retry=Retry(max=3), job_timeout=60
    )
    first = subprocess.Popen(
        [sys.executable, "-m", "hoso.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    # The job runs in RQ's work horse, a child of the worker in a process group of its own.
    _, pid = connection.blpop(["marker:pids"], timeout=60) or (None, None)
    assert pid is not None, "the job never started"
    os.killpg(first.pid, signal.SIGKILL)  # the worker ...
    os.kill(int(pid), signal.SIGKILL)  # ... and its work horse, mid-job
    first.wait()
    killed_at = time.monotonic()
    assert connection.get("marker") is None
    # When RQ will call it abandoned: the expiry of its last heartbeat (a Unix time), read from
    # the registry's key (the registry's own methods would do RQ's cleanup from this process).
    started = StartedJobRegistry(queue=queue)
    entries = cast(
        list[tuple[bytes, float]], connection.zrange(started.key, 0, -1, withscores=True)
    )
    expiry = max(score for _, score in entries)
    second = subprocess.Popen(
        [sys.executable, "-m", "hoso.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        # Its next maintenance after the expiry, the 5 s job, and room for a loaded machine.
        budget = max(0.0, expiry - time.time()) + MAINTENANCE_SECONDS + 5 + 60
        deadline = time.monotonic() + budget
        while connection.get("marker") is None:
            assert second.poll() is None, "the second worker died"
            assert time.monotonic() < deadline, f"the abandoned job did not come back in {budget} s"
            time.sleep(0.5)
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(30)
    assert int(connection.get("marker") or 0) == 1
    assert connection.lrange("marker:pids", 0, -1) not in ([], [pid])  # by another horse
    assert job.get_status() == JobStatus.FINISHED
    print(f"abandoned job finished {time.monotonic() - killed_at:.0f} s after the kill")
