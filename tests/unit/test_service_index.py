"""The service index's rules: finished, on time, processing time, the histogram's 90th
percentile."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from gateway.core.dossier import open_dossier
from gateway.core.service_index import (
    BUCKET_HOURS,
    BUCKETS,
    NO_DESK,
    Figures,
    bucket_of,
    is_on_time,
    percentile_seconds,
    processing_seconds,
    settled_at_ms,
    share_of,
    to_ms,
)
from gateway.core.status import Status
from tests.factories import registration

T = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


def entry(status: int | None, hours: float, current: bool = True) -> dict[str, object]:
    return {"status": status, "at": (T + timedelta(hours=hours)).isoformat(), "current": current}


def ms(hours: float) -> int:
    return to_ms(T + timedelta(hours=hours))


def test_a_time_falls_in_the_bucket_whose_upper_bound_is_above_it() -> None:
    assert bucket_of(0) == 1
    assert bucket_of(3599) == 1
    assert bucket_of(3600) == 2
    assert bucket_of(BUCKET_HOURS[-1] * 3600 - 1) == BUCKETS - 1
    assert bucket_of(BUCKET_HOURS[-1] * 3600) == BUCKETS
    assert bucket_of(10**9) == BUCKETS


def test_settled_exactly_at_the_appointment_is_on_time_a_millisecond_later_is_not() -> None:
    assert is_on_time(ms(5), ms(5))
    assert not is_on_time(ms(5) + 1, ms(5))


def test_processing_time_is_whole_seconds_and_never_negative() -> None:
    assert processing_seconds(ms(0), ms(2) + 999) == 7200
    assert processing_seconds(ms(3), ms(1)) == 0


def test_a_dossier_is_settled_when_it_first_reaches_a_settled_status_from_an_open_one() -> None:
    history = [entry(2, 0), entry(4, 1), entry(9, 5), entry(10, 30)]
    assert settled_at_ms(history) == ms(5), "returning the result keeps the time it was done"


def test_a_reopened_dossier_is_open_and_settled_again_at_its_last_settlement() -> None:
    assert settled_at_ms([entry(2, 0), entry(9, 5), entry(4, 6)]) is None
    assert settled_at_ms([entry(2, 0), entry(9, 5), entry(4, 6), entry(9, 8)]) == ms(8)


def test_events_older_than_the_state_and_notes_do_not_settle_it() -> None:
    history = [entry(2, 0), entry(4, 3), entry(9, 1, current=False), entry(None, 4)]
    assert settled_at_ms(history) is None


def test_a_dossier_registered_settled_was_settled_when_received() -> None:
    assert settled_at_ms([entry(3, 0)]) == ms(0)


def test_a_share_counts_a_finished_dossier_by_its_appointment_in_force() -> None:
    reg = registration(1, received_at=T.isoformat(), due_at=(T + timedelta(hours=48)).isoformat())
    d = open_dossier(reg, "tuphap", "ABC", "secret", "phuong-a")
    open_share = share_of(d, None)
    assert (open_share.open, open_share.finished, open_share.desk) == (True, False, NO_DESK)
    done = share_of(replace(d, status=Status.DONE), ms(49))
    assert (done.finished, done.open, done.on_time) == (True, False, False)
    assert (done.seconds, done.bucket) == (49 * 3600, bucket_of(49 * 3600))
    assert share_of(replace(d, status=Status.DONE), ms(48)).on_time


def test_figures_add_up_and_read_back_from_the_stored_fields() -> None:
    a = Figures.of_fields({"f": "3", "t": "2", "s": "900", "h1": "3"})
    b = Figures.of_fields({"f": "1", "t": "0", "s": "7200", "h3": "1"})
    total = a + b
    assert (total.finished, total.on_time, total.seconds) == (4, 2, 8100)
    assert total.histogram[:3] == (3, 0, 1)
    assert total.on_time_rate == 0.5
    assert total.average_seconds == 8100 / 4
    assert (Figures().on_time_rate, Figures().p90_seconds) == (None, None)


def test_the_90th_percentile_is_interpolated_in_its_bucket() -> None:
    histogram = [0] * BUCKETS
    histogram[0] = 9  # < 1 h
    histogram[1] = 1  # 1-2 h
    assert percentile_seconds(histogram, 0.9) == 3600.0  # the 9th of 10 ends the first bucket
    histogram[1] = 11  # 20 in all: the 18th is the 9th of 11 in 1-2 h
    assert percentile_seconds(histogram, 0.9) == 3600 + 3600 * 9 / 11


def test_the_open_ended_last_bucket_gives_its_lower_bound() -> None:
    histogram = [0] * BUCKETS
    histogram[-1] = 5
    assert percentile_seconds(histogram, 0.9) == BUCKET_HOURS[-1] * 3600


@given(st.lists(st.integers(0, BUCKET_HOURS[-1] * 3600 - 1), min_size=1, max_size=200))
def test_the_percentile_from_the_histogram_lies_in_the_bucket_of_the_true_one(
    times: list[int],
) -> None:
    histogram = [0] * BUCKETS
    for t in times:
        histogram[bucket_of(t) - 1] += 1
    estimate = percentile_seconds(histogram, 0.9)
    assert estimate is not None
    true = sorted(times)[math.ceil(0.9 * len(times)) - 1]
    bucket = bucket_of(true)
    low = 0 if bucket == 1 else BUCKET_HOURS[bucket - 2] * 3600
    assert low <= estimate <= BUCKET_HOURS[bucket - 1] * 3600
