"""The leaders' province view as rows: offices side by side, an office's procedures and desks, the
dossiers waiting at a desk; read from the figures the dossier scripts keep
(`gateway.store.province`), never from every dossier.

Each function takes the offices its reader may see (`visible`: None = every office); an office
outside them is not found, exactly like one that does not exist. Numbers are plain here (days
as floats, rates 0..100); the page shows them with a Vietnamese decimal comma, the CSV plain.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from gateway.core.service_index import NO_DESK, Figures, to_ms
from gateway.core.times import format_time
from gateway.http.context import services
from gateway.store.errors import UnknownDossier
from gateway.store.province import DESK, OFFICE, PROCEDURE, ProvinceFigures, Row

NO_DESK_LABEL = "(chưa qua quầy nào)"
WAITING_LIMIT = 500
DAY = 86_400


def _now() -> datetime:
    return datetime.fromtimestamp(services().clock(), UTC)


def _figures() -> ProvinceFigures:
    return ProvinceFigures(services().redis)


def _days(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / DAY, 2)


def figures_row(row: Row) -> dict[str, Any]:
    """The service index's figures of one row, plain."""
    f = row.figures
    rate = f.on_time_rate
    return {
        "finished": f.finished,
        "on_time": f.on_time,
        "late": f.finished - f.on_time,
        "on_time_percent": None if rate is None else round(100 * rate, 1),
        "open": row.open,
        "overdue": row.overdue,
        "average_days": _days(f.average_seconds),
        "p90_days": _days(f.p90_seconds),
    }


def desk_label(desk: str) -> str:
    return NO_DESK_LABEL if desk == NO_DESK else desk


def _visible_offices(visible: Collection[str] | None) -> list[tuple[str, str]]:
    """(id, name) of the offices to show: saved ones and those with figures, in scope."""
    saved = {o.id: o.name for o in services().offices.all()}
    ids = set(saved) | _figures().offices()
    if visible is not None:
        ids &= set(visible)
    return sorted(((i, saved.get(i, i)) for i in ids), key=lambda pair: pair[0])


def office_name(office: str, visible: Collection[str] | None) -> str | None:
    """The office's name, or None if it is not shown to this reader (or does not exist)."""
    return dict(_visible_offices(visible)).get(office)


def province_view(visible: Collection[str] | None, procedure: str | None = None) -> dict[str, Any]:
    """Offices side by side (figures of one procedure when `procedure` names a known one), the
    procedures of the province (every visible office together) and where dossiers wait."""
    now = _now()
    now_ms = to_ms(now)
    figures = _figures()
    offices = _visible_offices(visible)
    names: dict[str, str] = {}
    pairs: list[tuple[str, str]] = []
    desk_pairs: list[tuple[str, str]] = []
    ids = [office for office, _ in offices]
    desks_of = figures.desks_of(ids)
    for office, procedures in figures.procedures_of(ids).items():
        names.update(procedures)
        pairs.extend((office, code) for code in procedures)
        desk_pairs.extend((office, desk) for desk in desks_of[office])
    chosen = procedure if procedure in names else None
    if chosen is None:
        office_rows = figures.rows(OFFICE, [(o, "") for o, _ in offices], now_ms)
    else:
        office_rows = figures.rows(PROCEDURE, [(o, chosen) for o, _ in offices], now_ms)
    busiest: dict[str, tuple[int, str]] = {}
    for (office, desk), row in zip(desk_pairs, figures.rows(DESK, desk_pairs, now_ms), strict=True):
        if row.open and row.open > busiest.get(office, (0, ""))[0]:
            busiest[office] = (row.open, desk)
    by_procedure: dict[str, list[Row]] = defaultdict(list)
    for (_, code), row in zip(pairs, figures.rows(PROCEDURE, pairs, now_ms), strict=True):
        by_procedure[code].append(row)
    rows = []
    for (office, name), row in zip(offices, office_rows, strict=True):
        open_at, desk = busiest.get(office, (0, ""))
        rows.append(
            {"office": office, "name": name}
            | figures_row(row)
            | {
                "busiest_desk": desk_label(desk) if open_at else None,
                "busiest_desk_key": desk if open_at else None,
                "busiest_desk_open": open_at,
            }
        )
    procedure_rows = []
    for code in sorted(by_procedure, key=lambda c: (names[c], c)):
        found = by_procedure[code]
        total = Row(
            code,
            sum((r.figures for r in found), Figures()),
            sum(r.open for r in found),
            sum(r.overdue for r in found),
        )
        procedure_rows.append(
            {"procedure_code": code, "procedure_name": names[code], "offices": len(found)}
            | figures_row(total)
        )
    total = Row(
        "",
        sum((r.figures for r in office_rows), Figures()),
        sum(r.open for r in office_rows),
        sum(r.overdue for r in office_rows),
    )
    return {
        "at": format_time(now),
        "procedure": chosen,
        "procedure_name": names.get(chosen or ""),
        "procedures_known": sorted(names.items(), key=lambda p: (p[1], p[0])),
        "offices": rows,
        "total": figures_row(total),
        "procedures": procedure_rows,
    }


def office_view(office_id: str, visible: Collection[str] | None) -> dict[str, Any] | None:
    """One office: its figures, per procedure and per desk; None if not shown to this reader."""
    name = office_name(office_id, visible)
    if name is None:
        return None
    now = _now()
    now_ms = to_ms(now)
    figures = _figures()
    procedures = figures.procedures(office_id)
    codes = sorted(procedures, key=lambda c: (procedures[c], c))
    desks = sorted(figures.desks(office_id))
    (whole,) = figures.rows(OFFICE, [(office_id, "")], now_ms)
    procedure_rows = [
        {"procedure_code": code, "procedure_name": procedures[code]} | figures_row(row)
        for code, row in zip(
            codes, figures.rows(PROCEDURE, [(office_id, c) for c in codes], now_ms), strict=True
        )
    ]
    desk_rows = [
        {"desk": desk, "desk_label": desk_label(desk)} | figures_row(row)
        for desk, row in zip(
            desks, figures.rows(DESK, [(office_id, d) for d in desks], now_ms), strict=True
        )
        if row.open or row.figures.finished
    ]
    return {
        "at": format_time(now),
        "office": office_id,
        "name": name,
        "total": figures_row(whole),
        "procedures": procedure_rows,
        "desks": desk_rows,
    }


def desk_view(
    office_id: str, desk_name: str, visible: Collection[str] | None
) -> dict[str, Any] | None:
    """The open dossiers waiting at a desk of an office, the earliest due first (at most
    `WAITING_LIMIT`); None if the office is not shown to this reader or has no such desk."""
    name = office_name(office_id, visible)
    figures = _figures()
    if name is None or desk_name not in figures.desks(office_id):
        return None
    now = _now()
    waiting, truncated = figures.waiting(office_id, desk_name, WAITING_LIMIT)
    store = services().dossiers
    rows = []
    for code, _ in waiting:
        try:
            d = store.get(code)
        except UnknownDossier:
            continue
        late = now - d.due_at
        rows.append(
            {
                "code": d.code,
                "short_code": d.short_code,
                "procedure_code": d.procedure_code,
                "procedure_name": d.procedure_name,
                "status": int(d.status),
                "status_label": d.status.label,
                "received_at": format_time(d.received_at),
                "due_at": format_time(d.due_at),
                "overdue": d.is_overdue(now),
                "late_days": round(late.total_seconds() / DAY, 2) if d.is_overdue(now) else None,
            }
        )
    return {
        "at": format_time(now),
        "office": office_id,
        "name": name,
        "desk": desk_name,
        "desk_label": desk_label(desk_name),
        "dossiers": rows,
        "truncated": truncated,
        "limit": WAITING_LIMIT,
    }
