"""Numbers as Vietnamese read them: a dot between thousands, a comma before decimals
(1.234,5), trailing zeros of the decimals dropped. Pages, charts and SMS write numbers through
here; CSV exports and the JSON API keep plain numbers for machines."""

from __future__ import annotations


def shown_number(value: float, decimals: int = 2, trim: bool = True) -> str:
    """`value` rounded to `decimals` places (at most, when `trim` drops trailing zeros; a
    table's column keeps them), written the Vietnamese way."""
    text = f"{value:,.{decimals}f}"
    if decimals and trim:
        text = text.rstrip("0").rstrip(".")
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")
