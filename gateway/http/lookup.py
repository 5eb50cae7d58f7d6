"""The citizen lookup page "Tra cứu hồ sơ" (`/`): a dossier's progress, in plain Vietnamese.

The result shows the appointment in force (ngày hẹn trả) and each new one the department set
(hẹn lại, with its reason); past it, not finished, an apology with whom to ask (the hotline, else
the office), never a date nobody set. Times go through `gateway.core.times.shown_time` /
`shown_date` like every screen's.

`GET /` shows the form (the receipt's QR code links to `/?ma=<short code>`, which fills the code
in). `POST /` looks the dossier up. The code may be typed sloppily or be the short code, or be read
from a photo of the receipt: a few lines of JavaScript send the photo to `/api/v1/decode` and fill
the code field in; without JavaScript the photo goes with the form and is decoded here, with the
API's checks and decode slots (`gateway.http.photos`); a refused photo shows the form again with
the reason.

Privacy (DESIGN.md section 5, `core.replies.entitled`): the timeline is shown only with the
dossier's secret (on the web nobody is a registered phone). What the page says otherwise depends
only on what the visitor typed, never on what the store holds: no code; a code that cannot be
one (a wrong check character: wrong for everybody); no secret ("a secret is needed", for an
existing and an unknown code alike); a secret that does not open the code (one neutral page,
byte for byte the same for an unknown code and a wrong secret apart from the code typed, which is
echoed back). The store is asked about a dossier only in that last case, with the same work
whatever the code: one round trip that answers the dossier's secret or a decoy of the same length
(`DossierStore.secret_of`), one constant-time comparison with it; the dossier itself is read only
once the secret matched, and so is its office (whose heading, hotline and number the result
shows; every other page shows the default office's, read the same way whatever was typed). The
secret is never echoed, and it is posted, not put in the URL, so it stays out of access logs.
Lookups are rate limited per address, like decoding, so secrets cannot be guessed quickly.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, render_template, request
from werkzeug.exceptions import RequestEntityTooLarge

from gateway.core.appointments import appointments
from gateway.core.codes import SECRET_LENGTH, looks_like_code, normalise_secret
from gateway.core.dossier import Dossier
from gateway.core.office_contact import contact_of
from gateway.core.offices import DEFAULT_OFFICE
from gateway.core.replies import DEFAULT_DESK, entitled, status_since
from gateway.core.status import Status
from gateway.core.times import shown_date, shown_time
from gateway.http.context import services
from gateway.http.photos import (
    MAX_PHOTO_BYTES,
    DecodersBusy,
    codes_in_photo,
    refusal,
    too_large,
)
from gateway.http.problems import Problem
from gateway.http.proxies import client_address
from gateway.receipts import NotAnImage
from gateway.store.errors import UnknownDossier

bp = Blueprint(
    "lookup",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/lookup",
)

LOOKUPS_PER_MINUTE = 20  # per address (`Services.lookup_limit`)
MAX_TYPED = 64  # longer input is cut before it is looked up or echoed
# What the secret typed for a code that names no dossier is compared with: as long as a secret, and
# in lower case, which a typed secret never is once normalised, so it opens nothing.
DECOY_SECRET = "z" * SECRET_LENGTH
NOTE_STATUSES = frozenset(
    {Status.SUPPLEMENT_REQUESTED, Status.FEES_DUE}
)  # what the citizen must do


@dataclass(frozen=True, slots=True)
class Change:
    """A new appointment the department set (gia hạn, hẹn lại), as the page tells it."""

    at: str  # when it was set: dd/mm/yyyy HH:MM, Vietnam time
    before: str  # the appointment it replaced: dd/mm/yyyy
    after: str  # the new one
    reason: str | None


@dataclass(frozen=True, slots=True)
class Step:
    """One line of the timeline: a status change or a move to another desk."""

    at: str  # dd/mm/yyyy HH:MM, Vietnam time
    label: str  # the new status, or "Chuyển đến <desk>" when only the desk changed
    desk: str | None  # where the paper is (shown apart only with a status change)
    note: str | None
    moved_only: bool


@bp.get("/")
def form() -> str:
    typed = request.args.get("ma", "").strip()[:MAX_TYPED]
    return render_template("lookup/form.html", typed=typed, **_page())


@bp.post("/")
def look_up() -> Response:
    retry_after = _over_limit()
    if retry_after is not None:
        page = render_template("lookup/limited.html", **_page())
        return Response(page, 429, {"Retry-After": str(retry_after), "Cache-Control": "no-store"})
    request.max_content_length = MAX_PHOTO_BYTES
    try:
        form, files = request.form, request.files
    except RequestEntityTooLarge:
        return _refused_photo(too_large())
    typed = form.get("ma", "").strip()[:MAX_TYPED]
    secret = normalise_secret(form.get("bi_mat", "")[:MAX_TYPED])
    photo = files.get("anh")
    unread_photo = False
    if not typed and photo is not None and photo.filename:
        try:
            typed = _code_in_photo(photo.read())
        except (NotAnImage, DecodersBusy) as exc:
            return _refused_photo(refusal(exc))
        unread_photo = not typed
    said = _problem(typed, secret, unread_photo)
    if said is None:
        dossier, history = _open(typed, secret)
        if dossier is not None:
            page = render_template(
                "lookup/result.html",
                typed=typed,
                **_page(dossier.office),
                **_details(dossier, history),
            )
            return Response(page, headers={"Cache-Control": "no-store"})
        said = "not_found"
    page = render_template("lookup/form.html", typed=typed, said=said, **_page())
    return Response(page, headers={"Cache-Control": "no-store"})


def _problem(typed: str, secret: str, unread_photo: bool) -> str | None:
    """What keeps the page from looking the dossier up, from what was typed alone."""
    if unread_photo:
        return "unread_photo"
    if not typed:
        return "no_code"
    if not looks_like_code(typed):
        return "bad_code"  # e.g. a wrong check character: no dossier has that code
    if not secret:
        return "need_secret"
    return None


def _open(typed: str, secret: str) -> tuple[Dossier | None, list[dict[str, Any]]]:
    """The dossier and its history if `secret` opens the code typed, else (None, []). Until the
    secret matched, the same work whether the code exists or not (see the module's doc)."""
    store = services().dossiers
    if not hmac.compare_digest(secret, store.secret_of(typed, DECOY_SECRET)):
        return None, []
    code = store.find(typed)
    if code is None:  # removed since its secret was read
        return None, []
    try:
        dossier, history = store.get_with_history(code)
    except UnknownDossier:
        return None, []
    return (dossier, history) if entitled(dossier, "", secret) else (None, [])


def _code_in_photo(data: bytes) -> str:
    """The code on a photographed receipt (a full code before a short one), or "". Raises
    `NotAnImage` or `DecodersBusy` for a photo that was not decoded."""
    found = codes_in_photo(data)
    found.sort(key=lambda d: d.kind != "full")
    return found[0].text if found else ""


def _refused_photo(problem: Problem) -> Response:
    """The form again, saying why the photo was not read (in Vietnamese, the problem's detail)."""
    page = render_template(
        "lookup/form.html", typed="", unread_photo=True, photo_problem=problem.detail, **_page()
    )
    headers = {"Cache-Control": "no-store"}
    if "Retry-After" in problem.headers:
        headers["Retry-After"] = problem.headers["Retry-After"]
    return Response(page, problem.status, headers)


def _over_limit() -> int | None:
    """Seconds to wait if this address looked up too many dossiers this minute, else None."""
    svc = services()
    tally = svc.lookup_limit.hit(client_address(), svc.clock())
    return tally.retry_after if tally.over else None


def _page(office: str = DEFAULT_OFFICE) -> dict[str, Any]:
    """What every page says of `office`: the dossier's once its secret matched, else the
    installation's default office (the same for every visitor, whatever was typed)."""
    svc = services()
    contact = contact_of(svc.offices.get(office), svc.settings.sms.number)
    return {
        "sms_number": contact.number,
        "hotline": contact.hotline,
        "office": contact.name,
        "heading": contact.heading,
        "address": contact.address,
    }


def _details(d: Dossier, history: list[dict[str, Any]]) -> dict[str, Any]:
    now = datetime.fromtimestamp(services().clock(), UTC)
    return {
        "dossier": d,
        "status": d.status.label,
        "received": shown_time(d.received_at),
        "due": shown_date(d.due_at),
        "overdue": d.is_overdue(now),
        "changes": appointment_changes(history, d),
        "steps": timeline(history),
        "ready_since": shown_time(status_since(history, d.status) or d.updated_at),
        "pickup_desk": d.holder or DEFAULT_DESK,
        "ready": d.status is Status.DONE,
    }


def appointment_changes(history: list[dict[str, Any]], d: Dossier) -> list[Change]:
    """Each new appointment the department set that took effect, oldest first: the appointment
    shown is the one in force, and these say how it came to be."""
    return [
        Change(shown_time(a.set_at), shown_date(a.replaced), shown_date(a.due_at), a.reason)
        for a in appointments(history, d.due_at)
        if a.replaced is not None
    ]


def timeline(history: list[dict[str, Any]]) -> list[Step]:
    """Each status change and each move to another desk, in the order they happened."""
    entries = sorted(history, key=lambda e: datetime.fromisoformat(str(e["at"])))
    steps: list[Step] = []
    status: Status | None = None
    desk: str | None = None
    for e in entries:
        new_status = Status(e["status"]) if e.get("status") is not None else status
        new_desk = e.get("desk") or desk
        if new_status == status and new_desk == desk:
            continue
        if new_status is None:
            continue
        moved_only = new_status == status
        label = f"Chuyển đến {new_desk}" if moved_only else new_status.label
        note = e.get("note") if new_status in NOTE_STATUSES and not moved_only else None
        at = datetime.fromisoformat(str(e["at"]))
        steps.append(Step(shown_time(at), label, new_desk, note, moved_only))
        status, desk = new_status, new_desk
    return steps
