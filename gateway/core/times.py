"""Times as the API carries them: ISO 8601 with an offset; shown in Vietnam's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from gateway.core.errors import FutureTime, InvalidTime

# Asia/Ho_Chi_Minh has had no daylight saving time since 1975: a fixed offset is exact.
VIETNAM = timezone(timedelta(hours=7), "ICT")


def parse_time(field: str, text: object) -> datetime:
    if not isinstance(text, str):
        raise InvalidTime(field, repr(text))
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidTime(field, text) from exc
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidTime(field, text)
    # Checked on the local date first: converting year 1 or 9999 to UTC would overflow.
    if not 2000 <= value.year <= 2200 or not 2000 <= value.astimezone(UTC).year <= 2200:
        raise InvalidTime(field, text)
    return value


def refuse_future_time(
    field: str, value: datetime, now: datetime, allowance: timedelta
) -> datetime:
    """`value` if it is at most `allowance` after `now`; else `FutureTime`.

    The one rule for every time a sender reports about something that has happened (an event's
    `at`, a registration's `received_at`, a counter scan's `scanned_at`): it cannot lie in the
    future, give or take the clocks' disagreement (`[gateway] clock_skew`). Accepting one would
    make it the dossier's latest state and turn every real later change into an out-of-order one.
    """
    if value - now > allowance:
        raise FutureTime(
            field, format_time(value), format_time(now), int(allowance.total_seconds())
        )
    return value


def to_micros(value: datetime) -> int:
    """Microseconds since the epoch: how the store compares times."""
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def format_time(value: datetime) -> str:
    """ISO 8601 in Vietnam's time zone, to the second unless there are fractions."""
    local = value.astimezone(VIETNAM)
    spec = "microseconds" if local.microsecond else "seconds"
    return local.isoformat(timespec=spec)


def shown_time(value: datetime) -> str:
    """A time as a person reads it on any screen or paper: Vietnam's local time, written the way
    Vietnamese offices write it (dd/mm/yyyy HH:MM)."""
    return value.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M")


def shown_date(value: datetime) -> str:
    """A day as a person reads it: Vietnam's local date, dd/mm/yyyy."""
    return value.astimezone(VIETNAM).strftime("%d/%m/%Y")
