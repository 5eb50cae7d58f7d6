"""What both senders - a modem's owner and a carrier link - do with an SMS they claimed before its
first part goes out."""

from __future__ import annotations

import logging

from gateway.store.outbound import Outbound
from gateway.store.outbox import Outbox
from gateway.store.replies import OptOuts

log = logging.getLogger(__name__)


def dropped_for_opt_out(
    outbox: Outbox, opt_outs: OptOuts, sms: Outbound, now_ms: int, sender: str
) -> bool:
    """A notice to a number that opted out is given up, not sent: opting out is honoured at
    once, also for notices queued before it (replies still go out: the citizen asked)."""
    if sms.fields.get("kind") != "notice" or not opt_outs.is_out(sms.to):
        return False
    outbox.give_up(sms, "opted out", now_ms)
    log.info("sms.dropped %s id=%s reason=opted-out", sender, sms.id)
    return True
