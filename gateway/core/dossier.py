"""The dossier (hồ sơ): what a department registers, and its state as events move it along."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from gateway.core.codes import canonical_code
from gateway.core.errors import InvalidDossier
from gateway.core.offices import DEFAULT_OFFICE
from gateway.core.phones import normalise_phone
from gateway.core.status import SETTLED, Status
from gateway.core.times import format_time, parse_time

MAX_PHONES = 5


@dataclass(frozen=True, slots=True)
class Registration:
    """A department's request to register a dossier, checked and normalised."""

    code: str
    procedure_code: str
    procedure_name: str
    phones: tuple[str, ...]
    received_at: datetime
    due_at: datetime
    status: Status
    applicant_name: str | None

    def fingerprint(self) -> str:
        """Equal for two registrations that say the same thing, however they were written."""
        canonical = {
            "code": self.code,
            "procedure_code": self.procedure_code,
            "procedure_name": self.procedure_name,
            "phones": list(self.phones),
            "received_at": format_time(self.received_at),
            "due_at": format_time(self.due_at),
            "status": int(self.status),
            "applicant_name": self.applicant_name,
        }
        blob = json.dumps(canonical, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()


@dataclass(frozen=True, slots=True)
class Dossier:
    code: str
    short_code: str
    secret: str
    department: str
    procedure_code: str
    procedure_name: str
    phones: tuple[str, ...]
    received_at: datetime
    due_at: datetime
    status: Status
    holder: str | None
    applicant_name: str | None
    version: int
    updated_at: datetime  # the time of the latest event that moved the state
    # The time of the event that set the appointment in force (`received_at` for the
    # registration's); None for a dossier stored before appointments could change. An
    # appointment change older than it is kept in the history without taking effect.
    due_set_at: datetime | None = None
    # The office it was handed in at (the registering department's key's); stored before
    # offices existed: the default office.
    office: str = DEFAULT_OFFICE

    def is_overdue(self, now: datetime) -> bool:
        """Quá hạn: past the appointment in force while the office still owes a result (not
        settled, see `status.SETTLED`); what was sent to the citizen has no bearing on it."""
        return self.status not in SETTLED and now > self.due_at


def parse_registration(body: dict[str, Any]) -> Registration:
    """Semantic checks of a registration body whose shape is already validated."""
    phones = tuple(dict.fromkeys(normalise_phone(p) for p in body["phones"]))
    if not phones or len(phones) > MAX_PHONES:
        raise InvalidDossier(f"phones: between 1 and {MAX_PHONES} numbers")
    received_at = parse_time("received_at", body["received_at"])
    due_at = parse_time("due_at", body["due_at"])
    if due_at < received_at:
        raise InvalidDossier("due_at: before received_at")
    status = Status(body.get("status", Status.RECEIVED))
    name = body.get("applicant_name")
    return Registration(
        code=canonical_code(body["code"]),
        procedure_code=_text("procedure_code", body["procedure_code"]),
        procedure_name=_text("procedure_name", body["procedure_name"]),
        phones=phones,
        received_at=received_at,
        due_at=due_at,
        status=status,
        applicant_name=_text("applicant_name", name) if name is not None else None,
    )


def open_dossier(
    reg: Registration,
    department: str,
    short_code: str,
    secret: str,
    office: str = DEFAULT_OFFICE,
) -> Dossier:
    return Dossier(
        code=reg.code,
        short_code=short_code,
        secret=secret,
        department=department,
        procedure_code=reg.procedure_code,
        procedure_name=reg.procedure_name,
        phones=reg.phones,
        received_at=reg.received_at,
        due_at=reg.due_at,
        status=reg.status,
        holder=None,
        applicant_name=reg.applicant_name,
        version=1,
        updated_at=reg.received_at,
        due_set_at=reg.received_at,
        office=office,
    )


def _text(field: str, value: str) -> str:
    cleaned = " ".join(value.split())
    if not cleaned:
        raise InvalidDossier(f"{field}: empty")
    return cleaned


def with_holder(d: Dossier, holder: str | None) -> Dossier:
    return replace(d, holder=holder)
