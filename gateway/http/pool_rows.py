"""The modem pool as the dashboard shows it: one row per modem (settings now, health, counters,
queue, notes), for the pool page and GET /admin/api/modems. Only the modems of the offices the
user sees (`admin_auth.visible_offices`): a modem of the province's shared pool (no office) is
seen by province roles only; any other modem is unknown (404) to the user."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from config.settings import ModemSettings
from gateway.core.modem_limits import modem_notes
from gateway.core.modem_words import error_label, sim_label
from gateway.core.office_routes import modem_pool
from gateway.core.roles import SHARED_POOL, sees
from gateway.http import admin_auth as auth
from gateway.http.context import services
from gateway.http.problems import Problem


def _now() -> datetime:
    return datetime.fromtimestamp(services().clock(), UTC)


def _state(enabled: bool, quarantine: str | None, reported: str | None) -> str:
    if not enabled:
        return "disabled"
    if quarantine:
        return "quarantined"
    if reported == "up":
        return "up"
    if reported == "disabled":  # re-enabled; the service has not taken it back yet
        return "pending"
    return "down"


def modem_rows() -> list[dict[str, Any]]:
    """Every modem: its settings now (file + live changes), its health, counters and queue.
    A modem no file names (an emulated one, or one another host's file names) has the settings
    its service gives it: the defaults with the live changes over them, on its reported port."""
    svc = services()
    registry = svc.modems
    outbox = svc.outbox
    now = _now()
    ids = sorted({m.id for m in svc.settings.modems} | set(registry.known()))
    health = {modem: registry.health(modem) for modem in ids}
    in_file = {m.id for m in svc.settings.modems}
    live = registry.live_changes()
    reported = [
        ModemSettings(id=modem, port=health[modem].get("port") or "")
        for modem in ids
        if modem not in in_file
    ]
    pool = {m.id: m for m in registry.effective([*svc.settings.modems, *reported])}
    visible = auth.visible_offices()
    rows = []
    for modem in ids:
        h = health[modem]
        settings = pool[modem]
        office = settings.office or SHARED_POOL
        if not sees(visible, office):
            continue
        quarantine = registry.quarantined(modem)
        reported_state = h.get("state") or None  # None: no report for 30 s
        registered = h.get("registered")
        rows.append(
            {
                "id": modem,
                "state": _state(settings.enabled, quarantine, reported_state),
                "reported_state": reported_state,
                "enabled": settings.enabled,
                "configured": modem in in_file or "port" in live.get(modem, {}),
                "changed_live": modem in live,
                "resettable": modem in live and "port" not in live[modem],  # not added live
                "port": settings.port or h.get("port") or None,
                "carrier": settings.carrier or None,
                "signal_dbm": reported_int(h.get("signal_dbm")),
                "operator": h.get("operator") or None,
                "registered": None if not registered else registered == "1",
                "roaming": h.get("roaming") == "1",
                "sim": h.get("sim") or None,  # the modem's words (+CPIN:), shown small
                "sim_text": sim_label(h.get("sim")),
                "sent_today": registry.sent_today(modem, now),
                "per_minute": settings.per_minute,
                "per_hour": settings.per_hour,
                "per_day": settings.per_day,
                "queue": outbox.depth(modem),
                # its office ("" : the province's shared pool) and what waits for its pool
                "office": settings.office or None,
                "pool_queue": outbox.depth(modem_pool(settings.office) or None),
                "quarantine": quarantine,
                "last_error": h.get("last_error") or None,
                "last_error_text": error_label(h.get("last_error")),
                "updated_at": h.get("updated_at") or None,
                "notes": modem_notes(h, registry.balance(modem)),
            }
        )
    return rows


def reported_int(value: str | None) -> int | None:
    """A number a process published with its health ("" or garbage: None)."""
    try:
        return int(value) if value else None
    except ValueError:
        return None


def modem_row(modem: str) -> dict[str, Any]:
    for row in modem_rows():
        if row["id"] == modem:
            return row
    raise Problem(404, "unknown-modem", "No such modem", f"No modem {modem} in the pool.")
