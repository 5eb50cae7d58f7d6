"""SMS templates: the shipped Vietnamese defaults, with administrators' edits over them.

An edit is checked when it is saved (known placeholders only, no stray braces), so a bad
template never reaches a worker; removing the edit brings the default back.

Two levels of edits: the province's (what every office sends, the only level of an installation
without offices; stored under the template's name, as before offices) and an office's override
of one template (stored under ``<office>/<name>``). An office's SMS use its override, else the
province's edit, else the shipped default.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import cast

import redis

from gateway.core.sms_text import DEFAULT_TEMPLATES, Template, TemplateError
from gateway.store import keys

PROVINCE = ""  # the office argument naming the province's level


class Templates:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def get(self, name: str, office: str = PROVINCE) -> Template:
        """The template an office's SMS use (`office` ""; the province's)."""
        fields = [_field(name, office), name] if office else [name]
        for raw in cast(list[str | None], self._redis.hmget(keys.templates(), fields)):
            if raw is not None:
                return _template(name, raw)
        return DEFAULT_TEMPLATES[name]

    def all(self, office: str = PROVINCE) -> dict[str, tuple[Template, bool]]:
        """Every template an office's SMS use (`office` "": the province's), and whether it is
        an edit at that level (an office's own override; the province's edit)."""
        edited = cast(dict[str, str], self._redis.hgetall(keys.templates()))
        out: dict[str, tuple[Template, bool]] = {}
        for name, default in DEFAULT_TEMPLATES.items():
            own = edited.get(_field(name, office)) if office else None
            if own is not None:
                out[name] = (_template(name, own), True)
            elif name in edited:
                out[name] = (_template(name, edited[name]), not office)
            else:
                out[name] = (default, False)
        return out

    def overriding_offices(self) -> list[str]:
        """The offices with an override of at least one template."""
        names = cast(Iterable[str], self._redis.hkeys(keys.templates()))
        return sorted({name.partition("/")[0] for name in names if "/" in name})

    def save(
        self, name: str, body: str, urgent: bool | None = None, office: str = PROVINCE
    ) -> Template:
        """Edits a template for the province (`office` "") or overrides it for one office
        (`TemplateError` for an unknown name or a body that cannot be used): the one operation
        of the dashboard, the admin API and `hoso templates set`."""
        _known(name)
        template = Template(
            name, body, DEFAULT_TEMPLATES[name].urgent if urgent is None else urgent
        )
        payload = json.dumps({"body": template.body, "urgent": template.urgent}, ensure_ascii=False)
        self._redis.hset(keys.templates(), _field(name, office), payload)
        return template

    def reset(self, name: str, office: str = PROVINCE) -> None:
        """Drops the edit at that level: the province's edit or the shipped default again
        (`TemplateError` for an unknown name)."""
        _known(name)
        self._redis.hdel(keys.templates(), _field(name, office))


def _field(name: str, office: str) -> str:
    return f"{office}/{name}" if office else name


def _template(name: str, raw: str) -> Template:
    data = json.loads(raw)
    return Template(name, data["body"], bool(data["urgent"]))


def _known(name: str) -> None:
    if name not in DEFAULT_TEMPLATES:
        raise TemplateError(name, f"no such template (known: {', '.join(DEFAULT_TEMPLATES)})")
