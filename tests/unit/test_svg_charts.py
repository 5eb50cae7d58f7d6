"""The dashboard's bar charts have an axis and a scale that does not stretch to the data."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from gateway.http.svg_charts import PLOT, bar_chart, scale_top

WIDTH = re.compile(r'<rect x="\d+" y="[\d.]+" width="([\d.]+)"')
TICK_LABEL = re.compile(r'class="tick-label"[^>]*>([^<]+)<')


def test_a_tenth_of_an_hour_is_a_sliver_not_a_full_width_bar() -> None:
    svg = str(bar_chart("Giờ tại quầy", [("Tư pháp", 0.1)], unit=" giờ", least_top=8))
    (width,) = (float(w) for w in WIDTH.findall(svg))
    assert 0 < width <= PLOT * 0.1 / 8 + 0.1
    assert TICK_LABEL.findall(svg) == ["0", "2", "4", "6", "8"]
    assert "Số giờ" not in svg
    assert ">giờ</text>" in svg  # the axis names its unit


def test_the_axis_ends_on_a_round_number_at_or_above_every_value_and_mark() -> None:
    svg = str(bar_chart("x", [("a", 37.0), ("b", 3.0)], {"b": 44.0}, axis_label="Số hồ sơ"))
    assert TICK_LABEL.findall(svg) == ["0", "10", "20", "30", "40", "50"]
    assert "Số hồ sơ" in svg
    widths = [float(w) for w in WIDTH.findall(svg)]
    assert widths == [round(PLOT * 37 / 50, 1), round(PLOT * 3 / 50, 1)]


@given(st.lists(st.floats(min_value=0, max_value=1e6), max_size=20), st.floats(0.5, 100))
def test_the_scale_holds_every_value_in_about_five_round_steps(
    values: list[float], least: float
) -> None:
    top, step = scale_top(values, least)
    assert top >= max([least, *values])
    assert 1 <= round(top / step) <= 10
    assert f"{step:.10e}"[0] in "125"  # 1, 2 or 5 times a power of ten
