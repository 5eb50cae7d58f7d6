"""Citizens' SMS handed to the workers, the same way from a modem's owner and a carrier link.

One RQ job per inbound message, its id in the job id (`inbound_job_id`): handing the same message
over again (after a crash, by `Inbox.pending`) replaces the job, never doubles it. The job is
retried with a growing pause; only once it is queued is the message marked handed over.
"""

from __future__ import annotations

from rq import Queue, Retry

from gateway.store.inbox import Inbox
from gateway.store.queues import INBOUND_JOB, inbound_job_id

RETRY_PAUSES = [5, 30, 120, 600, 1800]  # seconds
RESULT_TTL = 86400
FAILURE_TTL = 30 * 86400


def hand_over(queue: Queue, inbox: Inbox, message_id: str) -> None:
    """Queues the job that answers inbound message `message_id`, then records the hand-over."""
    queue.enqueue(
        INBOUND_JOB,
        message_id,
        job_id=inbound_job_id(message_id),
        retry=Retry(max=len(RETRY_PAUSES), interval=RETRY_PAUSES),
        result_ttl=RESULT_TTL,
        failure_ttl=FAILURE_TTL,
    )
    inbox.handed_over(message_id)
