"""The province's offices in the dashboard (`/admin/offices`: the list, a form to create or edit
one) and the admin JSON API (`/admin/api/offices`).

Creating and editing go through `Offices.set`, the one validated operation `hoso offices set`
uses too; an edit keeps the fields not given (`gateway.core.office_forms.with_changes`), and a
refused field is named in Vietnamese with nothing saved. Everyone logged in reads the offices;
changing them needs the role that changes things (each view checks its caller first, in one
place: `login_required`).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gateway.core.office_forms import FIELD_LABELS, edited_fields, refusal, with_changes
from gateway.core.offices import FIELDS, InvalidOffice, Office, office_fields
from gateway.core.roles import Permission
from gateway.http import admin_auth as auth
from gateway.http.context import services
from gateway.http.problems import Problem, quoted

log = logging.getLogger(__name__)

bp = Blueprint("admin_offices", __name__, url_prefix="/admin")

auth.install_pages(bp, office_labels=FIELD_LABELS)


def office_json(office: Office) -> dict[str, Any]:
    return {"id": office.id, **office_fields(office)}


def save_office(office_id: object, changes: dict[str, Any]) -> Office:
    """Creates or edits an office (the fields not in `changes` kept) through `Offices.set`."""
    offices = services().offices
    current = offices.find(office_id) if isinstance(office_id, str) else None
    office = offices.set(office_id, with_changes(current, changes))
    log.info(
        "admin.office_saved user=%s office=%s created=%s",
        auth.user().username,
        office.id,
        current is None,
    )
    return office


# -- pages -----------------------------------------------------------------------------------


def visible() -> list[Office]:
    """The offices the user sees: every one for a province role, else its own."""
    scope = auth.visible_offices()
    return [o for o in services().offices.all() if scope is None or o.id in scope]


def _page(form: dict[str, Any], error: str | None = None, status: int = 200) -> ResponseReturnValue:
    offices = visible()
    page = render_template(
        "admin/offices.html",
        offices=offices,
        form=form,
        editing=form["id"] in {o.id for o in offices},
        error=error,
        done=request.args.get("done"),
    )
    return page, status


@bp.get("/offices")
@auth.login_required()
def offices_page() -> ResponseReturnValue:
    return _page({"id": "", **{k: "" for k in FIELDS}, "shared_fallback": True})


@bp.get("/offices/<office_id>")
@auth.login_required()
def office_page(office_id: str) -> ResponseReturnValue:
    office = next((o for o in visible() if o.id == office_id), None)
    if office is None:  # another office's reads as none
        raise Problem(404, "unknown-office", "No such office", f"No office {quoted(office_id)}.")
    return _page({"id": office.id, **edited_fields(office)})


@bp.post("/offices")
@auth.login_required(Permission.MANAGE_OFFICES)
def offices_save() -> ResponseReturnValue:
    typed = {k: request.form.get(k, "") for k in FIELDS if k != "shared_fallback"}
    fallback = request.form.get("shared_fallback", "true") == "true"
    office_id = request.form.get("id", "").strip()
    try:
        office = save_office(office_id, typed | {"shared_fallback": fallback})
    except InvalidOffice as exc:
        return _page({"id": office_id, **typed, "shared_fallback": fallback}, refusal(exc), 422)
    return redirect(url_for("admin_offices.offices_page", done=office.id))


# -- the JSON API ----------------------------------------------------------------------------


@bp.get("/api/offices")
@auth.login_required()
def api_offices() -> ResponseReturnValue:
    return jsonify(offices=[office_json(o) for o in visible()])


@bp.post("/api/offices")
@auth.login_required(Permission.MANAGE_OFFICES)
def api_offices_save() -> ResponseReturnValue:
    """Creates an office, or edits one (the fields not sent are kept)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Problem(
            422,
            "invalid-field",
            "Invalid field",
            "Expected a JSON object: id, then any of " + ", ".join(FIELDS) + ".",
        )
    fields = {k: v for k, v in body.items() if k != "id"}
    try:
        office = save_office(body.get("id"), fields)
    except InvalidOffice as exc:
        raise Problem(
            422, "invalid-field", "Invalid field", refusal(exc), extensions={"field": exc.field}
        ) from exc
    return jsonify(office_json(office))
