"""The department and station API's request bodies checked against the OpenAPI document the
gateway serves (`openapi.json`, beside this module), so that the published document and the checks
cannot drift apart: the API (`gateway.http.bodies`) and the bulk import (`hoso dossiers import`)
check bodies here alike.

What a refusal says names the field and the rule broken, in JSON terms: never a Python repr of the
value sent.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

_SHOWN = 60  # characters of a field name or value quoted back at most


class InvalidBody(ValueError):
    """A body that breaks its schema; `detail` says where and how ("code: string expected")."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@functools.cache
def openapi_document() -> dict[str, Any]:
    text = resources.files("gateway").joinpath("openapi.json").read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


@functools.cache
def _validator(schema_name: str) -> Draft202012Validator:
    doc = openapi_document()
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": doc["components"]}
    return Draft202012Validator(root)


def checked(schema_name: str, body: object) -> dict[str, Any]:
    """`body`, valid against the OpenAPI schema `schema_name` (every schema is of an object), or
    `InvalidBody`."""
    error = schema_error(schema_name, body)
    if error:
        raise InvalidBody(error)
    if not isinstance(body, dict):  # the schemas only accept objects; this narrows the type
        raise InvalidBody("body: an object expected")
    return body


def schema_error(schema_name: str, body: object) -> str | None:
    """The first way `body` breaks the OpenAPI schema `schema_name` ("where: what"), or None."""
    errors = sorted(_validator(schema_name).iter_errors(body), key=lambda e: list(e.path))
    if not errors:
        return None
    first = errors[0]
    where = _shown(".".join(str(p) for p in first.path) or "body", quoted=False)
    return f"{where}: {_rule_broken(first)}"


def _rule_broken(error: ValidationError) -> str:
    """What `error` says, with the schema's words and the values in JSON."""
    rule, instance = error.validator, error.instance
    value: Any = error.validator_value
    if rule == "type":
        wanted = value if isinstance(value, list) else [value]
        return f"{' or '.join(map(str, wanted))} expected"
    if rule == "required" and isinstance(instance, dict):
        missing = [name for name in value if name not in instance]
        return f"{_shown(missing[0] if missing else value[0])} is required"
    if rule == "additionalProperties" and isinstance(instance, dict):
        known = set(error.schema.get("properties", {})) if isinstance(error.schema, dict) else set()
        extra = sorted(str(name) for name in instance if name not in known)
        return f"{_shown(extra[0]) if extra else 'a field'} is not allowed"
    if rule in ("enum", "const"):
        return f"one of {_shown(value if rule == 'enum' else [value])} expected"
    if rule == "pattern":
        return f"does not match the pattern {value}"
    if rule == "format":
        return f"not a valid {value}"
    if rule in _BOUNDS:
        return f"{_BOUNDS[rule]} {value}"
    return f"does not match the schema ({rule})"


_BOUNDS = {
    "minLength": "characters: at least",
    "maxLength": "characters: at most",
    "minItems": "items: at least",
    "maxItems": "items: at most",
    "minProperties": "fields: at least",
    "maxProperties": "fields: at most",
    "minimum": "at least",
    "maximum": "at most",
    "exclusiveMinimum": "more than",
    "exclusiveMaximum": "less than",
}


def _shown(value: object, quoted: bool = True) -> str:
    """`value` as JSON (a name quoted), cut to `_SHOWN` characters."""
    text = json.dumps(value, ensure_ascii=False) if quoted else str(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"
