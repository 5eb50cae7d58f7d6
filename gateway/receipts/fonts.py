"""Text on the receipt's PNG: DejaVu Sans (accented) when its files are installed (Debian:
fonts-dejavu-core), else Pillow's built-in font, which only draws ASCII (accents stripped); how
wide a text is drawn, and lines cut to a width (`gateway.receipts.layout` lays them out)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

from gateway.core.sms_text import strip_accents

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))


@lru_cache(maxsize=16)
def font_of(size: int, bold: bool) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, bool]:
    """(font, draws accents): DejaVu Sans when installed, else Pillow's built-in font."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for folder in FONT_DIRS:
        path = folder / name
        if path.is_file():
            return ImageFont.truetype(str(path), size), True
    return ImageFont.load_default(size), False


def font_name(size: int) -> str:
    font, accented = font_of(size, False)
    if accented and isinstance(font, ImageFont.FreeTypeFont):
        return " ".join(part for part in font.getname() if part)
    return "Pillow default (accents stripped)"


def text_width(text: str, size: int, bold: bool) -> int:
    font, accented = font_of(size, bold)
    return int(font.getlength(text if accented else strip_accents(text)) + 0.999)


def wrap(text: str, size: int, bold: bool, width: int) -> list[str]:
    """Lines of at most `width` dots; words longer than a line are cut where they must be."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if text_width(candidate, size, bold) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = ""
        while text_width(word, size, bold) > width:
            cut = len(word) - 1
            while cut > 1 and text_width(word[:cut], size, bold) > width:
                cut -= 1
            soft = max(word.rfind("-", 0, cut), word.rfind("/", 0, cut))
            if soft > 0:
                cut = soft + 1  # cut after a dash or slash when there is one
            lines.append(word[:cut])
            word = word[cut:]
        current = word
    if current:
        lines.append(current)
    return lines
