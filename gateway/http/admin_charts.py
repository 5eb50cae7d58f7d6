"""Charts for office leaders and for the modem pool, drawn on the server as SVG (no JS).

- Where dossiers wait: the open dossiers by appointment (`DossierStore.open_by_due`, at most
  `MAX_DOSSIERS`, the earliest due first, so every overdue one comes first), each with its
  current desk (the last handoff of its history) and the hours since that handoff, against the
  hours the desk is allowed (`Stations.allowed_hours_by_desk`).
  Overdue dossiers (past their appointment, not finished, whatever SMS went out) per desk and
  per procedure; dossiers at risk (not finished, due within `RISK_HOURS`, not yet past) too.
- The modem pool: messages per hour per modem over the last 24 hours (the per-hour sent
  counters of `ModemRegistry`, kept for two days), errors per modem and the signal (metrics).

`GET /admin/charts` is the page, `GET /admin/api/charts` the same numbers as JSON. Only the
dossiers of the offices the user sees count (`admin_auth.visible_offices`: a province leader's
are every office's), and only the modems it sees, for those who read the setup (a leader reads
no modem).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, jsonify, render_template
from flask.typing import ResponseReturnValue

from gateway.core.handoffs import handoffs
from gateway.core.roles import SHARED_POOL, Permission, sees
from gateway.core.status import SETTLED
from gateway.core.times import format_time, shown_time
from gateway.http import admin_auth as auth
from gateway.http import svg_charts
from gateway.http.context import services
from gateway.http.dossier_rows import open_by_due
from gateway.store import metrics
from gateway.store.errors import CorruptRecord, UnknownDossier

bp = Blueprint("admin_charts", __name__, url_prefix="/admin")

MAX_DOSSIERS = 2_000
RISK_HOURS = 24
WORKING_DAY_HOURS = 8.0  # the wait chart's scale reaches at least this
HOURS_SHOWN = 24
NO_DESK = "(chưa qua quầy nào)"


auth.install_pages(bp)


def _now() -> datetime:
    return datetime.fromtimestamp(services().clock(), UTC)


def desk_figures(now: datetime) -> dict[str, Any]:
    """Per desk: open dossiers there, average and longest hours there, allowed hours, how many
    have been there longer than allowed; dossiers at risk per desk and per procedure."""
    svc = services()
    visible = auth.visible_offices()
    allowed = svc.stations.allowed_hours_by_desk()
    codes, truncated = open_by_due(None, MAX_DOSSIERS)
    waits: dict[str, list[float]] = defaultdict(list)
    overdue_desk: dict[str, int] = defaultdict(int)
    overdue_procedure: dict[str, int] = defaultdict(int)
    risk_desk: dict[str, int] = defaultdict(int)
    risk_procedure: dict[str, int] = defaultdict(int)
    counted = 0
    for code in codes:
        try:
            dossier, history = svc.dossiers.get_with_history(code)
        except (UnknownDossier, CorruptRecord):
            continue
        if dossier.status in SETTLED or not sees(visible, dossier.office):
            continue
        counted += 1
        moves = handoffs(history, allowed)
        desk = moves[-1].to_desk if moves else NO_DESK
        since = moves[-1].at if moves else dossier.received_at
        waits[desk].append(max(0.0, (now - since).total_seconds() / 3600))
        if dossier.is_overdue(now):
            overdue_desk[desk] += 1
            overdue_procedure[dossier.procedure_name or dossier.procedure_code] += 1
        elif now <= dossier.due_at <= now + timedelta(hours=RISK_HOURS):
            risk_desk[desk] += 1
            risk_procedure[dossier.procedure_name or dossier.procedure_code] += 1
    rows = []
    for desk in sorted(waits):
        hours = waits[desk]
        limit = allowed.get(desk)
        rows.append(
            {
                "desk": desk,
                "dossiers": len(hours),
                "average_hours": round(sum(hours) / len(hours), 1),
                "longest_hours": round(max(hours), 1),
                "allowed_hours": limit,
                "over_allowed": 0 if limit is None else sum(1 for h in hours if h > limit),
                "overdue": overdue_desk.get(desk, 0),
                "at_risk": risk_desk.get(desk, 0),
            }
        )
    return {
        "open_dossiers": counted,
        "limit": MAX_DOSSIERS,
        "truncated": truncated,
        "overdue": sum(overdue_desk.values()),
        "desks": rows,
        "overdue_by_desk": dict(sorted(overdue_desk.items())),
        "overdue_by_procedure": dict(sorted(overdue_procedure.items())),
        "at_risk_by_desk": dict(sorted(risk_desk.items())),
        "at_risk_by_procedure": dict(sorted(risk_procedure.items())),
    }


def modem_figures(now: datetime) -> dict[str, Any]:
    """Per modem: the sent counts of each of the last 24 hours (oldest first), errors, signal."""
    svc = services()
    registry = svc.modems
    visible = auth.visible_offices()
    offices = {
        m.id: str(getattr(m, "office", "") or SHARED_POOL)
        for m in registry.effective(svc.settings.modems)
    }
    snapshot = {m.modem: m for m in metrics.read(svc.redis, int(now.timestamp() * 1000)).modems}
    if not auth.may(Permission.READ_SETUP):
        snapshot = {}
    hours = [now - timedelta(hours=HOURS_SHOWN - 1 - i) for i in range(HOURS_SHOWN)]
    labels = [shown_time(h.replace(minute=0, second=0, microsecond=0)) for h in hours]
    rows = []
    known = set(registry.known()) if auth.may(Permission.READ_SETUP) else set()
    for modem in sorted(known | set(snapshot)):
        if not sees(visible, offices.get(modem, SHARED_POOL)):
            continue
        counts = registry.sent_per_hour(modem, hours)
        figures = snapshot.get(modem)
        rows.append(
            {
                "modem": modem,
                "hourly": [
                    {"hour": label, "sent": c} for label, c in zip(labels, counts, strict=True)
                ],
                "sent_last_day": sum(counts),
                "errors": {k: v for k, v in figures.errors.items() if v} if figures else {},
                "error_total": sum(figures.errors.values()) if figures else 0,
                "signal_dbm": figures.signal_dbm if figures else None,
                "state": figures.state if figures else "",
            }
        )
    return {"hours": labels, "modems": rows}


def charts(now: datetime) -> dict[str, Any]:
    return {"at": format_time(now), "desks": desk_figures(now), "modems": modem_figures(now)}


def _svgs(data: dict[str, Any]) -> dict[str, Any]:
    desks = data["desks"]["desks"]
    modems = data["modems"]["modems"]
    return {
        "wait": svg_charts.bar_chart(
            "Số giờ trung bình hồ sơ đang nằm tại mỗi quầy (vạch đỏ: thời gian cho phép)",
            [(d["desk"], d["average_hours"]) for d in desks],
            {d["desk"]: d["allowed_hours"] for d in desks if d["allowed_hours"] is not None},
            " giờ",
            least_top=WORKING_DAY_HOURS,
            axis_label="Số giờ",
        ),
        "overdue": svg_charts.bar_chart(
            "Hồ sơ quá hạn chưa giải quyết xong theo quầy",
            list(data["desks"]["overdue_by_desk"].items()),
            axis_label="Số hồ sơ",
        ),
        "risk": svg_charts.bar_chart(
            f"Hồ sơ sắp trễ hạn (hạn trong {RISK_HOURS} giờ tới) theo quầy",
            list(data["desks"]["at_risk_by_desk"].items()),
            axis_label="Số hồ sơ",
        ),
        "errors": svg_charts.bar_chart(
            "Số lỗi gửi theo modem",
            [(m["modem"], m["error_total"]) for m in modems],
            axis_label="Số lỗi",
        ),
        "hourly": {
            m["modem"]: svg_charts.bar_chart(
                f"Modem {m['modem']}: tin nhắn mỗi giờ (24 giờ qua, giờ bắt đầu)",
                [(h["hour"], h["sent"]) for h in m["hourly"]],
                axis_label="Số tin nhắn",
            )
            for m in modems
        },
    }


@bp.get("/charts")
@auth.login_required(Permission.READ_CHARTS)
def charts_page() -> ResponseReturnValue:
    data = charts(_now())
    return render_template(
        "admin/charts.html", data=data, svg=_svgs(data), risk_hours=RISK_HOURS, live=True
    )


@bp.get("/api/charts")
@auth.login_required(Permission.READ_CHARTS)
def api_charts() -> ResponseReturnValue:
    return jsonify(charts(_now()))
