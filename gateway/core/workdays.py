"""Working days (ngày làm việc) in Vietnam: Monday to Friday, less the public holidays and the
days off the government announces (Tết...), plus the Saturdays or Sundays it turns into working
days in exchange (ngày làm bù). Days are Vietnam's calendar days (Asia/Ho_Chi_Minh).

Working time is the part of a span that falls on working days, counted by the clock: a working
day counts 24 hours, a day off none. Pure: the calendar is passed in (`[calendar]` settings).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from gateway.core.errors import CoreError
from gateway.core.times import VIETNAM, local_time

DAY = timedelta(days=1)


class CalendarError(CoreError):
    """A calendar setting that cannot be used: `key` and what is wrong with one entry."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Calendar:
    holidays: frozenset[date] = frozenset()  # days off that would be working days
    working_days: frozenset[date] = frozenset()  # weekend days worked in exchange (làm bù)

    def is_working_day(self, day: date) -> bool:
        if day in self.working_days:
            return True
        return day.weekday() < 5 and day not in self.holidays


def parse_calendar(holidays: Iterable[str], working_days: Iterable[str] = ()) -> Calendar:
    """The calendar from `[calendar] holidays` and `working_days` (dates written YYYY-MM-DD).
    Refuses a text that is not such a date, and a day listed both off and worked."""
    off = frozenset(_day("calendar.holidays", text) for text in holidays)
    worked = frozenset(_day("calendar.working_days", text) for text in working_days)
    both = sorted(off & worked)
    if both:
        raise CalendarError(
            "calendar.working_days", f"entry {both[0].isoformat()} is also in calendar.holidays"
        )
    return Calendar(off, worked)


def _day(key: str, text: object) -> date:
    if isinstance(text, str) and len(text.strip()) == len("2026-01-01"):
        try:
            return date.fromisoformat(text.strip())
        except ValueError:
            pass
    raise CalendarError(key, f"entry {text!r} is not a date YYYY-MM-DD")


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), VIETNAM)


def working_time(start: datetime, end: datetime, calendar: Calendar) -> timedelta:
    """How much of [start, end) falls on working days (zero when end is not after start)."""
    a, b = local_time(start), local_time(end)
    total = timedelta(0)
    day = a.date()
    while _midnight(day) < b:
        begin, finish = _midnight(day), _midnight(day) + DAY
        if calendar.is_working_day(day):
            total += min(b, finish) - max(a, begin)
        day += DAY
    return total


def working_time_before(end: datetime, span: timedelta, calendar: Calendar) -> datetime:
    """The latest moment from which `span` of working time leads up to `end`: e.g. 24 hours
    before an appointment on Monday 08:00 is Friday 08:00, before one on the Monday after Tết the
    last working day before the holiday. `end` itself for a span of zero or less."""
    if span <= timedelta(0):
        return end
    t = local_time(end)
    left = span
    day = t.date() if t.time() != time(0) else t.date() - DAY
    while True:
        begin = _midnight(day)
        if calendar.is_working_day(day):
            piece = t - begin
            if piece >= left:
                return (t - left).astimezone(end.tzinfo)
            left -= piece
        t = begin
        day -= DAY
