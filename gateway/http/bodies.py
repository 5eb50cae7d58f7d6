"""Request bodies: JSON parsed strictly and checked against the OpenAPI document's schemas, so
the published document and the checks cannot drift apart."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from flask import request
from jsonschema import Draft202012Validator

from gateway.http.problems import Problem


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
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
        raise Problem(400, "malformed-json", "Malformed JSON", f"Body is not JSON: {exc}") from exc
    error = schema_error(schema_name, body)
    if error:
        raise Problem(422, "invalid-field", "Invalid field", error)
    if not isinstance(body, dict):  # the schemas only accept objects; this narrows the type
        raise Problem(422, "invalid-field", "Invalid field", "body: an object expected")
    return body


def schema_error(schema_name: str, body: object) -> str | None:
    """The first way `body` breaks the OpenAPI schema `schema_name` ("where: what"), or None."""
    errors = sorted(_validator(schema_name).iter_errors(body), key=lambda e: list(e.path))
    if not errors:
        return None
    first = errors[0]
    where = ".".join(str(p) for p in first.path) or "body"
    return f"{where}: {first.message}"


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")
