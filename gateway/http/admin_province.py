"""The leaders' province view (Vietnamese pages, CSV, JSON), under /admin/province:

- `/admin/province`: offices side by side — the figures of the national service index
  (Decision 766/QĐ-TTg): finished dossiers and the share finished on time, dossiers overdue now,
  average and 90th-percentile processing time, where dossiers wait — for every procedure or one
  (`?procedure=`), and the province's procedures;
- `/admin/province/<office>`: one office per procedure and per desk;
- `/admin/province/<office>/desk?name=<desk>`: the dossiers waiting at a desk, each linking to
  the dossier's page (`/admin/dossiers/<code>`).

Every table is also a CSV file (`?format=csv`, and `&table=` where a page has two): UTF-8 with a
byte order mark (so Excel reads Vietnamese), Vietnamese headers, plain numbers (a dot before
decimals, no thousands separator), a text that would be a spreadsheet formula made inert; the
pages write numbers the Vietnamese way (a decimal comma,
a dot between thousands). Times are Vietnam's, dd/mm/yyyy HH:MM, in both. The same data as
JSON under /admin/api/province.

The view functions (`province_rows`) take the offices the reader may see; here every logged-in
reader's role allows (`_visible`): an office's leader sees its own office only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from gateway.core.numbers import shown_number
from gateway.core.roles import Permission
from gateway.http import admin_auth as auth
from gateway.http.pages import when
from gateway.http.problems import Problem
from gateway.http.province_rows import desk_view, office_view, province_view

bp = Blueprint("admin_province", __name__, url_prefix="/admin")

auth.install_pages(bp)

# The service index's columns, in the order pages and CSV files show them.
FIGURE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("finished", "Đã giải quyết"),
    ("on_time", "Đúng hạn"),
    ("late", "Trễ hạn"),
    ("on_time_percent", "Tỷ lệ đúng hạn (%)"),
    ("open", "Đang giải quyết"),
    ("overdue", "Quá hạn hiện tại"),
    ("average_days", "Thời gian xử lý trung bình (ngày)"),
    ("p90_days", "Thời gian xử lý 90% hồ sơ (ngày)"),
)
OFFICE_COLUMNS = (
    ("office", "Mã đơn vị"),
    ("name", "Đơn vị"),
    *FIGURE_COLUMNS,
    ("busiest_desk", "Nơi tồn nhiều hồ sơ nhất"),
    ("busiest_desk_open", "Số hồ sơ tồn tại đó"),
)
PROCEDURE_COLUMNS = (
    ("procedure_code", "Mã thủ tục"),
    ("procedure_name", "Thủ tục"),
    *FIGURE_COLUMNS,
)
PROVINCE_PROCEDURE_COLUMNS = (*PROCEDURE_COLUMNS, ("offices", "Số đơn vị"))
DESK_COLUMNS = (("desk_label", "Quầy / bộ phận"), *FIGURE_COLUMNS)
DOSSIER_COLUMNS = (
    ("code", "Mã hồ sơ"),
    ("short_code", "Mã ngắn"),
    ("procedure_name", "Thủ tục"),
    ("status_label", "Trạng thái"),
    ("received_at", "Ngày tiếp nhận"),
    ("due_at", "Ngày hẹn trả"),
    ("late_days", "Số ngày quá hạn"),
)
TIME_COLUMNS = frozenset({"received_at", "due_at"})
BOM = "\ufeff"


def _visible() -> Collection[str] | None:
    """The offices the logged-in reader may see (`admin_auth.visible_offices`): None for every
    one (province roles), else its own; another office's pages answer as an unknown one's."""
    return auth.visible_offices()


def vn_number(value: object, digits: int = 2) -> str:
    """A number as a Vietnamese page writes it: 1.234,5 (dot between thousands, decimal comma);
    "–" for none."""
    if value is None:
        return "–"
    if isinstance(value, int) and not isinstance(value, bool):
        return shown_number(value, 0)
    if isinstance(value, float):
        return shown_number(value, digits, trim=False)
    return str(value)


bp.add_app_template_filter(vn_number, "vn_number")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _plain(column: str, value: object) -> str:
    """A cell as the CSV file holds it; a text a spreadsheet would run as a formula (a desk or
    procedure named "=HYPERLINK(...)" by a department's system) is written with a leading
    apostrophe, so it is shown, never run."""
    if value is None:
        return ""
    if column in TIME_COLUMNS:
        return when(value)
    text = str(value)
    if isinstance(value, str) and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_answer(
    filename: str, columns: Sequence[tuple[str, str]], rows: Iterable[dict[str, Any]]
) -> Response:
    """A table as a CSV file Excel opens with its Vietnamese intact."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([label for _, label in columns])
    for row in rows:
        writer.writerow([_plain(key, row.get(key)) for key, _ in columns])
    return Response(
        BOM + out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _wants_csv() -> bool:
    return request.args.get("format") == "csv"


def _not_found() -> Response:
    if auth.is_api():
        raise Problem(404, "not-found", "Not Found", "No such office or desk.")
    page = render_template(
        "admin/error.html", message="Không có đơn vị hoặc quầy này.", title="Không tìm thấy"
    )
    return Response(page, status=404, mimetype="text/html")


@bp.get("/province")
@auth.login_required(Permission.READ_CHARTS)
def province_page() -> ResponseReturnValue:
    data = province_view(_visible(), request.args.get("procedure") or None)
    if _wants_csv():
        if request.args.get("table") == "procedures":
            return csv_answer(
                "toan-tinh-thu-tuc.csv", PROVINCE_PROCEDURE_COLUMNS, data["procedures"]
            )
        suffix = f"-{data['procedure']}" if data["procedure"] else ""
        return csv_answer(f"toan-tinh-don-vi{suffix}.csv", OFFICE_COLUMNS, data["offices"])
    return render_template("admin/province.html", data=data, figure_columns=FIGURE_COLUMNS)


@bp.get("/province/<office>")
@auth.login_required(Permission.READ_CHARTS)
def office_page(office: str) -> ResponseReturnValue:
    data = office_view(office, _visible())
    if data is None:
        return _not_found()
    if _wants_csv():
        if request.args.get("table") == "desks":
            return csv_answer(f"{office}-quay.csv", DESK_COLUMNS, data["desks"])
        return csv_answer(f"{office}-thu-tuc.csv", PROCEDURE_COLUMNS, data["procedures"])
    return render_template("admin/province_office.html", data=data, figure_columns=FIGURE_COLUMNS)


@bp.get("/province/<office>/desk")
@auth.login_required(Permission.READ_CHARTS)
def desk_page(office: str) -> ResponseReturnValue:
    name = request.args.get("name")
    data = None if name is None else desk_view(office, name, _visible())
    if data is None:
        return _not_found()
    if _wants_csv():
        return csv_answer(f"{office}-quay-ho-so.csv", DOSSIER_COLUMNS, data["dossiers"])
    return render_template("admin/province_desk.html", data=data)


@bp.get("/api/province")
@auth.login_required(Permission.READ_CHARTS)
def api_province() -> ResponseReturnValue:
    return jsonify(province_view(_visible(), request.args.get("procedure") or None))


@bp.get("/api/province/<office>")
@auth.login_required(Permission.READ_CHARTS)
def api_office(office: str) -> ResponseReturnValue:
    data = office_view(office, _visible())
    return _not_found() if data is None else jsonify(data)


@bp.get("/api/province/<office>/desk")
@auth.login_required(Permission.READ_CHARTS)
def api_desk(office: str) -> ResponseReturnValue:
    name = request.args.get("name")
    data = None if name is None else desk_view(office, name, _visible())
    return _not_found() if data is None else jsonify(data)
