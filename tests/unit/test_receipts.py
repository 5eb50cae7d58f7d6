"""Receipts: sizes on paper, whole-dot modules, quiet zones, QR payload, the three renderings."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import numpy as np
import pytest
from PIL import Image

from gateway.core import sms_syntax
from gateway.core.codes import CODE_PATTERN, is_short_code, short_code
from gateway.core.dossier import Dossier, open_dossier
from gateway.receipts import code128, qr
from gateway.receipts.layout import DOTS_PER_MM, PAPERS, PrintedReceipt, render_receipt
from tests.factories import registration

PRINTED = datetime(2024, 4, 23, 2, 7, tzinfo=UTC)  # 09:07 in Hà Nội; received at 08:30
LONG_NAME = (
    "Cấp giấy chứng nhận quyền sử dụng đất, quyền sở hữu nhà ở và tài sản khác gắn liền với đất"
    " lần đầu"
)


def dossier(n: int = 1, name: str = "Cấp bản sao trích lục hộ tịch") -> Dossier:
    return open_dossier(registration(n, procedure_name=name), "h57", short_code(n), "ABCD2345")


def receipt(width_mm: int, d: Dossier | None = None, sms_number: str = "8077") -> PrintedReceipt:
    d = d or dossier()
    return render_receipt(
        d,
        width_mm=width_mm,
        tracking_url=f"https://tracuu.example.vn/hs/{d.short_code}",
        office="UBND phường Bến Nghé",
        sms_number=sms_number,
        printed_at=PRINTED,
    )


@pytest.mark.parametrize(("width_mm", "printable_mm"), [(58, 48), (80, 72)])
def test_receipt_is_as_wide_as_the_print_head(width_mm: int, printable_mm: int) -> None:
    r = receipt(width_mm)
    assert r.width_dots == printable_mm * DOTS_PER_MM
    img = Image.open(io.BytesIO(r.png()))
    assert img.mode == "1"
    assert img.size == (r.width_dots, r.height_dots)
    assert round(img.info["dpi"][0]) == 203


@pytest.mark.parametrize("width_mm", [58, 80])
def test_code128_fits_with_quiet_zones_and_bars_at_least_15_mm(width_mm: int) -> None:
    r = receipt(width_mm)
    p = r.paper
    assert r.bar_symbol.text == r.short_code
    assert r.bars_width_dots <= r.width_dots
    assert p.bar_height_dots / DOTS_PER_MM >= 15
    # The drawn image: 10 white modules each side of the first and last bar.
    img = np.asarray(code128.image(r.bar_symbol, p.bar_module_dots, p.bar_height_dots))
    dark_columns = np.flatnonzero(~img.all(axis=0))
    assert dark_columns[0] == code128.QUIET_MODULES * p.bar_module_dots
    assert img.shape[1] - 1 - dark_columns[-1] == code128.QUIET_MODULES * p.bar_module_dots
    # And on the receipt, the quiet zones are blank too.
    page = np.asarray(r.image())
    x, y = r.bars_at
    band = page[y : y + p.bar_height_dots]
    quiet = code128.QUIET_MODULES * p.bar_module_dots
    assert band[:, x : x + quiet].all()
    assert band[:, x + r.bars_width_dots - quiet : x + r.bars_width_dots].all()


@pytest.mark.parametrize("width_mm", [58, 80])
def test_every_bar_and_space_is_a_whole_number_of_module_dots(width_mm: int) -> None:
    r = receipt(width_mm)
    p = r.paper
    page = np.asarray(r.image())
    x, y = r.bars_at
    row = page[y + p.bar_height_dots // 2, x : x + r.bars_width_dots]
    runs = np.diff(np.flatnonzero(np.diff(row.astype(np.int8)) != 0))
    assert runs.size > 50
    assert set((runs % p.bar_module_dots).tolist()) == {0}
    modules = "".join("0" if v else "1" for v in row[:: p.bar_module_dots])
    assert modules.strip("0") == r.bar_symbol.modules
    # every column of a bar is solid from top to bottom
    band = page[y : y + p.bar_height_dots, x : x + r.bars_width_dots]
    assert (band == band[0]).all()


@pytest.mark.parametrize("width_mm", [58, 80])
def test_qr_top_left_whole_dot_modules_and_size_in_mm(width_mm: int) -> None:
    r = receipt(width_mm)
    p = r.paper
    assert r.qr_at == (0, 0)
    assert r.qr_symbol.error == "M"
    assert r.qr_module_dots == p.qr_module_dots == 5  # see test_receipt_decoding's table
    assert r.qr_symbol.version <= 9
    size_mm = r.qr_size_dots / DOTS_PER_MM
    assert 15 <= size_mm <= 40
    page = np.asarray(r.image())
    block = page[: r.qr_size_dots, : r.qr_size_dots]
    dots = r.qr_module_dots
    modules = block[::dots, ::dots]
    expected = ~np.array(r.qr_symbol.rows)
    assert (modules == expected).all()
    assert (np.repeat(np.repeat(modules, dots, 0), dots, 1) == block).all()


@pytest.mark.parametrize("width_mm", [58, 80])
def test_long_procedure_names_keep_the_qr_module_size(width_mm: int) -> None:
    r = receipt(width_mm, dossier(9, LONG_NAME))
    assert r.qr_symbol.version >= 10
    assert r.qr_module_dots == PAPERS[width_mm].qr_module_dots
    assert r.qr_size_dots <= r.width_dots


def test_a_payload_too_long_for_the_module_size_is_drawn_smaller_not_refused() -> None:
    name = " ".join([LONG_NAME] * 2)
    r = receipt(58, dossier(9, name))
    assert 3 <= r.qr_module_dots < PAPERS[58].qr_module_dots
    assert r.qr_size_dots <= r.width_dots
    assert qr.parse_payload(r.qr_payload)["TEN"].startswith("CAP GIAY CHUNG NHAN")


@pytest.mark.parametrize("width_mm", [58, 80])
def test_header_beside_the_qr_code_if_its_lines_fit_there_else_below(width_mm: int) -> None:
    from gateway.receipts.layout import _Text

    r = receipt(width_mm)
    texts = [op for op in r.texts if isinstance(op, _Text)]
    for line in ("GIẤY BIÊN NHẬN HỒ SƠ", r.dossier_code):  # never wrapped
        (op,) = [t for t in texts if t.text == line]
        assert op.x == 0 or op.x >= r.qr_size_dots
        assert op.x > 0 or op.y >= r.qr_size_dots
    assert r.svg().count("GIẤY BIÊN NHẬN HỒ SƠ") == 1


def test_qr_payload_carries_circular_01_2023_fields_and_no_national_id() -> None:
    d = dossier(7, LONG_NAME)
    r = receipt(80, d)
    fields = qr.parse_payload(r.qr_payload)
    assert fields == {
        "MHS": d.code,
        "MTT": "1.001776",
        "NNOP": "+8490*****67",
        "TEN": "CAP GIAY CHUNG NHAN QUYEN SU DUNG DAT, QUYEN SO HUU NHA O VA TAI SAN KHAC GAN"
        " LIEN VOI DAT LAN DAU",
        "HT": "HOSO",
        "TGC": "2024-04-23T08:30+07:00",
        "NHT": "2024-04-26",
        "URL": f"https://tracuu.example.vn/hs/{d.short_code}",
    }
    assert CODE_PATTERN.fullmatch(fields["MHS"])
    assert "0901234567" not in r.qr_payload
    assert "Nguyễn" not in r.qr_payload
    assert "NGUYEN" not in r.qr_payload


def test_qr_payload_upper_case_parts_go_in_alphanumeric_segments() -> None:
    payload = receipt(80).qr_payload
    segments = qr.segments(payload)
    assert "".join(text for text, _ in segments) == payload
    alnum = "".join(text for text, mode in segments if mode == "alphanumeric")
    assert "000.00.20.H57-240423-0001" in alnum
    assert "CAP BAN SAO TRICH LUC HO TICH" in alnum
    assert all(ch in qr.ALNUM for ch in alnum)
    one_segment = qr.encode(payload).version
    import segno

    single = segno.make(payload, error="M", boost_error=False).version
    assert isinstance(single, int)
    assert one_segment <= single


def test_qr_segments_handle_accents_and_empty_text() -> None:
    assert qr.segments("") == []
    text = "MHS:ABC\nTÊN:đất"
    assert "".join(t for t, _ in qr.segments(text)) == text


def test_texts_on_the_receipt() -> None:
    d = dossier(3)
    r = receipt(80, d)
    svg = r.svg()
    for expected in (
        "GIẤY BIÊN NHẬN HỒ SƠ",
        f"{d.short_code[:4]}-{d.short_code[4:]}",
        "Mã bí mật: ABCD2345",
        "Hẹn trả: 26/04/2024",
        "Ngày nhận: 23/04/2024 08:30",
        "In lúc: 23/04/2024 09:07",
        "+8490*****67",
    ):
        assert expected in svg
    assert f"Soạn HS {d.short_code[:4]}-{d.short_code[4:]} ABCD2345 gửi 8077" in r.footer[1]
    assert "0901234567" not in svg


def test_sms_syntax_printed_on_the_receipt_parses_as_a_lookup() -> None:
    d = dossier(5)
    line = receipt(80, d).footer[1]
    typed = line.split("Soạn ", 1)[1].split(" gửi")[0]
    command = sms_syntax.parse(typed)
    assert command == sms_syntax.Lookup(code_text=d.short_code, secret="ABCD2345")


def test_without_sms_number_the_syntax_has_no_destination() -> None:
    r = receipt(80, sms_number="")
    assert " gửi" not in r.footer[1]


@pytest.mark.parametrize("width_mm", [58, 80])
def test_long_procedure_names_wrap_inside_the_paper(width_mm: int) -> None:
    r = receipt(width_mm, dossier(9, LONG_NAME))
    page = np.asarray(r.image())
    assert page.shape[1] == r.width_dots
    svg_texts = re.findall(r"<text x=\"(\d+)\"", r.svg())
    assert svg_texts
    # nothing drawn past the right edge: the last column may be touched, never overflowed
    from gateway.receipts.fonts import text_width
    from gateway.receipts.layout import _Text

    for op in r.texts:
        if isinstance(op, _Text):
            assert op.x + text_width(op.text, op.size, op.bold) <= r.width_dots


@pytest.mark.parametrize("width_mm", [58, 80])
def test_svg_and_html_are_sized_for_the_paper(width_mm: int) -> None:
    r = receipt(width_mm)
    printable = PAPERS[width_mm].printable_dots / DOTS_PER_MM
    svg = r.svg()
    assert svg.startswith("<svg")
    assert svg.endswith("</svg>")
    assert f'width="{printable:g}mm"' in svg
    assert f'viewBox="0 0 {r.width_dots} {r.height_dots}"' in svg
    page = r.html()
    assert f"size: {width_mm}mm auto" in page
    assert f"width: {printable:g}mm" in page
    assert page.count("<svg") == 2
    assert "<!doctype html>" in page
    assert "Bến Nghé" in page
    assert r.dossier_code in page


def test_png_font_is_named() -> None:
    assert receipt(80).png_font  # "DejaVu Sans Book", or the accent-stripping fallback


def test_unknown_paper_width_is_refused() -> None:
    with pytest.raises(ValueError, match="paper width"):
        receipt(110)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        render_receipt(
            dossier(), tracking_url="https://x", office="o", printed_at=datetime(2024, 4, 23)
        )


def test_short_codes_printed_are_short_codes() -> None:
    for n in range(1, 200, 7):
        symbol = code128.encode(short_code(n))
        assert is_short_code(symbol.text)
        assert len(symbol.modules) <= 112
        assert symbol.width_modules * PAPERS[58].bar_module_dots <= PAPERS[58].printable_dots
        assert symbol.width_modules * PAPERS[80].bar_module_dots <= PAPERS[80].printable_dots
