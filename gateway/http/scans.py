"""Counter stations' scans: each is a handoff of the paper to the station's desk."""

from __future__ import annotations

from flask import Blueprint, Response, g

from gateway.core.events import parse_scan
from gateway.http.answers import json_answer, now, status_ref
from gateway.http.bodies import json_body
from gateway.http.context import services
from gateway.http.idempotent import idempotent
from gateway.http.problems import Problem
from gateway.http.signed import signed
from gateway.store import metrics
from gateway.store.credentials import ClientKind
from gateway.store.dossiers import ANY_DEPARTMENT
from gateway.store.errors import UnknownDossier

bp = Blueprint("scans", __name__, url_prefix="/api/v1/scans")


@bp.post("")
@signed(ClientKind.STATION)
@idempotent
def record_scan() -> Response:
    body = json_body("Scan")
    station_id = body["station_id"]
    if station_id != g.client.owner:
        raise Problem(
            422, "invalid-field", "Invalid field", "station_id: not the station this key is for"
        )
    svc = services()
    station = svc.stations.get(station_id)
    event = parse_scan(body, station_id, station.desk, station.implied_status())
    code = svc.dossiers.find(body["code"])
    if code is None:
        raise UnknownDossier(body["code"])
    recorded = svc.dossiers.apply(code, event, ANY_DEPARTMENT, now())
    if not recorded.repeated:
        metrics.scan_recorded(svc.redis, station_id)
    dossier = svc.dossiers.get(code)
    answer = {
        "station_id": station_id,
        "seq": body["seq"],
        "code": code,
        "short_code": dossier.short_code,
        "status": status_ref(dossier.status),
        "holder": dossier.holder,
        "desk": station.desk,
        "current": recorded.current,
    }
    return json_answer(answer, 200 if recorded.repeated else 201)
