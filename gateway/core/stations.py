"""Counter stations as the gateway knows them: which desk each one stands for, the status a scan
there implies (if any), and how long a dossier may stay at that desk; and the rules a station's
settings keep, whoever sets them (`make_station`: the dashboard, the admin API and `hoso stations
set` alike; `check_station` again when the store saves one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway.core.errors import CoreError
from gateway.core.offices import DEFAULT_OFFICE
from gateway.core.status import Status

MAX_ID = 100
MAX_DESK = 200
MAX_NAME = 200
MAX_ALLOWED_HOURS = 24 * 365


class InvalidStation(CoreError):
    """Station settings that cannot be saved; `field` names the first one wrong."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Station:
    id: str
    desk: str  # where the paper is when it is scanned here ("Phòng Tư pháp")
    name: str = ""
    status: int | None = None  # the status a scan here implies (e.g. 9 at the result counter)
    allowed_hours: float | None = None  # how long a dossier may stay at this desk
    office: str = DEFAULT_OFFICE  # whose station it is (seen by that office's people only)

    def implied_status(self) -> Status | None:
        return None if self.status is None else Status(self.status)


def make_station(fields: Mapping[str, object], office: str = DEFAULT_OFFICE) -> Station:
    """A station of `office` (an office id the caller checked) from typed or JSON fields (id,
    desk, name, status, allowed_hours; "" or None for none), checked; `InvalidStation` says
    what is wrong."""
    station_id = fields.get("id")
    if not isinstance(station_id, str) or not station_id.strip() or len(station_id) > MAX_ID:
        raise _bad_id()
    desk = fields.get("desk")
    if not isinstance(desk, str) or not desk.strip() or len(desk) > MAX_DESK:
        raise _bad_desk()
    name = fields.get("name") or ""
    if not isinstance(name, str) or len(name) > MAX_NAME:
        raise _bad_name()
    try:
        raw_status = fields.get("status")
        status = None if raw_status in (None, "") else int(raw_status)  # type: ignore[call-overload]
        raw_hours = fields.get("allowed_hours")
        hours = None if raw_hours in (None, "") else float(raw_hours)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise _bad_numbers() from exc
    return check_station(
        Station(station_id.strip(), desk.strip(), name.strip(), status, hours, office)
    )


def check_station(station: Station) -> Station:
    """`station` if its settings keep the rules, else `InvalidStation`."""
    if not station.id.strip() or len(station.id) > MAX_ID:
        raise _bad_id()
    if not station.desk.strip() or len(station.desk) > MAX_DESK:
        raise _bad_desk()
    if len(station.name) > MAX_NAME:
        raise _bad_name()
    if station.status is not None:
        try:
            Status(station.status)
        except ValueError as exc:
            raise _bad_numbers() from exc
    hours = station.allowed_hours
    if hours is not None and not 0 < hours <= MAX_ALLOWED_HOURS:
        raise InvalidStation("allowed_hours", "allowed_hours must be more than 0.")
    return station


def _bad_id() -> InvalidStation:
    return InvalidStation("id", f"id: the station id (1 to {MAX_ID} characters).")


def _bad_desk() -> InvalidStation:
    return InvalidStation(
        "desk", f"desk: the desk the station stands for (1 to {MAX_DESK} characters)."
    )


def _bad_name() -> InvalidStation:
    return InvalidStation("name", f"name: up to {MAX_NAME} characters.")


def _bad_numbers() -> InvalidStation:
    return InvalidStation("status", "status must be a status code; allowed_hours a number.")
