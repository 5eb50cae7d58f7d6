"""What the jobs of one worker process work with, wired once in `main()` (or by a test).

RQ runs each job in a forked work horse, which inherits this process's context; redis-py opens
fresh connections in the child by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import redis

from config.settings import Settings, SmsSettings
from gateway.modem_offices import ModemOffices
from gateway.routing import RoutedOutbox, Router
from gateway.store.dossiers import DossierStore
from gateway.store.inbox import Inbox
from gateway.store.offices import Offices
from gateway.store.outbox import Outbox
from gateway.store.replies import OptOuts, ReplyCounters, SenderModems
from gateway.store.sms_records import SmsRecords
from gateway.store.templates import Templates
from worker.reply_limits import ReplyLimits


@dataclass(frozen=True)
class Context:
    settings: Settings
    redis: redis.Redis
    clock: Callable[[], datetime]
    dossiers: DossierStore
    inbox: Inbox
    outbox: Outbox
    limits: ReplyLimits
    opt_outs: OptOuts
    templates: Templates
    sender_modems: SenderModems
    sms_records: SmsRecords
    offices: Offices
    modem_offices: ModemOffices  # which office a citizen's SMS is (the modem it came on)

    @property
    def sms(self) -> SmsSettings:
        return self.settings.sms


def now_utc() -> datetime:
    return datetime.now(UTC)


_context: Context | None = None


def configure(
    settings: Settings, client: redis.Redis, clock: Callable[[], datetime] = now_utc
) -> Context:
    global _context  # noqa: PLW0603 - the one per-process wiring point, set by main()
    sms = settings.sms
    router = Router(client, settings)
    _context = Context(
        settings=settings,
        redis=client,
        clock=clock,
        dossiers=DossierStore(client),
        inbox=Inbox(client),
        outbox=RoutedOutbox(client, router),  # replies and notices: by the rules
        limits=ReplyLimits(ReplyCounters(client), sms.per_sender_per_hour, sms.daily_reply_budget),
        opt_outs=OptOuts(client),
        templates=Templates(client),
        sender_modems=SenderModems(client),
        sms_records=SmsRecords(client),
        offices=router.modem_offices.offices,
        modem_offices=router.modem_offices,
    )
    return _context


def context() -> Context:
    if _context is None:
        raise RuntimeError("worker.context.configure() was not called in this process")
    return _context
