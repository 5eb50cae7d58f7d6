"""A notification tick drains a backlog in batches (worker.notifications.take_changes/release):
700 due notices go in one tick, not 500, and a tick out of time stops after a batch."""

from __future__ import annotations

import math

import pytest
import redis

from config.settings import SmsSettings
from gateway.store.dossiers import DossierStore
from gateway.store.outbox import Outbox
from tests.factories import registration
from tests.integration.test_notices import DateClock, vn
from worker.notifications import NOTICES_BATCH, release, take_changes
from worker.notifier import Notifier

BACKLOG = 700


def backlog(client: redis.Redis, clock: DateClock) -> Notifier:
    dossiers = DossierStore(client)
    for n in range(BACKLOG):
        dossiers.register(registration(n), "tuphap", clock())
    notifier = Notifier(client, Outbox(client), dossiers, SmsSettings(), clock)
    assert take_changes(notifier, math.inf) == BACKLOG
    clock.advance(121)  # past the coalescing window: every notice is due
    return notifier


@pytest.mark.slow
def test_one_tick_releases_a_backlog_larger_than_a_batch(redis_client: redis.Redis) -> None:
    clock = DateClock(vn(24, 10))
    notifier = backlog(redis_client, clock)
    assert notifier.due_count() == BACKLOG
    assert release(notifier, math.inf) == BACKLOG
    assert notifier.due_count() == 0
    assert Outbox(redis_client).depth() == BACKLOG


@pytest.mark.slow
def test_a_tick_out_of_time_stops_after_one_batch_and_the_next_takes_the_rest(
    redis_client: redis.Redis,
) -> None:
    clock = DateClock(vn(24, 10))
    notifier = backlog(redis_client, clock)
    assert release(notifier, -math.inf) == NOTICES_BATCH
    assert notifier.due_count() == BACKLOG - NOTICES_BATCH
    assert release(notifier, math.inf) == BACKLOG - NOTICES_BATCH
    assert Outbox(redis_client).depth() == BACKLOG  # each notice once
