"""Names of the RQ queues and jobs that processes hand work to each other through."""

from __future__ import annotations

INBOUND_QUEUE = "hoso-inbound"
INBOUND_JOB = "worker.jobs.answer_sms"  # called with the inbound message id


def inbound_job_id(message_id: str) -> str:
    """One job per inbound message: a repeated hand-over replaces, never duplicates, it."""
    return f"inbound-{message_id}"


NOTIFY_QUEUE = "hoso-notify"  # periodic notification work (RQ cron)
ALL_QUEUES = (INBOUND_QUEUE, NOTIFY_QUEUE)  # in priority order: citizens waiting come first
