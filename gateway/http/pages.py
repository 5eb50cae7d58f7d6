"""What every answer of the gateway shares, and the printable page rendered without a template.

- Security headers on EVERY response of the app (dashboard, citizen page, API, /metrics,
  errors), set here once by `install`: a strict Content-Security-Policy (scripts and styles from
  our own files only, nothing inline; the printable pages made by code - the handoff record and
  the receipt, `PRINTABLE` - keep their stylesheet inline so that a saved copy prints alike, and
  their answer allows exactly that stylesheet by its hash), `frame-ancestors 'none'` and
  `X-Frame-Options: DENY` (no page can be framed, so none can be clickjacked),
  `X-Content-Type-Options: nosniff` and `Referrer-Policy: same-origin`.
- The Jinja filters every template uses to show values to a person, so that one rule formats
  each kind of value everywhere: `when` (a time: Vietnam's local time, dd/mm/yyyy HH:MM, from
  `gateway.core.times.shown_time`), `day` (dd/mm/yyyy) and `status_label` (a national status
  code's Vietnamese label).
- The printable handoff record (phiếu kiểm soát), served by the department API.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime
from html import escape

from flask import Flask, Response, request

from gateway.core.dossier import Dossier
from gateway.core.handoffs import Handoff
from gateway.core.numbers import shown_number
from gateway.core.status import Status
from gateway.core.times import shown_date, shown_time

NOTHING = "–"

PRINT_CSS = """
 body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 1.5cm; font-size: 11pt; }
 h1 { font-size: 14pt; text-align: center; text-transform: uppercase; }
 table { border-collapse: collapse; width: 100%; }
 th, td { border: 1px solid #000; padding: 4px 6px; vertical-align: top; }
 th { background: #eee; }
 td.late { font-weight: bold; }
 @media print { body { margin: 1cm; } }
"""


def _style_hash(css: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode() + "'"


def content_security_policy(inline_styles: tuple[str, ...] = ()) -> str:
    styles = " ".join(["'self'", *(_style_hash(css) for css in inline_styles)])
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            f"style-src {styles}",
            "img-src 'self' data:",
            "connect-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        )
    )


CONTENT_SECURITY_POLICY = content_security_policy()
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Views whose HTML is made by code with a stylesheet written by code (no request data in it).
PRINTABLE = frozenset({"dossiers.handoff_record", "receipts.receipt"})
STYLE = re.compile(r"<style>(.*?)</style>", re.S)


def install(app: Flask) -> None:
    """The security headers on every response and the display filters in every template."""

    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers[name] = value
        if request.endpoint in PRINTABLE and response.mimetype == "text/html":
            styles = tuple(STYLE.findall(response.get_data(as_text=True)))
            response.headers["Content-Security-Policy"] = content_security_policy(styles)
        return response

    app.add_template_filter(when, "when")
    app.add_template_filter(day, "day")
    app.add_template_filter(status_label, "status_label")
    app.add_template_filter(shown_number, "number")


# -- showing values to a person ----------------------------------------------------------------


def _as_time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else None
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else None
    return None


def when(value: object) -> str:
    """A time (a datetime or the ISO 8601 text the store keeps) as a person reads it; "–" for
    none. A text that is not a time with an offset is never shown raw: it reads as unknown."""
    found = _as_time(value)
    return NOTHING if found is None else shown_time(found)


def day(value: object) -> str:
    found = _as_time(value)
    return NOTHING if found is None else shown_date(found)


def status_label(value: object) -> str:
    """A national status code (int or digits) as its Vietnamese label; "–" for none."""
    try:
        return Status(int(str(value))).label
    except ValueError:
        return NOTHING


# -- the printable handoff record --------------------------------------------------------------

PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<title>Phiếu kiểm soát quá trình giải quyết hồ sơ {code}</title>
<style>{css}</style></head><body>
<h1>Phiếu kiểm soát quá trình giải quyết hồ sơ</h1>
<p>Mã hồ sơ: <b>{code}</b> ({short}) &middot; Thủ tục: {procedure}<br>
Ngày nhận: {received} &middot; Ngày hẹn trả: {due} &middot; Trạng thái: {status}</p>
<table>
<tr><th>#</th><th>Tên cơ quan, bộ phận giao</th><th>Tên cơ quan, bộ phận nhận</th>
<th>Người giao</th><th>Người nhận</th><th>Thời gian giao, nhận</th>
<th>Thời gian ở bước trước (giờ)</th><th>Thời gian cho phép (giờ)</th><th>Ghi chú</th></tr>
{rows}
</table>
</body></html>
"""


def _hours(value: object) -> str:
    if value is None:
        return ""
    return shown_number(value.total_seconds() / 3600, 1)  # type: ignore[attr-defined]


def render_handoffs(dossier: Dossier, rows: list[Handoff]) -> str:
    lines = []
    for i, h in enumerate(rows, 1):
        late = ' class="late"' if h.late else ""
        lines.append(
            "<tr>"
            f"<td>{i}</td><td>{escape(h.from_desk or 'Tiếp nhận')}</td><td>{escape(h.to_desk)}</td>"
            f"<td>{escape(h.handed_over_by or '')}</td><td>{escape(h.received_by or '')}</td>"
            f"<td>{escape(shown_time(h.at))}</td><td{late}>{_hours(h.time_at_previous)}</td>"
            f"<td>{_hours(h.allowed_at_previous)}</td><td{late}>{'Trễ hạn' if h.late else ''}</td>"
            "</tr>"
        )
    return PAGE.format(
        css=PRINT_CSS,
        code=escape(dossier.code),
        short=escape(dossier.short_code),
        procedure=escape(dossier.procedure_name),
        received=escape(shown_time(dossier.received_at)),
        due=escape(shown_time(dossier.due_at)),
        status=escape(dossier.status.label),
        rows="\n".join(lines) or '<tr><td colspan="9">Chưa có lần giao nhận nào.</td></tr>',
    )
