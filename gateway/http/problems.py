"""Errors as HTTP answers: one table from error to status, answers in RFC 9457 problem+json."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
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
]


def problem_response(problem: Problem) -> Response:
    body = problem.extensions | {
        "type": PROBLEM_TYPE_BASE + problem.slug,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
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
            detail = "No such dossier." if isinstance(exc, UnknownDossier) else str(exc)
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
