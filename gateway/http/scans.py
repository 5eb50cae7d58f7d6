"""Counter stations' scans: each is a handoff of the paper to the station's desk.

Every answer says what the scan did, as ``outcome``, so that the station can tell the counter:

- ``moved`` (201/200): the scan is the dossier's latest news; the dossier is at the station's
  desk (and in the status the station implies, if any);
- ``out-of-order`` (201/200): recorded in the handoff record, but the dossier already has a
  later event, so its holder and status stay as they are (e.g. a scan replayed after an outage);
- ``transition-refused`` (409): the status the station implies cannot follow the dossier's;
- ``unknown-dossier`` (404): no dossier has this code;
- ``time-in-future`` (422, ``/problems/invalid-field`` as for events: the one rule,
  `gateway.core.times.refuse_future_time`): ``scanned_at`` is later than the gateway's clock by
  more than the clock-skew allowance (the station's clock was wrong when it scanned);
- ``not-this-station`` (422): ``station_id`` is not the station the key was made for.

Refusals are problem+json answers with ``outcome`` as an extension member; nothing is recorded.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, g

from gateway.core.errors import FutureTime, InvalidTransition
from gateway.core.events import parse_scan
from gateway.core.status import Status
from gateway.core.times import refuse_future_time
from gateway.http.answers import json_answer, now, status_ref
from gateway.http.bodies import json_body
from gateway.http.context import services
from gateway.http.idempotent import idempotent
from gateway.http.problems import Problem, from_error
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
            422,
            "invalid-field",
            "Invalid field",
            "station_id: not the station this key is for",
            extensions={"outcome": "not-this-station"},
        )
    svc = services()
    station = svc.stations.get(station_id)
    event = parse_scan(body, station_id, station.desk, station.implied_status())
    at = now()
    skew = svc.settings.gateway.clock_skew
    try:
        refuse_future_time("scanned_at", event.at, at, timedelta(seconds=skew))
        code = svc.dossiers.find(body["code"])
        if code is None:
            raise UnknownDossier(body["code"])
        # a station moves its own office's dossiers only: another's is unknown to it
        recorded = svc.dossiers.apply(code, event, ANY_DEPARTMENT, at, g.client.office)
    except FutureTime as exc:
        raise _refused(exc, "time-in-future", allowed_seconds=skew) from exc
    except UnknownDossier as exc:
        raise _refused(exc, "unknown-dossier") from exc
    except InvalidTransition as exc:
        raise _refused(
            exc,
            "transition-refused",
            dossier_status=status_ref(Status(exc.current)),
            station_status=status_ref(Status(exc.new)),
        ) from exc
    if not recorded.repeated:
        metrics.scan_recorded(svc.redis, station_id)
    dossier = svc.dossiers.get(code, office=g.client.office)
    answer = {
        "station_id": station_id,
        "seq": body["seq"],
        "code": code,
        "short_code": dossier.short_code,
        "status": status_ref(dossier.status),
        "holder": dossier.holder,
        "desk": station.desk,
        "current": recorded.current,
        "outcome": "moved" if recorded.current else "out-of-order",
    }
    return json_answer(answer, 200 if recorded.repeated else 201)


def _refused(exc: Exception, outcome: str, **members: Any) -> Problem:
    problem = from_error(exc)
    assert problem is not None  # every error caught above has a row in the problems table
    problem.extensions.update(outcome=outcome, **members)
    return problem
