"""`hoso cron`: RQ's cron scheduler enqueues hoso's periodic jobs (run one per installation).

When Redis goes away (a restart, a Sentinel failover), RQ's scheduler stops with a connection
error; `main` starts it again a moment later, as many times as it takes, until it is asked to
stop.
"""

from __future__ import annotations

import logging
import time
from types import FrameType

import redis
from rq.cron import CronScheduler
from rq.exceptions import StopRequested

from config.settings import Settings
from gateway.store.queues import NOTIFY_QUEUE
from worker import notifications, routing
from worker.main import rq_connection

log = logging.getLogger(__name__)

TICK_SECONDS = 5  # take status changes, release due notifications (coalescing, quiet hours)
SCAN_SECONDS = 300  # appointment warnings and overdue apologies
RESTART_SECONDS = 2.0  # pause before the scheduler starts again after losing Redis


class HosoCron(CronScheduler):
    """RQ's cron scheduler, which also remembers whether it was asked to stop (SIGTERM)."""

    stop_signalled = False

    def _request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop_signalled = True
        super()._request_stop(signum, frame)  # type: ignore[no-untyped-call]


def scheduler(connection: redis.Redis) -> HosoCron:
    cron = HosoCron(connection=connection, name="hoso-cron")
    cron.register(
        notifications.tick,
        queue_name=NOTIFY_QUEUE,
        interval=TICK_SECONDS,
        job_timeout=120,
        result_ttl=60,
        failure_ttl=7 * 86400,
    )
    cron.register(
        routing.fail_over,
        queue_name=NOTIFY_QUEUE,
        interval=TICK_SECONDS,
        job_timeout=60,
        result_ttl=60,
        failure_ttl=7 * 86400,
    )
    cron.register(
        notifications.scan,
        queue_name=NOTIFY_QUEUE,
        interval=SCAN_SECONDS,
        job_timeout=600,
        result_ttl=3600,
        failure_ttl=7 * 86400,
    )
    cron.register(  # every tick, the date notices a change or a passing appointment made due
        notifications.dates,
        queue_name=NOTIFY_QUEUE,
        interval=TICK_SECONDS,
        job_timeout=120,
        result_ttl=60,
        failure_ttl=7 * 86400,
    )
    return cron


def main(settings: Settings) -> int:
    connection = rq_connection(settings)
    while True:
        cron = scheduler(connection)
        log.info("cron.started tick=%ss scan=%ss", TICK_SECONDS, SCAN_SECONDS)
        try:
            cron.start()  # type: ignore[no-untyped-call]
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.warning("cron.redis_lost error=%s", exc)
        except StopRequested:
            return 0
        if cron.stop_signalled:
            return 0
        log.warning("cron.restarting after=%ss", RESTART_SECONDS)
        try:
            time.sleep(RESTART_SECONDS)
        except StopRequested:  # the last scheduler's signal handler is still installed
            return 0
