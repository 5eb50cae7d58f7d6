"""SMS templates: the shipped Vietnamese defaults, with administrators' edits over them.

An edit is checked when it is saved (known placeholders only, no stray braces), so a bad
template never reaches a worker; removing the edit brings the default back.
"""

from __future__ import annotations

import json
from typing import cast

import redis

from gateway.core.sms_text import DEFAULT_TEMPLATES, Template, TemplateError
from gateway.store import keys


class Templates:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def get(self, name: str) -> Template:
        raw = self._redis.hget(keys.templates(), name)
        if raw is None:
            return DEFAULT_TEMPLATES[name]
        data = json.loads(str(raw))
        return Template(name, data["body"], bool(data["urgent"]))

    def all(self) -> dict[str, tuple[Template, bool]]:
        """Every template, and whether it is an administrator's edit."""
        edited = cast(dict[str, str], self._redis.hgetall(keys.templates()))
        out: dict[str, tuple[Template, bool]] = {}
        for name, default in DEFAULT_TEMPLATES.items():
            if name in edited:
                data = json.loads(edited[name])
                out[name] = (Template(name, data["body"], bool(data["urgent"])), True)
            else:
                out[name] = (default, False)
        return out

    def save(self, name: str, body: str, urgent: bool | None = None) -> Template:
        """Edits a template (`TemplateError` for an unknown name or a body that cannot be used):
        the one operation of the dashboard, the admin API and `hoso templates set`."""
        _known(name)
        template = Template(
            name, body, DEFAULT_TEMPLATES[name].urgent if urgent is None else urgent
        )
        payload = json.dumps({"body": template.body, "urgent": template.urgent}, ensure_ascii=False)
        self._redis.hset(keys.templates(), name, payload)
        return template

    def reset(self, name: str) -> None:
        """Drops the edit: the shipped default again (`TemplateError` for an unknown name)."""
        _known(name)
        self._redis.hdel(keys.templates(), name)


def _known(name: str) -> None:
    if name not in DEFAULT_TEMPLATES:
        raise TemplateError(name, f"no such template (known: {', '.join(DEFAULT_TEMPLATES)})")
