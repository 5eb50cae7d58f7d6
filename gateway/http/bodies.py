"""Request bodies: read whole or refused, JSON parsed strictly and checked against the OpenAPI
document's schemas (`gateway.schemas`), so the published document and the checks cannot drift
apart.

A body over the request's `max_content_length` is a 413 however it comes, chunked included
(`BoundedRequest`: Werkzeug's own `get_data` stops quietly at the limit when no Content-Length
was sent). Problem details name the field and the rule broken, in JSON terms: never a Python
repr of the value sent.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Request, request
from werkzeug.exceptions import RequestEntityTooLarge

from gateway.http.problems import Problem
from gateway.schemas import InvalidBody, checked

MAX_DEPTH = 32  # arrays and objects inside each other; our schemas need 3


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


def json_body(schema_name: str) -> dict[str, Any]:
    """The request's JSON object, valid against `schema_name`, or a 4xx problem."""
    try:
        return checked(schema_name, json_request())
    except InvalidBody as exc:
        raise Problem(422, "invalid-field", "Invalid field", exc.detail) from exc


def json_request() -> object:
    """The request's body as a JSON value (not checked against a schema yet), or a 4xx
    problem: 415 for another media type, 400 for a body that is not JSON."""
    mimetype = request.mimetype
    if mimetype and mimetype != "application/json" and not mimetype.endswith("+json"):
        raise Problem(
            415, "unsupported-media-type", "Unsupported media type", "Send application/json."
        )
    raw = request.get_data(cache=True)
    assert isinstance(raw, bytes)
    return parse_json(raw)


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
