"""A counter station's own settings as the gateway keeps them (`hoso stations set`): the station
asks at start which desk it stands for, and shows it to the counter."""

from __future__ import annotations

from flask import Blueprint, Response, g

from gateway.http.answers import json_answer, status_ref
from gateway.http.context import services
from gateway.http.signed import signed
from gateway.store.credentials import ClientKind

bp = Blueprint("stations", __name__, url_prefix="/api/v1/stations")


@bp.get("/me")
@signed(ClientKind.STATION)
def own_settings() -> Response:
    """The settings of the station the key was made for (an unconfigured station hands the
    paper to a desk named after its id: ``configured`` is false then)."""
    stations = services().stations
    found = stations.find(g.client.owner)
    station = found or stations.get(g.client.owner)
    status = station.implied_status()
    answer = {
        "station_id": station.id,
        "desk": station.desk,
        "name": station.name,
        "status": None if status is None else status_ref(status),
        "allowed_hours": station.allowed_hours,
        "configured": found is not None,
    }
    return json_answer(answer, 200)
