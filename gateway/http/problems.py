"""Errors as HTTP answers: one table from error to status, answers in RFC 9457 problem+json.

A detail names facts in words and JSON: never a Python repr (of a value sent, or of an object of
ours, `<... object at 0x...>`), so it reads the same to every client and shows nothing of the
process.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

import redis
from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from gateway.core.errors import (
    CoreError,
    InvalidCode,
    InvalidDossier,
    InvalidPhone,
    InvalidTime,
    InvalidTransition,
)
from gateway.schemas import InvalidBody
from gateway.store.errors import DossierConflict, EventConflict, StoreError, UnknownDossier

log = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "/problems/"
MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    """An answer other than success, raised anywhere in a request and rendered here."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        headers: dict[str, str] | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extensions = dict(extensions or {})  # RFC 9457 extension members


# error class -> (status, type slug, title). The first matching class (in order) wins.
TABLE: list[tuple[type[Exception], int, str, str]] = [
    (UnknownDossier, 404, "unknown-dossier", "No such dossier"),
    (InvalidTransition, 409, "invalid-transition", "Status change not allowed"),
    (DossierConflict, 409, "dossier-conflict", "Dossier already registered differently"),
    (EventConflict, 409, "event-id-reused", "Event id already used for another event"),
    (InvalidCode, 422, "invalid-field", "Invalid field"),
    (InvalidPhone, 422, "invalid-field", "Invalid field"),
    (InvalidTime, 422, "invalid-field", "Invalid field"),
    (InvalidDossier, 422, "invalid-field", "Invalid field"),
    (InvalidBody, 422, "invalid-field", "Invalid field"),
]

_SHOWN = 60  # characters of a value sent quoted back at most


def quoted(value: object) -> str:
    """A value sent, quoted back in a detail as JSON writes a string (never Python's repr),
    cut to a few dozen characters."""
    text = json.dumps(value if isinstance(value, str) else str(value), ensure_ascii=False)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


# error class -> its detail; the core's own messages quote values with repr().
_DETAILS: dict[type[Exception], Callable[[Any], str]] = {
    UnknownDossier: lambda e: "No such dossier.",
    InvalidCode: lambda e: f"Not a dossier code: {quoted(e.text)}.",
    InvalidPhone: lambda e: "Not a phone number.",  # not echoed: it may be someone's number
    InvalidTime: lambda e: f"{e.field}: not an ISO 8601 time with an offset.",
    EventConflict: lambda e: f"Event id {quoted(e.event_id)} was used for another event.",
}
_REPR = re.compile(r"<[^<>]*\bat 0x[0-9a-fA-F]+>")


def problem_response(problem: Problem) -> Response:
    body = problem.extensions | {
        "type": PROBLEM_TYPE_BASE + problem.slug,
        "title": problem.title,
        "status": problem.status,
        "detail": _REPR.sub("…", problem.detail),  # a last guard: details are built without one
    }
    response = Response(
        json.dumps(body, ensure_ascii=False), status=problem.status, mimetype=MEDIA_TYPE
    )
    response.headers.update(problem.headers)
    return response


def from_error(exc: Exception) -> Problem | None:
    """The problem an error of ours stands for; None for anything unexpected."""
    if isinstance(exc, Problem):
        return exc
    for cls, status, slug, title in TABLE:
        if isinstance(exc, cls):
            explain = _DETAILS.get(type(exc))  # by exact type: a FutureTime says its own
            detail = explain(exc) if explain is not None else str(exc)
            return Problem(status, slug, title, detail)
    return None


_HTTP_SLUGS = {
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("body-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
}


def install(app: Flask) -> None:
    """Registers the error handlers on the app: every error becomes a problem+json answer."""

    @app.errorhandler(Problem)
    @app.errorhandler(CoreError)
    @app.errorhandler(StoreError)
    @app.errorhandler(InvalidBody)
    def _ours(exc: Exception) -> Response:
        problem = from_error(exc)
        if problem is None:
            log.error("request.failed error=%s", exc, exc_info=exc)
            problem = Problem(500, "internal", "Internal error", "See the server log.")
        return problem_response(problem)

    @app.errorhandler(redis.ConnectionError)
    @app.errorhandler(redis.TimeoutError)
    def _redis_down(exc: redis.RedisError) -> Response:
        log.warning("redis.unavailable error=%s", exc)
        return problem_response(
            Problem(
                503,
                "store-unavailable",
                "Store unavailable",
                "The store cannot be reached; nothing was recorded. Try again shortly.",
                {"Retry-After": "5"},
            )
        )

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        slug, title = _HTTP_SLUGS.get(status, ("http-error", exc.name))
        headers = {}
        if status == 405 and exc.response is None:
            allowed = getattr(exc, "valid_methods", None)
            if allowed:
                headers["Allow"] = ", ".join(allowed)
        return problem_response(Problem(status, slug, title, exc.description or title, headers))
