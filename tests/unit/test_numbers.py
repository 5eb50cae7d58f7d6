"""Numbers as Vietnamese read them (gateway/core/numbers.py)."""

from __future__ import annotations

import pytest

from gateway.core.numbers import shown_number
from tests.readable import unreadable


@pytest.mark.parametrize(
    ("value", "decimals", "shown"),
    [
        (1.5, 2, "1,5"),
        (2.25, 1, "2,2"),  # rounded half to even, as Python rounds
        (1234.5, 1, "1.234,5"),
        (20000, 0, "20.000"),
        (3.0, 2, "3"),
        (0.04, 1, "0"),
        (1234567.891, 2, "1.234.567,89"),
    ],
)
def test_a_number_is_written_the_vietnamese_way(value: float, decimals: int, shown: str) -> None:
    assert shown_number(value, decimals) == shown


def test_the_checker_of_what_people_read_refuses_a_decimal_point() -> None:
    assert unreadable("Trung bình 1.5 giờ")
    assert not unreadable("Trung bình 1,5 giờ; 12.345 đ; máy 127.0.0.1; bản 0.3.0")
