"""Working days in Vietnam: weekends, public holidays and Tết, weekend days worked in exchange."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.holidays import HOLIDAYS, WORKING_DAYS
from config.settings import CalendarSettings
from gateway.core.times import VIETNAM
from gateway.core.workdays import (
    Calendar,
    CalendarError,
    parse_calendar,
    working_time,
    working_time_before,
)

SHIPPED = parse_calendar(CalendarSettings().holidays, CalendarSettings().working_days)
WEEKENDS_ONLY = Calendar()
HOUR = timedelta(hours=1)


def vn(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VIETNAM)


def test_monday_to_friday_work_and_the_weekend_does_not() -> None:
    week = [date(2026, 3, 9) + timedelta(days=i) for i in range(7)]  # Monday 09/03/2026
    assert [WEEKENDS_ONLY.is_working_day(d) for d in week] == [True] * 5 + [False] * 2


def test_tet_binh_ngo_2026_is_a_nine_day_break() -> None:
    days = [date(2026, 2, 13) + timedelta(days=i) for i in range(11)]  # Friday 13 to Monday 23
    assert [SHIPPED.is_working_day(d) for d in days] == [True] + [False] * 9 + [True]


def test_a_day_swapped_off_is_worked_on_the_saturday_named_for_it() -> None:
    assert not SHIPPED.is_working_day(date(2026, 1, 2))  # Friday after Tết Dương lịch
    assert SHIPPED.is_working_day(date(2026, 1, 10))  # the Saturday worked in exchange
    assert not SHIPPED.is_working_day(date(2025, 5, 2))
    assert SHIPPED.is_working_day(date(2025, 4, 26))


def test_the_shipped_days_are_weekdays_and_the_worked_ones_weekend_days() -> None:
    assert all(date.fromisoformat(d).weekday() < 5 for d, _ in HOLIDAYS)
    assert all(date.fromisoformat(d).weekday() >= 5 for d, _ in WORKING_DAYS)
    years = {d[:4] for d, _ in HOLIDAYS}
    assert years == {"2025", "2026", "2027"}
    for year in years:  # every year has Tết Dương lịch, Tết Nguyên đán and Quốc khánh
        names = " ".join(n for d, n in HOLIDAYS if d.startswith(year))
        for holiday in ("Tết Dương lịch", "Tết Nguyên đán", "Quốc khánh"):
            assert holiday in names, (year, holiday)


def test_24_hours_before_a_monday_appointment_is_the_friday_before() -> None:
    monday = vn(2026, 3, 16, 8)
    assert working_time_before(monday, 24 * HOUR, SHIPPED) == vn(2026, 3, 13, 8)


def test_24_hours_before_the_first_day_after_tet_is_the_last_day_before_it() -> None:
    after_tet = vn(2026, 2, 23, 9)  # Monday after the nine days off
    assert working_time_before(after_tet, 24 * HOUR, SHIPPED) == vn(2026, 2, 13, 9)


def test_a_working_saturday_counts() -> None:
    monday = vn(2026, 1, 12, 8)  # the Saturday before it, 10/01/2026, is worked
    assert working_time_before(monday, 24 * HOUR, SHIPPED) == vn(2026, 1, 10, 8)
    assert working_time_before(monday, 24 * HOUR, WEEKENDS_ONLY) == vn(2026, 1, 9, 8)


def test_the_working_time_between_two_moments_skips_days_off() -> None:
    friday_noon, monday_noon = vn(2026, 3, 13, 12), vn(2026, 3, 16, 12)
    assert working_time(friday_noon, monday_noon, SHIPPED) == 24 * HOUR
    assert working_time(monday_noon, friday_noon, SHIPPED) == timedelta(0)
    assert working_time(vn(2026, 2, 13), vn(2026, 2, 24), SHIPPED) == 2 * 24 * HOUR


def test_no_span_is_the_moment_itself_in_any_time_zone() -> None:
    end = datetime(2026, 3, 15, 3, tzinfo=UTC)  # a Sunday in Vietnam
    assert working_time_before(end, timedelta(0), SHIPPED) == end


@pytest.mark.parametrize(
    ("holidays", "working", "message"),
    [
        (["2026-13-01"], [], "calendar.holidays: entry '2026-13-01' is not a date YYYY-MM-DD"),
        (["01/01/2026"], [], "calendar.holidays: entry '01/01/2026' is not a date"),
        (["20260101"], [], "calendar.holidays: entry '20260101' is not a date"),
        ([], ["2026-1-10"], "calendar.working_days: entry '2026-1-10' is not a date"),
        (["2026-01-10"], ["2026-01-10"], "calendar.working_days: entry 2026-01-10 is also in"),
    ],
)
def test_a_bad_calendar_setting_names_the_key_and_the_entry(
    holidays: list[str], working: list[str], message: str
) -> None:
    with pytest.raises(CalendarError) as caught:
        parse_calendar(holidays, working)
    assert str(caught.value).startswith(message)


# -- properties ------------------------------------------------------------------------------

days = st.sets(st.dates(date(2025, 1, 1), date(2027, 12, 31)), max_size=40)
calendars = st.builds(
    lambda off, worked: Calendar(frozenset(off - worked), frozenset(worked)), days, days
)
moments = st.datetimes(datetime(2025, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC))
spans = st.timedeltas(timedelta(0), timedelta(days=60))


@given(calendars, moments, spans)
def test_the_moment_before_leaves_exactly_the_span_of_working_time(
    calendar: Calendar, end: datetime, span: timedelta
) -> None:
    start = working_time_before(end, span, calendar)
    assert start <= end
    assert working_time(start, end, calendar) == span


@given(calendars, moments, st.timedeltas(timedelta(microseconds=1), timedelta(days=60)))
def test_the_moment_before_is_the_latest_such_moment(
    calendar: Calendar, end: datetime, span: timedelta
) -> None:
    start = working_time_before(end, span, calendar)
    later = start + timedelta(microseconds=1)
    assert working_time(later, end, calendar) < span


@given(calendars, moments, moments, moments)
def test_working_time_adds_up_and_never_exceeds_the_clock(
    calendar: Calendar, a: datetime, b: datetime, c: datetime
) -> None:
    a, b, c = sorted((a, b, c))
    assert working_time(a, b, calendar) + working_time(b, c, calendar) == working_time(
        a, c, calendar
    )
    assert timedelta(0) <= working_time(a, c, calendar) <= c - a


@given(st.dates(date(2025, 1, 1), date(2027, 12, 31)))
def test_a_whole_day_counts_24_hours_when_it_is_a_working_day_and_none_otherwise(
    day: date,
) -> None:
    start = datetime.combine(day, datetime.min.time(), VIETNAM)
    expected = 24 * HOUR if SHIPPED.is_working_day(day) else timedelta(0)
    assert working_time(start, start + timedelta(days=1), SHIPPED) == expected


@given(calendars, moments, st.timedeltas(timedelta(microseconds=1), timedelta(days=60)))
def test_the_moment_before_falls_on_a_working_day(
    calendar: Calendar, end: datetime, span: timedelta
) -> None:
    start = working_time_before(end, span, calendar)
    assert calendar.is_working_day(start.astimezone(VIETNAM).date())
