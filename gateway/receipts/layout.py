"""The receipt (giấy biên nhận) for 58 mm and 80 mm thermal printers at 203 dpi (8 dots/mm).

Top left, the QR code (Circular 01/2023/TT-VPCP) with the office and the dossier code beside it;
then the procedure, the applicant (masked phone), the dates; then the Code128 of the short code,
which counter scanners read, with the short code and the secret as text; the SMS syntax; the
tracking URL; the office's hotline and address (a province's offices each print their own); when
this paper was printed.

A receipt is a legal paper: "Ngày nhận" is when the office received the dossier
(`Dossier.received_at`), on the first print and on every reprint; the print time is shown apart,
as "In lúc". The QR code carries the receipt's own time (the reception), so it is the same on
every reprint. One layout, in printer dots, is drawn three ways: a 1-bit PNG whose pixels are the
printer's dots, an SVG, and an HTML page (print stylesheet sized for the paper, SVG barcodes).

Text in the PNG uses DejaVu Sans (accented) when its files are installed (Debian:
fonts-dejavu-core); otherwise Pillow's built-in font, with accents stripped, since it only
draws ASCII (`gateway.receipts.fonts`). `PrintedReceipt.png_font` says which was used.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass, field
from datetime import datetime

from PIL import Image, ImageDraw, ImageFont

from gateway.core.codes import display_short_code
from gateway.core.dossier import Dossier
from gateway.core.phones import mask_phone
from gateway.core.sms_text import strip_accents
from gateway.core.times import local_time, shown_date, shown_time
from gateway.receipts import code128, qr
from gateway.receipts.fonts import font_name, font_of, text_width, wrap

DOTS_PER_MM = 8  # 203 dpi
ISSUER = "hoso"


@dataclass(frozen=True, slots=True)
class Paper:
    width_mm: int
    printable_dots: int  # the print head's width
    qr_module_dots: int
    bar_module_dots: int
    bar_height_dots: int
    text_dots: int  # font size (em) of body text
    big_dots: int  # the short code under the bars

    @property
    def printable_mm(self) -> float:
        return self.printable_dots / DOTS_PER_MM


# Module sizes are chosen from what zxing-cpp decodes after damage (tests/integration/
# test_receipt_decoding.py prints the table per paper width):
# - QR at 5 dots (0.625 mm) on both papers. The payload needs version 9 (61 modules with the
#   quiet zone = 305 dots = 38 mm). At 3 and 4 dots it failed downscaling to 0.75 and 0.6: a
#   version >= 7 symbol is not even detected at 2.25 and 2.4 px a module (its version
#   information blocks are misread under that resampling), and at 1.5 px a module too small to
#   read; blur of 2 px also needs modules of 5 dots.
# - Code128 at 2 dots on 58 mm is the most that fits (112 modules + 2 x 10 quiet = 264 dots; at
#   3 dots 396 > 384); 80 mm takes 4 dots (528 of 576 dots).
PAPERS = {
    # 384 dots = 48 mm.
    58: Paper(
        58, 384, qr_module_dots=5, bar_module_dots=2, bar_height_dots=128, text_dots=18, big_dots=30
    ),
    # 576 dots = 72 mm.
    80: Paper(
        80, 576, qr_module_dots=5, bar_module_dots=4, bar_height_dots=136, text_dots=22, big_dots=36
    ),
}
MIN_QR_MODULE_DOTS = 3  # a payload too long for the paper's module size is drawn smaller
GAP = 8  # dots between blocks


@dataclass(frozen=True, slots=True)
class _Text:
    x: int
    y: int  # top of the line box
    text: str
    size: int
    bold: bool


@dataclass(frozen=True, slots=True)
class _Rule:
    y: int


@dataclass(frozen=True)
class PrintedReceipt:
    paper: Paper
    dossier_code: str
    short_code: str
    secret: str
    qr_payload: str
    qr_symbol: qr.QrSymbol
    qr_module_dots: int  # the paper's, unless the payload is too long for it
    bar_symbol: code128.Code128
    qr_at: tuple[int, int]  # dots, top-left of the QR's quiet zone
    bars_at: tuple[int, int]  # dots, top-left of the Code128's left quiet zone
    height_dots: int
    texts: tuple[_Text | _Rule, ...]
    header: tuple[str, ...]  # beside the QR code
    details: tuple[tuple[str, str], ...]  # (label, value) below it
    footer: tuple[str, ...]  # below the bars
    png_font: str = field(default="")

    @property
    def width_dots(self) -> int:
        return self.paper.printable_dots

    @property
    def qr_size_dots(self) -> int:
        return self.qr_symbol.width_modules * self.qr_module_dots

    @property
    def bars_width_dots(self) -> int:
        return self.bar_symbol.width_modules * self.paper.bar_module_dots

    # -- PNG -------------------------------------------------------------------------------

    def image(self) -> Image.Image:
        """The receipt as a 1-bit image, one pixel per printer dot."""
        img = Image.new("1", (self.width_dots, self.height_dots), 1)
        qr.draw_on(img, self.qr_symbol, *self.qr_at, self.qr_module_dots)
        code128.draw_on(
            img,
            self.bar_symbol,
            *self.bars_at,
            self.paper.bar_module_dots,
            self.paper.bar_height_dots,
        )
        draw = ImageDraw.Draw(img)
        draw.fontmode = "1"
        for op in self.texts:
            if isinstance(op, _Rule):
                draw.line((0, op.y, self.width_dots - 1, op.y), fill=0, width=2)
                continue
            font, accented = font_of(op.size, op.bold)
            draw.text(
                (op.x, op.y), op.text if accented else strip_accents(op.text), font=font, fill=0
            )
        return img

    def png(self) -> bytes:
        out = io.BytesIO()
        self.image().save(out, format="PNG", dpi=(203, 203), optimize=True)
        return out.getvalue()

    # -- SVG -------------------------------------------------------------------------------

    def svg(self) -> str:
        """The receipt as SVG, one user unit per printer dot, sized in millimetres."""
        w, h = self.width_dots, self.height_dots
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{w / DOTS_PER_MM:g}mm" '
            f'height="{h / DOTS_PER_MM:g}mm" viewBox="0 0 {w} {h}" shape-rendering="crispEdges">',
            f'<rect width="{w}" height="{h}" fill="#fff"/>',
            qr.svg_path(self.qr_symbol, *self.qr_at, self.qr_module_dots),
            code128.svg_path(
                self.bar_symbol,
                *self.bars_at,
                self.paper.bar_module_dots,
                self.paper.bar_height_dots,
            ),
            '<g font-family="DejaVu Sans, Verdana, Arial, sans-serif" fill="#000">',
        ]
        for op in self.texts:
            if isinstance(op, _Rule):
                parts.append(f'<rect x="0" y="{op.y - 1}" width="{w}" height="2"/>')
                continue
            font, _ = font_of(op.size, op.bold)
            ascent = font.getmetrics()[0] if isinstance(font, ImageFont.FreeTypeFont) else op.size
            weight = ' font-weight="bold"' if op.bold else ""
            parts.append(
                f'<text x="{op.x}" y="{op.y + ascent}" font-size="{op.size}"{weight}>'
                f"{html.escape(op.text)}</text>"
            )
        parts.append("</g></svg>")
        return "".join(parts)

    # -- HTML ------------------------------------------------------------------------------

    def html(self) -> str:
        """A printable page: text as HTML, the barcodes as inline SVG sized in millimetres."""
        p = self.paper
        qr_svg = qr.svg(self.qr_symbol, self.qr_module_dots)
        bars_svg = code128.svg(self.bar_symbol, p.bar_module_dots, p.bar_height_dots)
        e = html.escape
        header = "".join(f"<p>{e(line)}</p>" for line in self.header)
        details = "".join(
            f"<tr><th>{e(label)}</th><td>{e(value)}</td></tr>" for label, value in self.details
        )
        footer = "".join(f"<p>{e(line)}</p>" for line in self.footer)
        return f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<title>Giấy biên nhận {e(self.dossier_code)}</title>
<style>
@page {{ size: {p.width_mm}mm auto; margin: 0 {(p.width_mm - p.printable_mm) / 2:g}mm; }}
html, body {{ margin: 0; padding: 0; background: #fff; color: #000; }}
.receipt {{ width: {p.printable_mm:g}mm; font: {p.text_dots / DOTS_PER_MM:g}mm/1.25
  "DejaVu Sans", Verdana, Arial, sans-serif; }}
.top {{ display: flex; flex-wrap: wrap; gap: 1mm; align-items: flex-start; }}
.top .head {{ flex: 1 1 30mm; }}
.top svg, .bars svg {{ display: block; flex: none; }}
.top .head p {{ margin: 0; font-weight: bold; overflow-wrap: anywhere; }}
table {{ border-collapse: collapse; width: 100%; margin: 1mm 0; }}
th {{ text-align: left; font-weight: normal; white-space: nowrap; padding-right: 1mm;
  vertical-align: top; }}
td {{ overflow-wrap: anywhere; }}
.bars {{ display: flex; flex-direction: column; align-items: center; margin: 1mm 0; }}
.short {{ font-size: {p.big_dots / DOTS_PER_MM:g}mm; font-weight: bold; letter-spacing: .3mm; }}
.foot p {{ margin: .5mm 0; overflow-wrap: anywhere; }}
@media screen {{ body {{ padding: 4mm; background: #eee; }}
  .receipt {{ background: #fff; padding: 2mm; }} }}
@media print {{ * {{ -webkit-print-color-adjust: exact; print-color-adjust: exact; }} }}
</style></head>
<body><div class="receipt" data-paper-mm="{p.width_mm}">
<div class="top">{qr_svg}<div class="head">{header}</div></div>
<table>{details}</table>
<div class="bars">{bars_svg}<div class="short">{e(display_short_code(self.short_code))}</div>
</div>
<div class="foot">{footer}</div>
</div></body></html>
"""


def render_receipt(
    dossier: Dossier,
    *,
    width_mm: int = 80,
    tracking_url: str,
    office: str,
    sms_number: str = "",
    hotline: str = "",
    address: str = "",
    printed_at: datetime,
) -> PrintedReceipt:
    """Lay out the receipt of `dossier` for 58 mm or 80 mm paper, printed at `printed_at`:
    `office` (its name, accented), `address`, `hotline` and `sms_number` are the dossier's
    office's (`gateway.core.office_contact`)."""
    if width_mm not in PAPERS:
        raise ValueError(f"paper width {width_mm} mm: only {sorted(PAPERS)} are supported")
    paper = PAPERS[width_mm]
    local_time(printed_at)  # a naive time is refused, as every time on the receipt
    payload = qr_payload(dossier, tracking_url=tracking_url)
    qr_symbol = qr.encode(payload)
    bar_symbol = code128.encode(dossier.short_code)
    width = paper.printable_dots
    qr_dots = min(paper.qr_module_dots, width // qr_symbol.width_modules)
    qr_size = qr_symbol.width_modules * qr_dots
    bars_width = bar_symbol.width_modules * paper.bar_module_dots
    if qr_dots < MIN_QR_MODULE_DOTS or bars_width > width:
        raise ValueError("the barcodes do not fit the paper")
    size, big = paper.text_dots, paper.big_dots
    line = round(size * 1.25)
    ops: list[_Text | _Rule] = []

    header = (office, "GIẤY BIÊN NHẬN HỒ SƠ", "Mã hồ sơ:", dossier.code)
    room = width - qr_size - GAP // 2
    if all(text_width(text, size, True) <= room for text in header[1:]):  # beside the QR code
        x = qr_size + GAP // 2
        y = qr_dots * 2  # align with the symbol, not its quiet zone
    else:  # below it
        x, y = 0, qr_size
    for text in header:
        for piece in wrap(text, size, True, width - x):
            ops.append(_Text(x, y, piece, size, True))
            y += line
    y = max(y, qr_size) + GAP // 2

    phone = mask_phone(dossier.phones[0]) if dossier.phones else ""
    details: list[tuple[str, str]] = [
        ("Thủ tục:", dossier.procedure_name),
        ("Mã thủ tục:", dossier.procedure_code),
    ]
    if dossier.applicant_name:
        details.append(("Người nộp:", dossier.applicant_name))
    if phone:
        details.append(("Điện thoại:", phone))
    details += [
        ("Ngày nhận:", shown_time(dossier.received_at)),
        ("Hẹn trả:", shown_date(dossier.due_at)),
    ]
    for label, value in details:
        for piece in wrap(f"{label} {value}", size, label == "Hẹn trả:", width):
            ops.append(_Text(0, y, piece, size, label == "Hẹn trả:"))
            y += line
    y += GAP
    bars_at = ((width - bars_width) // 2, y)
    y += paper.bar_height_dots + GAP // 2
    shown = display_short_code(dossier.short_code)
    ops.append(_Text((width - text_width(shown, big, True)) // 2, y, shown, big, True))
    y += round(big * 1.3)

    sms = f"Soạn HS {shown} {dossier.secret}" + (f" gửi {sms_number}" if sms_number else "")
    footer = (
        f"Mã bí mật: {dossier.secret}",
        f"Tra cứu qua SMS: {sms}",
        f"Tra cứu trực tuyến: {tracking_url}",
        *((f"Đường dây nóng: {hotline}",) if hotline else ()),
        *((f"Nơi nhận hồ sơ: {office}, {address}",) if address else ()),
        f"Cấp bởi hệ thống {ISSUER}",
        f"In lúc: {shown_time(printed_at)}",
    )
    for text in footer:
        bold = text.startswith("Mã bí mật")
        for piece in wrap(text, size, bold, width):
            ops.append(_Text(0, y, piece, size, bold))
            y += line
    y += GAP * 2  # paper to tear off below the last line
    return PrintedReceipt(
        paper=paper,
        dossier_code=dossier.code,
        short_code=dossier.short_code,
        secret=dossier.secret,
        qr_payload=payload,
        qr_symbol=qr_symbol,
        qr_module_dots=qr_dots,
        bar_symbol=bar_symbol,
        qr_at=(0, 0),
        bars_at=bars_at,
        height_dots=y,
        texts=tuple(ops),
        header=header,
        details=tuple(details),
        footer=footer,
        png_font=font_name(size)
        if font_of(size, False)[1]
        else "Pillow default (accents stripped)",
    )


def qr_payload(dossier: Dossier, *, tracking_url: str) -> str:
    """The QR code's payload for `dossier` (see `qr` for the format); the issue time (TGC) is
    the reception's, the same on every reprint."""
    fields = {
        "MHS": dossier.code,
        "MTT": dossier.procedure_code.upper(),
        "NNOP": mask_phone(dossier.phones[0]) if dossier.phones else "",
        "TEN": strip_accents(dossier.procedure_name).upper(),
        "HT": ISSUER.upper(),
        "TGC": local_time(dossier.received_at).isoformat(timespec="minutes"),
        "NHT": local_time(dossier.due_at).date().isoformat(),
        "URL": tracking_url,
    }
    return qr.format_payload({k: v for k, v in fields.items() if v})
