"""API keys of departments and stations, and the counter stations, in the dashboard.

Keys: listed with id, owner, office, created, revoked and fingerprint, never the secret. A new
key's secret is shown once, in the answer that creates it; the gateway keeps it only sealed. A
key belongs to an office ("main" unless another is chosen) and registers and sees that office's
dossiers only. Rotation: create a second key for the same owner (both work), move the client to
it, then revoke the old.

Creating, revoking and listing go through the keyring (`gateway.store.credentials.Keyring`), as
`hoso keys` does. It keeps no index of all owners (only the key ids of one owner), so the list
walks every key id (`Keyring.key_ids`), bounded here to `MAX_KEYS` (the answer says when it
stopped there).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gateway.core.offices import DEFAULT_OFFICE
from gateway.core.stations import InvalidStation, Station
from gateway.core.status import Status
from gateway.http import admin_auth as auth
from gateway.http.context import services
from gateway.http.problems import Problem, quoted
from gateway.store.credentials import InvalidKeyRequest
from gateway.store.users import Role

log = logging.getLogger(__name__)

bp = Blueprint("admin_keys", __name__, url_prefix="/admin")

MAX_KEYS = 5_000
KIND_LABELS = {"department": "Phòng ban", "station": "Quầy quét"}


auth.install_pages(bp, kind_labels=KIND_LABELS)


def _now() -> datetime:
    return datetime.fromtimestamp(services().clock(), UTC)


def _invalid(detail: str) -> Problem:
    return Problem(422, "invalid-field", "Invalid field", detail)


# -- keys ------------------------------------------------------------------------------------


def key_rows() -> tuple[list[dict[str, Any]], bool]:
    """Every key (at most MAX_KEYS), by owner then creation; True when the scan stopped early."""
    keyring = services().keyring
    ids = list(islice(keyring.key_ids(), MAX_KEYS))
    rows = [
        {
            "key_id": info.key_id,
            "kind": info.kind,
            "owner": info.owner,
            "created_at": info.created_at,
            "revoked_at": info.revoked_at,
            "fingerprint": info.fingerprint,
            "active": info.revoked_at is None,
            "office": info.office,
        }
        for info in keyring.infos(ids)
    ]
    return rows, len(ids) >= MAX_KEYS


def create_key(kind: Any, owner: Any, office: Any = DEFAULT_OFFICE) -> dict[str, str]:
    """A new key of an existing office through `Keyring.create`, the one operation (its checks,
    its refusals)."""
    if not isinstance(office, str) or not services().offices.exists(office):
        raise _invalid(f"office: no office {quoted(office)} (hoso offices list names them).")
    try:
        new = services().keyring.create(kind, owner, _now(), office)
    except InvalidKeyRequest as exc:
        raise _invalid(str(exc)) from exc
    log.info(
        "admin.key_created user=%s key=%s kind=%s owner=%s office=%s",
        auth.user().username,
        new.key_id,
        new.kind.value,
        new.owner,
        new.office,
    )
    return {
        "key_id": new.key_id,
        "kind": new.kind.value,
        "owner": new.owner,
        "office": new.office,
        "secret": new.secret,
    }


def revoke_key(key_id: str) -> None:
    if not services().keyring.revoke(key_id, _now()):
        raise Problem(404, "unknown-key", "No such key", f"No API key {quoted(key_id)}.")
    log.info("admin.key_revoked user=%s key=%s", auth.user().username, key_id)


def _keys_page(created: dict[str, str] | None = None, status: int = 200) -> ResponseReturnValue:
    rows, truncated = key_rows()
    page = render_template(
        "admin/keys.html",
        keys=rows,
        truncated=truncated,
        limit=MAX_KEYS,
        created=created,
        office_names={o.id: o.name for o in services().offices.all()},
        default_office=DEFAULT_OFFICE,
    )
    return page, status


@bp.get("/keys")
@auth.login_required()
def keys_page() -> ResponseReturnValue:
    return _keys_page()


@bp.post("/keys")
@auth.login_required(Role.ADMIN)
def keys_create() -> ResponseReturnValue:
    created = create_key(
        request.form.get("kind"),
        request.form.get("owner", ""),
        request.form.get("office", DEFAULT_OFFICE),
    )
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
        raise _invalid(
            'Expected {"kind": "department"|"station", "owner": "...", "office": "..." (optional,'
            f' default "{DEFAULT_OFFICE}")}}.'
        )
    office = body.get("office", DEFAULT_OFFICE)
    return jsonify(create_key(body.get("kind"), body.get("owner"), office)), 201


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
    """Sets a station from the form's text or JSON fields (`Stations.set`, the one operation)."""
    try:
        station = services().stations.set(fields)
    except InvalidStation as exc:
        raise _invalid(exc.detail) from exc
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
