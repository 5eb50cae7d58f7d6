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

Offices: a user of one office (`admin_auth.visible_offices`) sees and revokes only its office's
keys and stations (another office's, asked by id, is unknown: 404), and what it creates is its
office's; a province administrator chooses the office ("office" field; the default office when
none is given).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gateway.core.offices import DEFAULT_OFFICE
from gateway.core.roles import Permission, sees
from gateway.core.stations import InvalidStation, Station
from gateway.core.status import Status
from gateway.http import admin_auth as auth
from gateway.http.context import services
from gateway.http.problems import Problem, quoted
from gateway.store.credentials import InvalidKeyRequest

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
    visible = auth.visible_offices()
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
        if sees(visible, info.office)
    ]
    return rows, len(ids) >= MAX_KEYS


def office_for_new(asked: Any) -> str:
    """The office of what the user creates: its own office, or for a user who sees every office
    the one `asked` (an existing office id; none: the default office)."""
    me = auth.user()
    if auth.visible_offices() is not None:
        return me.office
    if asked in (None, ""):
        return DEFAULT_OFFICE
    if not isinstance(asked, str) or not services().offices.exists(asked):
        raise _invalid(f"office: no office {quoted(asked)} (hoso offices list names them).")
    return asked


def create_key(kind: Any, owner: Any, office: Any = None) -> dict[str, str]:
    """A new key through `Keyring.create`, the one operation (its checks, its refusals), of
    the user's office (`office_for_new`)."""
    of_office = office_for_new(office)
    try:
        new = services().keyring.create(kind, owner, _now(), of_office)
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
    keyring = services().keyring
    found = keyring.infos([key_id])
    if not found or not auth.sees(found[0].office) or not keyring.revoke(key_id, _now()):
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
@auth.login_required(Permission.READ_SETUP)
def keys_page() -> ResponseReturnValue:
    return _keys_page()


@bp.post("/keys")
@auth.login_required(Permission.CHANGE_SETUP)
def keys_create() -> ResponseReturnValue:
    created = create_key(
        request.form.get("kind"), request.form.get("owner", ""), request.form.get("office")
    )
    return _keys_page(created, 201)  # the secret is in this answer only


@bp.post("/keys/<key_id>/revoke")
@auth.login_required(Permission.CHANGE_SETUP)
def keys_revoke(key_id: str) -> ResponseReturnValue:
    revoke_key(key_id)
    return redirect(url_for("admin_keys.keys_page"))


@bp.get("/api/keys")
@auth.login_required(Permission.READ_SETUP)
def api_keys() -> ResponseReturnValue:
    rows, truncated = key_rows()
    return jsonify(keys=rows, truncated=truncated, limit=MAX_KEYS)


@bp.post("/api/keys")
@auth.login_required(Permission.CHANGE_SETUP)
def api_keys_create() -> ResponseReturnValue:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise _invalid(
            'Expected {"kind": "department"|"station", "owner": "...", "office": "..." (optional,'
            f' default: your office, or "{DEFAULT_OFFICE}")}}.'
        )
    return jsonify(create_key(body.get("kind"), body.get("owner"), body.get("office"))), 201


@bp.post("/api/keys/<key_id>/revoke")
@auth.login_required(Permission.CHANGE_SETUP)
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
        "office": s.office,
    }


def save_station(fields: dict[str, Any]) -> Station:
    """Sets a station from the form's text or JSON fields (`Stations.set`, the one operation),
    of the user's office (`office_for_new`; an existing station keeps its office unless a
    province administrator names another). Another office's station id cannot be taken over:
    it is refused as an unusable id."""
    stations = services().stations
    station_id = fields.get("id")
    existing = stations.find(station_id) if isinstance(station_id, str) else None
    if existing is not None and not auth.sees(existing.office):
        raise _invalid("id: this station id cannot be used; choose another.")
    asked = fields.get("office")
    if existing is not None and asked in (None, ""):
        asked = existing.office
    office = office_for_new(asked)
    try:
        station = stations.set(fields, office)
    except InvalidStation as exc:
        raise _invalid(exc.detail) from exc
    log.info("admin.station_saved user=%s station=%s", auth.user().username, station.id)
    return station


def visible_stations() -> list[dict[str, Any]]:
    return [station_json(s) for s in services().stations.all() if auth.sees(s.office)]


@bp.get("/stations")
@auth.login_required(Permission.READ_SETUP)
def stations_page() -> ResponseReturnValue:
    rows = visible_stations()
    statuses = [(int(s), s.label) for s in Status]
    # A province administrator chooses the station's office; anyone else makes its own office's.
    offices = services().offices.all() if auth.visible_offices() is None else []
    return render_template(
        "admin/stations.html",
        stations=rows,
        statuses=statuses,
        offices=offices,
        done=request.args.get("done"),
    )


@bp.post("/stations")
@auth.login_required(Permission.CHANGE_SETUP)
def stations_save() -> ResponseReturnValue:
    save_station(request.form.to_dict())
    return redirect(url_for("admin_keys.stations_page", done="1"))


@bp.get("/api/stations")
@auth.login_required(Permission.READ_SETUP)
def api_stations() -> ResponseReturnValue:
    return jsonify(stations=visible_stations())


@bp.post("/api/stations")
@auth.login_required(Permission.CHANGE_SETUP)
def api_stations_save() -> ResponseReturnValue:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise _invalid("Expected a JSON object: id, desk, name, status, allowed_hours.")
    return jsonify(station_json(save_station(body)))
