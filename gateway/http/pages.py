"""Printable pages rendered on the server (no JavaScript): the handoff record."""

from __future__ import annotations

from html import escape

from gateway.core.dossier import Dossier
from gateway.core.handoffs import Handoff
from gateway.core.times import format_time

PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<title>Phiếu kiểm soát quá trình giải quyết hồ sơ {code}</title>
<style>
 body {{ font-family: "DejaVu Sans", Arial, sans-serif; margin: 1.5cm; font-size: 11pt; }}
 h1 {{ font-size: 14pt; text-align: center; text-transform: uppercase; }}
 table {{ border-collapse: collapse; width: 100%; }}
 th, td {{ border: 1px solid #000; padding: 4px 6px; vertical-align: top; }}
 th {{ background: #eee; }}
 td.late {{ font-weight: bold; }}
 @media print {{ body {{ margin: 1cm; }} }}
</style></head><body>
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
    return f"{value.total_seconds() / 3600:.1f}"  # type: ignore[attr-defined]


def render_handoffs(dossier: Dossier, rows: list[Handoff]) -> str:
    lines = []
    for i, h in enumerate(rows, 1):
        late = ' class="late"' if h.late else ""
        lines.append(
            "<tr>"
            f"<td>{i}</td><td>{escape(h.from_desk or 'Tiếp nhận')}</td><td>{escape(h.to_desk)}</td>"
            f"<td>{escape(h.handed_over_by or '')}</td><td>{escape(h.received_by or '')}</td>"
            f"<td>{escape(format_time(h.at))}</td><td{late}>{_hours(h.time_at_previous)}</td>"
            f"<td>{_hours(h.allowed_at_previous)}</td><td{late}>{'Trễ hạn' if h.late else ''}</td>"
            "</tr>"
        )
    return PAGE.format(
        code=escape(dossier.code),
        short=escape(dossier.short_code),
        procedure=escape(dossier.procedure_name),
        received=escape(format_time(dossier.received_at)),
        due=escape(format_time(dossier.due_at)),
        status=escape(dossier.status.label),
        rows="\n".join(lines) or '<tr><td colspan="9">Chưa có lần giao nhận nào.</td></tr>',
    )
