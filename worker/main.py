"""`hoso worker` (RQ workers for hoso's queues) and `hoso cron` (RQ's cron scheduler for the
periodic work). Several workers may run on several hosts; run one `hoso cron` per installation.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from types import FrameType

import redis
from rq import Queue, Worker
from rq.exceptions import StopRequested
from rq.registry import FailedJobRegistry

from config.settings import Settings
from gateway.store.connect import connect, connect_rq
from gateway.store.queues import ALL_QUEUES
from worker import jobs, notifications  # imported before forking: each job starts warm
from worker.context import configure

log = logging.getLogger(__name__)

MAINTENANCE_SECONDS = 30  # how often a worker looks for jobs abandoned by a dead worker
# RQ looks for them only between two waits for a job, and an idle worker waits worker_ttl - 15 s
# (RQ's default: 405 s): the wait is cut to the maintenance interval. An abandoned job is then run
# again within its heartbeat's expiry (60 s + MONITORING_SECONDS) and one MAINTENANCE_SECONDS.
WORKER_TTL = MAINTENANCE_SECONDS + 15
MONITORING_SECONDS = 10  # a running job's heartbeat
RESTART_SECONDS = 2.0  # pause before a worker that lost Redis starts again


def rq_connection(settings: Settings) -> redis.Redis:
    """RQ stores pickled jobs: its connection must not decode responses."""
    return connect_rq(settings.redis)


class HosoWorker(Worker):
    """RQ's forking worker, which also remembers whether it was asked to stop (SIGTERM, SIGINT):
    `main` starts a new one when it stopped for any other reason (Redis lost)."""

    stop_signalled = False

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop_signalled = True
        super().request_stop(signum, frame)  # type: ignore[no-untyped-call]


def main(settings: Settings, burst: bool = False) -> int:
    configure(settings, connect(settings.redis))
    connection = rq_connection(settings)
    queues = [Queue(name, connection=connection) for name in ALL_QUEUES]
    while True:
        # RQ's loop waits out a lost connection while it waits for a job, but quits when Redis
        # fails elsewhere (a heartbeat, a job's bookkeeping), as it may during a failover: then
        # this loop starts a new worker (under a new name: the old one may still be registered;
        # its abandoned job is taken back by RQ's maintenance).
        worker = HosoWorker(
            queues,
            connection=connection,
            name=f"hoso-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:4]}",
            maintenance_interval=MAINTENANCE_SECONDS,
            worker_ttl=WORKER_TTL,
            job_monitoring_interval=MONITORING_SECONDS,
        )
        log.info(
            "worker.started name=%s queues=%s jobs=%s,%s",
            worker.name,
            ",".join(ALL_QUEUES),
            jobs.__name__,
            notifications.__name__,
        )
        try:
            # RQ's own lines (one per job, and per 5-second cron tick) are held back: warnings
            # and our own events still show (config.logs.QUIET holds RQ's other loggers).
            worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if burst:
                raise
            log.warning("worker.redis_lost name=%s error=%s", worker.name, exc)
        except StopRequested:  # RQ's signal handler, raised outside RQ's loop
            return 0
        if burst or worker.stop_signalled:
            return 0
        log.warning("worker.restarting name=%s after=%ss", worker.name, RESTART_SECONDS)
        try:
            time.sleep(RESTART_SECONDS)
        except StopRequested:  # the last worker's handler is still installed
            return 0


def failed_jobs(settings: Settings) -> list[tuple[str, str, str]]:
    """(queue, job id, last line of the error) of every failed job."""
    connection = rq_connection(settings)
    rows = []
    for name in ALL_QUEUES:
        queue = Queue(name, connection=connection)
        registry = FailedJobRegistry(queue=queue)
        for job in registry.get_job_ids():
            fetched = queue.fetch_job(job)
            error = ""
            if fetched is not None and fetched.latest_result() is not None:
                error = (fetched.latest_result().exc_string or "").strip().splitlines()[-1:][0]  # type: ignore[union-attr]
            rows.append((name, job, error))
    return rows


def retry_jobs(settings: Settings, job_ids: list[str] | None) -> int:
    """Puts failed jobs back on their queue; all of them when `job_ids` is None."""
    connection = rq_connection(settings)
    count = 0
    for name in ALL_QUEUES:
        registry = FailedJobRegistry(queue=Queue(name, connection=connection))
        for job in registry.get_job_ids():
            if job_ids is None or job in job_ids:
                registry.requeue(job)
                count += 1
    return count
