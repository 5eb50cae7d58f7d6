"""API keys of departments and stations, and the counter stations, in the dashboard.

Keys: listed with id, owner, created, revoked and fingerprint, never the secret. A new key's
secret is shown once, in the answer that creates it; the gateway keeps it only sealed. Rotation:
create a second key for the same owner (both work), move the client to it, then revoke the old.

Listing: credentials.py keeps no index of all owners (only the key ids of one owner), so the
list SCANs `hoso:apikey:*`, bounded to `MAX_KEYS` keys (the answer says when it stopped there).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, cast

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gateway.core.status import Status
from gateway.http import admin_auth as auth
from gateway.http.context import services
from gateway.http.problems import Problem, quoted
from gateway.store import keys
from gateway.store.credentials import ClientKind
from gateway.store.stations import Station
from gateway.store.users import Role

log = logging.getLogger(__name__)

bp = Blueprint("admin_keys", __name__, url_prefix="/admin")

MAX_KEYS = 5_000
SCAN_BATCH = 500
KIND_LABELS = {"department": "Phòng ban", "station": "Quầy quét"}
SHOWN_FIELDS = ("kind", "owner", "created_at", "revoked_at", "fingerprint")


auth.install_pages(bp, kind_labels=KIND_LABELS)


def _now() -> datetime:
    return datetime.fromtimestamp(services().clock(), UTC)


def _invalid(detail: str) -> Problem:
    return Problem(422, "invalid-field", "Invalid field", detail)


# -- keys ------------------------------------------------------------------------------------


def key_rows() -> tuple[list[dict[str, Any]], bool]:
    """Every key (at most MAX_KEYS), by owner then creation; True when the scan stopped early."""
    client = services().redis
    ids: list[str] = []
    for name in client.scan_iter(match=keys.api_key("*"), count=SCAN_BATCH):
        ids.append(str(name)[len(keys.api_key("")) :])
        if len(ids) >= MAX_KEYS:
            break
    pipe = client.pipeline(transaction=False)
    for key_id in ids:
        pipe.hmget(keys.api_key(key_id), list(SHOWN_FIELDS))
    rows = []
    for key_id, values in zip(ids, pipe.execute(), strict=True):
        fields = dict(zip(SHOWN_FIELDS, cast(list[str | None], values), strict=True))
        if fields["owner"] is None:
            continue  # deleted between the scan and the read
        rows.append({"key_id": key_id, **fields, "active": fields["revoked_at"] is None})
    rows.sort(key=lambda r: (r["kind"] or "", r["owner"] or "", r["created_at"] or ""))
    return rows, len(ids) >= MAX_KEYS


def create_key(kind: Any, owner: Any) -> dict[str, str]:
    try:
        client_kind = ClientKind(kind)
    except ValueError as exc:
        raise _invalid("kind must be department or station.") from exc
    if not isinstance(owner, str):
        raise _invalid("owner must be a department or station id.")
    try:
        new = services().keyring.create(client_kind, owner.strip(), _now())
    except ValueError as exc:
        raise _invalid(
            f"owner: {quoted(owner.strip())} is not a usable {client_kind.value} id (1 to 100"
            " characters, no spaces or ':')."
        ) from exc
    log.info(
        "admin.key_created user=%s key=%s kind=%s owner=%s",
        auth.user().username,
        new.key_id,
        client_kind.value,
        owner.strip(),
    )
    return {
        "key_id": new.key_id,
        "kind": client_kind.value,
        "owner": owner.strip(),
        "secret": new.secret,
    }


def revoke_key(key_id: str) -> None:
    if not services().keyring.revoke(key_id, _now()):
        raise Problem(404, "unknown-key", "No such key", f"No API key {quoted(key_id)}.")
    log.info("admin.key_revoked user=%s key=%s", auth.user().username, key_id)


def _keys_page(created: dict[str, str] | None = None, status: int = 200) -> ResponseReturnValue:
    rows, truncated = key_rows()
    page = render_template(
        "admin/keys.html", keys=rows, truncated=truncated, limit=MAX_KEYS, created=created
    )
    return page, status


@bp.get("/keys")
@auth.login_required()
def keys_page() -> ResponseReturnValue:
    return _keys_page()


@bp.post("/keys")
@auth.login_required(Role.ADMIN)
def keys_create() -> ResponseReturnValue:
    created = create_key(request.form.get("kind"), request.form.get("owner", ""))
    return _keys_page(created, 201)  # the secret is in this answer only


@bp.post("/keys/<key_id>/revoke")
@auth.login_required(Role.ADMIN)
def keys_revoke(key_id: str) -> ResponseReturnValue:
    revoke_key(key_id)
    return redirect(url_for("admin_keys.keys_page"))


@bp.get("/api/keys")
@auth.login_required()
def api_keys() -> ResponseReturnValue:
    rows, truncated = key_rows()
    return jsonify(keys=rows, truncated=truncated, limit=MAX_KEYS)


@bp.post("/api/keys")
@auth.login_required(Role.ADMIN)
def api_keys_create() -> ResponseReturnValue:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise _invalid('Expected {"kind": "department"|"station", "owner": "..."}.')
    return jsonify(create_key(body.get("kind"), body.get("owner"))), 201


@bp.post("/api/keys/<key_id>/revoke")
@auth.login_required(Role.ADMIN)
def api_keys_revoke(key_id: str) -> ResponseReturnValue:
    revoke_key(key_id)
    return jsonify(key_id=key_id, revoked=True)


# -- stations --------------------------------------------------------------------------------


def station_json(s: Station) -> dict[str, Any]:
    return {
        "id": s.id,
        "desk": s.desk,
        "name": s.name,
        "status": s.status,
        "allowed_hours": s.allowed_hours,
    }


def save_station(fields: dict[str, Any]) -> Station:
    """Checks and saves a station from text or JSON fields: id, desk, name, status, hours."""
    station_id = fields.get("id")
    desk = fields.get("desk")
    if not isinstance(station_id, str) or not station_id.strip() or len(station_id) > 100:
        raise _invalid("id: the station id (1 to 100 characters).")
    if not isinstance(desk, str) or not desk.strip() or len(desk) > 200:
        raise _invalid("desk: the desk the station stands for (1 to 200 characters).")
    name = fields.get("name") or ""
    if not isinstance(name, str) or len(name) > 200:
        raise _invalid("name: up to 200 characters.")
    try:
        raw_status = fields.get("status")
        status = None if raw_status in (None, "") else int(raw_status)
        if status is not None:
            Status(status)
        raw_hours = fields.get("allowed_hours")
        hours = None if raw_hours in (None, "") else float(raw_hours)
    except (TypeError, ValueError) as exc:
        raise _invalid("status must be a status code; allowed_hours a number.") from exc
    if hours is not None and not 0 < hours <= 24 * 365:
        raise _invalid("allowed_hours must be more than 0.")
    station = Station(station_id.strip(), desk.strip(), name.strip(), status, hours)
    services().stations.save(station)
    log.info("admin.station_saved user=%s station=%s", auth.user().username, station.id)
    return station


@bp.get("/stations")
@auth.login_required()
def stations_page() -> ResponseReturnValue:
    rows = [station_json(s) for s in services().stations.all()]
    statuses = [(int(s), s.label) for s in Status]
    return render_template(
        "admin/stations.html", stations=rows, statuses=statuses, done=request.args.get("done")
    )


@bp.post("/stations")
@auth.login_required(Role.ADMIN)
def stations_save() -> ResponseReturnValue:
    save_station(request.form.to_dict())
    return redirect(url_for("admin_keys.stations_page", done="1"))


@bp.get("/api/stations")
@auth.login_required()
def api_stations() -> ResponseReturnValue:
    return jsonify(stations=[station_json(s) for s in services().stations.all()])


@bp.post("/api/stations")
@auth.login_required(Role.ADMIN)
def api_stations_save() -> ResponseReturnValue:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise _invalid("Expected a JSON object: id, desk, name, status, allowed_hours.")
    return jsonify(station_json(save_station(body)))
