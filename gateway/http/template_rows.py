"""SMS templates as the dashboard and the admin API show them: each with its default, and the SMS it
makes with sample values (`gateway.core.sms_preview`)."""

from __future__ import annotations

from typing import Any

from gateway.core import roles
from gateway.core.office_routes import signature, signed
from gateway.core.offices import DEFAULT_OFFICE
from gateway.core.roles import Permission
from gateway.core.sms_preview import preview as sms_preview
from gateway.core.sms_text import DEFAULT_TEMPLATES, Template, TemplateError, sample_values
from gateway.http import admin_auth as auth
from gateway.http.context import services
from gateway.http.problems import Problem, quoted
from gateway.store.templates import Templates


def templates() -> Templates:
    return services().templates


def template_or_404(name: str, office: str = "") -> Template:
    if name not in DEFAULT_TEMPLATES:
        raise Problem(
            404, "unknown-template", "No such template", f"No SMS template {quoted(name)}."
        )
    return templates().get(name, office)


def office_or_404(office: str) -> str:
    """The office whose templates a page or call is about ("" : the province's); an office the
    user does not see answers as an unknown one."""
    scope = auth.visible_offices()
    unseen = scope is not None and office not in scope
    if office and (unseen or not services().offices.exists(office)):
        raise Problem(404, "unknown-office", "No such office", f"No office {quoted(office)}.")
    return office


def may_change(office: str) -> bool:
    return roles.may_change_templates(auth.user().role, office)


def require_change(office: str) -> None:
    """Refuses (403) unless the user may change `office`'s templates (`roles.may_change_templates`:
    the province's need a province administrator; an office's, also its office administrator)."""
    if not may_change(office):
        auth.require(Permission.CHANGE_TEMPLATES)  # refuses, and logs it as every refusal


def template_json(template: Template, edited: bool) -> dict[str, Any]:
    return {
        "name": template.name,
        "body": template.body,
        "urgent": template.urgent,
        "edited": edited,
        "placeholders": sorted(template.placeholders),
        "default_body": DEFAULT_TEMPLATES[template.name].body,
    }


def preview(
    name: str, body: str, values: dict[str, str] | None = None, office: str = ""
) -> dict[str, Any]:
    """The SMS a template makes with sample values, signed by `office` ("" : the default
    office; in a province, named before a template that does not name it): as sent under the
    current settings, and both ways (unaccented, accented). Raises
    TemplateError for a body that cannot be used."""
    settings = services().settings.sms
    offices = services().offices
    signer = signature(offices.get(office or DEFAULT_OFFICE), settings.accented_if_free)
    samples = sample_values(signer["office"], signer["hotline"], signer["number"])
    sent_as = signed(Template(name, body), offices.several())
    made = sms_preview(sent_as, samples | (values or {}), settings.accented_if_free)
    sent, plain, accented = made.sent, made.unaccented, made.accented_if_free
    return {
        "text": sent.text,
        "alphabet": sent.alphabet.value,
        "parts": sent.parts,
        "length": len(sent.text),
        "unaccented": {"text": plain.text, "alphabet": plain.alphabet.value, "parts": plain.parts},
        "accented_if_free": {
            "text": accented.text,
            "alphabet": accented.alphabet.value,
            "parts": accented.parts,
        },
    }


def template_problem(exc: TemplateError) -> Problem:
    return Problem(422, "invalid-template", "Invalid template", exc.problem)
