"""A tiny server-side SVG bar chart (no JavaScript): horizontal bars with their values written
out, and an optional reference mark per bar (e.g. the hours a desk is allowed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

ROW = 24  # px per bar
LABEL = 190  # px for the labels on the left
PLOT = 420  # px for the bars
VALUE = 90  # px for the value on the right


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value % 1 else str(int(value))


def bar_chart(
    title: str,
    bars: Sequence[tuple[str, float]],
    marks: Mapping[str, float] | None = None,
    unit: str = "",
) -> Markup:
    """Bars `(label, value)`; `marks[label]` draws a red reference line on that bar's row."""
    marks = marks or {}
    top = max([0.0, *(v for _, v in bars), *(marks.get(label, 0.0) for label, _ in bars)])
    scale = PLOT / top if top > 0 else 0.0
    height = ROW * max(len(bars), 1) + 30
    width = LABEL + PLOT + VALUE
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" font-weight="bold" font-size="13">{escape(title)}</text>',
    ]
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
