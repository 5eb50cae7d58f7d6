"""Code128 symbols drawn with whole-dot module widths.

python-barcode chooses the code sets and the check character (`build()` gives the module
string: ``1`` a bar module, ``0`` a space module); we draw the modules ourselves, because its
PNG writer rounds module widths to fractional pixels and the bars come out a dot too wide or too
narrow, which scanners do not forgive (see BARCODE-NOTES.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import barcode
from PIL import Image, ImageDraw

QUIET_MODULES = 10  # each side (ISO/IEC 15417 asks for at least 10X)


@dataclass(frozen=True, slots=True)
class Code128:
    text: str
    modules: str  # without quiet zones

    @property
    def width_modules(self) -> int:
        """Width including both quiet zones."""
        return len(self.modules) + 2 * QUIET_MODULES

    def bars(self) -> list[tuple[int, int]]:
        """(first module, width in modules) of every bar, counted from the left quiet zone."""
        runs: list[tuple[int, int]] = []
        start = -1
        for i, m in enumerate(self.modules + "0"):
            if m == "1" and start < 0:
                start = i
            elif m == "0" and start >= 0:
                runs.append((QUIET_MODULES + start, i - start))
                start = -1
        return runs


def encode(text: str) -> Code128:
    """The Code128 symbol for `text` (ASCII)."""
    modules = "".join(barcode.get("code128", text).build())
    return Code128(text, modules)


def image(symbol: Code128, module_dots: int, height_dots: int) -> Image.Image:
    """A 1-bit image of the symbol with its quiet zones, one pixel per printer dot."""
    if module_dots < 1 or height_dots < 1:
        raise ValueError("module width and height are whole dots, at least 1")
    img = Image.new("1", (symbol.width_modules * module_dots, height_dots), 1)
    draw_on(img, symbol, 0, 0, module_dots, height_dots)
    return img


def draw_on(
    img: Image.Image, symbol: Code128, x: int, y: int, module_dots: int, height_dots: int
) -> None:
    """Draw the symbol (with quiet zones starting at x) onto a 1-bit or grey image."""
    draw = ImageDraw.Draw(img)
    for start, width in symbol.bars():
        left = x + start * module_dots
        draw.rectangle((left, y, left + width * module_dots - 1, y + height_dots - 1), fill=0)


def svg_path(symbol: Code128, x: float, y: float, module: float, height: float) -> str:
    """An SVG ``<path>`` drawing the bars; coordinates in the caller's user units."""
    parts = [
        f"M{x + start * module:g} {y:g}h{width * module:g}v{height:g}h{-width * module:g}z"
        for start, width in symbol.bars()
    ]
    return f'<path d="{"".join(parts)}" fill="#000"/>'


def svg(symbol: Code128, module_dots: int, height_dots: int) -> str:
    """A standalone SVG of the symbol, sized in millimetres at 203 dpi (8 dots per mm)."""
    w = symbol.width_modules * module_dots
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w / 8:g}mm" '
        f'height="{height_dots / 8:g}mm" viewBox="0 0 {w} {height_dots}" '
        f'shape-rendering="crispEdges"><rect width="{w}" height="{height_dots}" fill="#fff"/>'
        f"{svg_path(symbol, 0, 0, module_dots, height_dots)}</svg>"
    )
