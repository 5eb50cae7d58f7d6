"""What an SMS template makes with given values, the way an operator previews it (the dashboard's
template pages and the admin API, `hoso templates set|preview|reset`): as it would be sent under
the current settings, and both ways (unaccented, accented where it costs no extra part)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway.core.sms_text import Rendered, Template, fill, render


@dataclass(frozen=True, slots=True)
class Preview:
    sent: Rendered  # under the current `accented_if_free` setting
    unaccented: Rendered
    accented_if_free: Rendered


def preview(template: Template, values: Mapping[str, str], accented_if_free: bool) -> Preview:
    """Raises `TemplateError` when a placeholder has no value."""
    text = fill(template, values)
    return Preview(render(text, accented_if_free), render(text, False), render(text, True))
