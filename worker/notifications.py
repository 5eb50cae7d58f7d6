"""The periodic notification jobs (RQ cron, see `worker/cron.py`): thin, idempotent, restartable.

They work with the process's `worker.context` (wired once by `worker.main`, or by a test with
its own settings, Redis and clock). The `Notifier` (`worker/notifier.py`) is built afresh for
each run, with the templates as administrators left them (`hoso templates set` takes effect on
the next tick).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from gateway.core.workdays import parse_calendar
from worker.context import context
from worker.notifier import Notifier

# A tick (every 5 s, worker/cron.py) takes changes and releases notices in batches until none is
# left or this much time is spent: a backlog drains at the rate the workers and Redis allow, not
# at 500 per tick (6,000 a minute), which carrier links outrun. Below the tick's interval, so that
# ticks do not pile up; a second worker running a tick at the same time is safe (leases).
TICK_BUDGET_SECONDS = 4.0
CHANGES_BATCH = 1000
NOTICES_BATCH = 500


def notifier() -> Notifier:
    ctx = context()
    templates = {name: template for name, (template, _edited) in ctx.templates.all().items()}
    overrides = {
        office: {name: t for name, (t, edited) in ctx.templates.all(office).items() if edited}
        for office in ctx.templates.overriding_offices()
    }
    calendar = ctx.settings.calendar
    return Notifier(
        ctx.redis,
        ctx.outbox,
        ctx.dossiers,
        ctx.sms,
        ctx.clock,
        templates=templates,
        office_templates=overrides,
        offices=ctx.offices,
        # One consumer name per host, not per process: RQ forks a work horse per job, and the
        # group would keep every name it ever saw. Entries a dead horse left are reclaimed.
        consumer=f"notifier-{socket.gethostname()}",
        calendar=parse_calendar(calendar.holidays, calendar.working_days),
    )


def tick() -> dict[str, int]:
    """Takes the new status changes, then sends the notices that are due."""
    n = notifier()
    deadline = time.monotonic() + TICK_BUDGET_SECONDS
    changes = take_changes(n, deadline)
    sent = release(n, deadline)
    return {"changes": changes, "sent": sent}


def take_changes(n: Notifier, deadline: float, now: Callable[[], float] = time.monotonic) -> int:
    """Changes in batches while full batches come, until `deadline` (at least one batch)."""
    taken = 0
    while True:
        batch = n.take_changes(CHANGES_BATCH)
        taken += batch
        if batch < CHANGES_BATCH or now() >= deadline:
            return taken


def release(n: Notifier, deadline: float, now: Callable[[], float] = time.monotonic) -> int:
    """Due notices in batches until none is due or `deadline` passed (at least one batch);
    each batch is as safe to repeat or to die in as `release_due`."""
    sent = 0
    while True:
        sent += n.release_due(NOTICES_BATCH)
        if now() >= deadline or not n.due_count():
            return sent


def scan() -> dict[str, int]:
    """Sends the due-date warnings, postponement notices and overdue apologies that are due."""
    return {"sent": notifier().scan_due_dates()}


# Dossiers whose date notices `dates` looks at, at most, the earliest due first. A change asks for
# a look at once (a new appointment, a dossier registered late), so the department's new date or
# the apology follows within seconds, like a status notice, instead of waiting for the next scan;
# the scan every few minutes takes whatever was left (after quiet hours, many).
DATE_LOOKS = 100


def dates() -> dict[str, int]:
    """Sends the date notices (warning, new appointment, apology) of the first dossiers due for
    a look; run every tick."""
    return {"sent": notifier().scan_due_dates(limit=DATE_LOOKS)}
