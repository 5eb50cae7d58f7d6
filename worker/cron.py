"""`hoso cron`: RQ's cron scheduler enqueues hoso's periodic jobs (run one per installation)."""

from __future__ import annotations

import logging

from rq.cron import CronScheduler

from config.settings import Settings
from gateway.store.queues import NOTIFY_QUEUE
from worker import notifications
from worker.main import rq_connection

log = logging.getLogger(__name__)

TICK_SECONDS = 5  # take status changes, release due notifications (coalescing, quiet hours)
SCAN_SECONDS = 300  # appointment warnings and overdue apologies


def main(settings: Settings) -> int:
    scheduler = CronScheduler(connection=rq_connection(settings), name="hoso-cron")
    scheduler.register(
        notifications.tick,
        queue_name=NOTIFY_QUEUE,
        interval=TICK_SECONDS,
        job_timeout=120,
        result_ttl=60,
        failure_ttl=7 * 86400,
    )
    scheduler.register(
        notifications.scan,
        queue_name=NOTIFY_QUEUE,
        interval=SCAN_SECONDS,
        job_timeout=600,
        result_ttl=3600,
        failure_ttl=7 * 86400,
    )
    log.info("cron.started tick=%ss scan=%ss", TICK_SECONDS, SCAN_SECONDS)
    scheduler.start()  # type: ignore[no-untyped-call]
    return 0
