"""The periodic routing job (RQ cron, see `worker/cron.py`): SMS queued for a route that went
down move to the next route of their rule (`gateway.routing.Router.fail_over`). Thin and
idempotent: a second run, or a run next to another, moves each SMS once (`Outbox.reroute`)."""

from __future__ import annotations

from gateway.routing import Router
from gateway.store.outbox import Outbox
from worker.context import context


def fail_over() -> dict[str, int]:
    ctx = context()
    moved = Router(ctx.redis, ctx.settings).fail_over(Outbox(ctx.redis, "routing"))
    return {"moved": moved}
