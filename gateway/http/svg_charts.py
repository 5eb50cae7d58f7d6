"""A tiny server-side SVG bar chart (no JavaScript): horizontal bars with their values written
out, an axis with its scale (ticks at round numbers, the unit named), and an optional reference
mark per bar (e.g. the hours a desk is allowed).

The scale never stretches to fit the data alone: it reaches at least `least_top` (a working day
for hours, ten for counts), so 0.1 hour draws a sliver, not a full-width bar."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

from gateway.core.numbers import shown_number

ROW = 24  # px per bar
LABEL = 190  # px for the labels on the left
PLOT = 420  # px for the bars
VALUE = 90  # px for the value on the right
AXIS = 34  # px below the bars for the axis and its legend
TICKS = 5  # about how many steps the axis has


def _num(value: float) -> str:
    return shown_number(value)


def nice_step(top: float, ticks: int = TICKS) -> float:
    """A round step (1, 2 or 5 times a power of ten) that cuts 0..top into about `ticks`."""
    raw = top / max(ticks, 1)
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return float(factor * power)
    return float(10 * power)


def scale_top(values: Sequence[float], least_top: float) -> tuple[float, float]:
    """The axis's end (a whole number of steps, at least `least_top`) and its step."""
    top = max([least_top, *values, 1e-9])
    step = nice_step(top)
    return step * math.ceil(top / step - 1e-9), step


def bar_chart(
    title: str,
    bars: Sequence[tuple[str, float]],
    marks: Mapping[str, float] | None = None,
    unit: str = "",
    least_top: float = 10.0,
    axis_label: str = "",
) -> Markup:
    """Bars `(label, value)`; `marks[label]` draws a red reference line on that bar's row."""
    marks = marks or {}
    shown_marks = [marks[label] for label, _ in bars if label in marks]
    top, step = scale_top([*(v for _, v in bars), *shown_marks], least_top)
    scale = PLOT / top
    plot_bottom = 26 + ROW * max(len(bars), 1)
    height = plot_bottom + AXIS
    width = LABEL + PLOT + VALUE
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" font-weight="bold" font-size="13">{escape(title)}</text>',
    ]
    ticks = round(top / step)
    parts.append('<g class="axis">')
    for i in range(ticks + 1):
        x = LABEL + i * step * scale
        parts.append(
            f'<line class="tick" x1="{x:.1f}" x2="{x:.1f}" y1="26" y2="{plot_bottom + 4}" '
            f'stroke="#d0d5dd" stroke-width="1"/>'
            f'<text class="tick-label" x="{x:.1f}" y="{plot_bottom + 16}" font-size="11" '
            f'text-anchor="middle">{_num(i * step)}</text>'
        )
    parts.append(
        f'<line x1="{LABEL}" x2="{LABEL + PLOT}" y1="{plot_bottom}" y2="{plot_bottom}" '
        f'stroke="#667085" stroke-width="1"/>'
        f'<text class="axis-label" x="{LABEL + PLOT / 2}" y="{plot_bottom + 30}" font-size="11" '
        f'text-anchor="middle">{escape(axis_label or unit.strip())}</text></g>'
    )
    if not bars:
        parts.append('<text x="0" y="40" font-size="12">(chưa có số liệu)</text>')
    for i, (label, value) in enumerate(bars):
        y = 26 + i * ROW
        length = max(0.0, value) * scale
        parts.append(
            f'<g class="bar"><text x="{LABEL - 6}" y="{y + 15}" font-size="12" '
            f'text-anchor="end">{escape(label)}</text>'
            f'<rect x="{LABEL}" y="{y + 3}" width="{length:.1f}" height="{ROW - 6}" '
            f'fill="#3b6ea8"><title>{escape(label)}: {_num(value)}{escape(unit)}</title></rect>'
            f'<text x="{LABEL + length + 4:.1f}" y="{y + 15}" font-size="12">'
            f"{_num(value)}{escape(unit)}</text></g>"
        )
        if label in marks:
            x = LABEL + marks[label] * scale
            parts.append(
                f'<line class="allowed" x1="{x:.1f}" x2="{x:.1f}" y1="{y}" y2="{y + ROW}" '
                f'stroke="#b42318" stroke-width="2"><title>{escape(label)}: '
                f"{_num(marks[label])}{escape(unit)}</title></line>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 -- every text piece above is escaped
