"""Phone numbers to E.164, masking, carrier hints; ISO 8601 times with offsets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.errors import FutureTime, InvalidPhone, InvalidTime
from gateway.core.phones import carrier_of, mask_phone, normalise_phone
from gateway.core.times import format_time, from_micros, parse_time, refuse_future_time, to_micros


@pytest.mark.parametrize(
    "typed",
    [
        "0901234567",
        "090 123 4567",
        "090.123.4567",
        "+84901234567",
        "+84 90 123 45 67",
        "84901234567",
        "0084901234567",
        "+840901234567",
        "(090) 123-4567",
    ],
)
def test_vietnamese_numbers_become_e164(typed: str) -> None:
    assert normalise_phone(typed) == "+84901234567"


@pytest.mark.parametrize("typed", ["", "12345", "090123456a", "+", "0001234567", "+8412", "hello"])
def test_non_numbers_are_refused(typed: str) -> None:
    with pytest.raises(InvalidPhone):
        normalise_phone(typed)


def test_foreign_numbers_are_kept_in_e164() -> None:
    assert normalise_phone("+1 650 253 0000") == "+16502530000"


@given(st.text("0123456789", min_size=9, max_size=9).filter(lambda s: s[0] != "0"))
def test_the_three_national_forms_agree(national: str) -> None:
    assert normalise_phone("0" + national) == normalise_phone("84" + national) == "+84" + national


def test_carrier_hints_follow_the_prefixes() -> None:
    assert carrier_of("+84961234567") == "viettel"
    assert carrier_of("+84912345678") == "vinaphone"
    assert carrier_of("+84901234567") == "mobifone"
    assert carrier_of("+84921234567") == "vietnamobile"
    assert carrier_of("+84991234567") == "gmobile"
    assert carrier_of("+84871234567") == "itelecom"
    assert carrier_of("+16502530000") is None


def test_masked_numbers_hide_the_middle() -> None:
    assert mask_phone("+84901234567") == "+8490*****67"
    assert "1234" not in mask_phone("+84901234567")


@pytest.mark.parametrize(
    "text", ["2024-04-23T08:30:00+07:00", "2024-04-23T01:30:00Z", "2024-04-23T01:30:00.000+00:00"]
)
def test_times_need_an_offset(text: str) -> None:
    assert parse_time("at", text) == datetime(2024, 4, 23, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["2024-04-23T08:30:00", "23/04/2024", "", "1800-01-01T00:00:00Z", 5]
)
def test_times_without_an_offset_are_refused(text: object) -> None:
    with pytest.raises(InvalidTime):
        parse_time("at", text)


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    )
)
def test_microseconds_round_trip(value: datetime) -> None:
    assert from_micros(to_micros(value)) == value


def test_times_are_shown_in_vietnam() -> None:
    shown = format_time(datetime(2024, 4, 23, 1, 30, tzinfo=timezone(timedelta(hours=-5))))
    assert shown == "2024-04-23T13:30:00+07:00"


@given(st.one_of(st.text(max_size=40), st.datetimes(timezones=st.timezones()).map(str)))
def test_parsing_any_text_either_succeeds_or_says_invalid_time(text: str) -> None:
    try:
        parsed = parse_time("at", text)
    except InvalidTime:
        return
    assert parsed.tzinfo is not None


@given(st.text(max_size=30))
def test_normalising_any_text_either_succeeds_or_says_invalid_phone(text: str) -> None:
    try:
        number = normalise_phone(text)
    except InvalidPhone:
        return
    assert number.startswith("+")
    assert number[1:].isdigit()


NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
SKEW = timedelta(seconds=300)


@given(st.timedeltas(min_value=timedelta(days=-3650), max_value=SKEW))
def test_times_up_to_the_skew_allowance_ahead_are_accepted(ahead: timedelta) -> None:
    assert refuse_future_time("at", NOW + ahead, NOW, SKEW) == NOW + ahead


@given(st.timedeltas(min_value=SKEW + timedelta(microseconds=1), max_value=timedelta(days=3650)))
def test_times_further_ahead_than_the_skew_allowance_are_refused(ahead: timedelta) -> None:
    with pytest.raises(FutureTime) as caught:
        refuse_future_time("at", NOW + ahead, NOW, SKEW)
    assert isinstance(caught.value, InvalidTime)  # answered 422 like any unusable time
    assert caught.value.field == "at"


def test_a_future_time_is_refused_naming_the_field_the_time_and_the_clock() -> None:
    with pytest.raises(FutureTime) as caught:
        refuse_future_time("received_at", NOW + timedelta(hours=2), NOW, SKEW)
    assert str(caught.value) == (
        "received_at: 2026-05-04T18:00:00+07:00 is in the future (the gateway's clock reads "
        "2026-05-04T16:00:00+07:00; at most 300 s ahead is accepted)"
    )
