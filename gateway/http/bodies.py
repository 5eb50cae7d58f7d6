"""Request bodies: read whole or refused, JSON parsed strictly and checked against the OpenAPI
document's schemas, so the published document and the checks cannot drift apart.

A body over the request's `max_content_length` is a 413 however it comes, chunked included
(`BoundedRequest`: Werkzeug's own `get_data` stops quietly at the limit when no Content-Length
was sent). Problem details name the field and the rule broken, in JSON terms: never a Python
repr of the value sent.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from flask import Request, request
from jsonschema import Draft202012Validator, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from gateway.http.problems import Problem

MAX_DEPTH = 32  # arrays and objects inside each other; our schemas need 3
_SHOWN = 60  # characters of a field name or value quoted back at most


class BoundedRequest(Request):
    """Flask's request, whose body is all of it or a 413 (`RequestEntityTooLarge`)."""

    def get_data(  # type: ignore[override]
        self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False
    ) -> bytes | str:
        data = super().get_data(cache=cache, as_text=False, parse_form_data=parse_form_data)
        limit = self.max_content_length
        if limit is not None and len(data) >= limit and self._more_follows():
            raise RequestEntityTooLarge()
        return data.decode(errors="replace") if as_text else data

    def _more_follows(self) -> bool:
        """Whether the client sent more than what was read (the server's stream ends the body:
        gunicorn's for chunked and Content-Length bodies alike)."""
        try:
            return bool(self.environ["wsgi.input"].read(1))
        except (OSError, ValueError):
            return False


@functools.cache
def openapi_document() -> dict[str, Any]:
    text = resources.files("gateway.http").joinpath("openapi.json").read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


@functools.cache
def _validator(schema_name: str) -> Draft202012Validator:
    doc = openapi_document()
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": doc["components"]}
    return Draft202012Validator(root)


def json_body(schema_name: str) -> dict[str, Any]:
    """The request's JSON object, valid against `schema_name`, or a 4xx problem."""
    mimetype = request.mimetype
    if mimetype and mimetype != "application/json" and not mimetype.endswith("+json"):
        raise Problem(
            415, "unsupported-media-type", "Unsupported media type", "Send application/json."
        )
    raw = request.get_data(cache=True)
    assert isinstance(raw, bytes)
    body = parse_json(raw)
    error = schema_error(schema_name, body)
    if error:
        raise Problem(422, "invalid-field", "Invalid field", error)
    if not isinstance(body, dict):  # the schemas only accept objects; this narrows the type
        raise Problem(422, "invalid-field", "Invalid field", "body: an object expected")
    return body


def parse_json(raw: bytes) -> object:
    """The JSON value in `raw`, nested at most `MAX_DEPTH` deep, or a 400 problem."""
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise _malformed("not UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise _malformed(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except _NotJson as exc:
        raise _malformed(f"{exc.constant} is not JSON") from exc
    except RecursionError as exc:  # Python's parser gives up at about 1,000 levels
        raise _malformed(f"nested deeper than {MAX_DEPTH} levels") from exc
    if _depth(body) > MAX_DEPTH:
        raise _malformed(f"nested deeper than {MAX_DEPTH} levels")
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


def _depth(value: object) -> int:
    """How deep arrays and objects nest in a parsed JSON value (without recursing)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:
                children = item.values() if isinstance(item, dict) else item
                stack.extend((child, depth + 1) for child in children)
    return deepest


def _malformed(why: str) -> Problem:
    return Problem(400, "malformed-json", "Malformed JSON", f"Body is not JSON: {why}.")


class _NotJson(ValueError):
    def __init__(self, constant: str) -> None:
        super().__init__(constant)
        self.constant = constant


def _reject_constant(name: str) -> object:
    raise _NotJson(name)
