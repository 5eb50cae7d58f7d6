"""/healthz (the process answers) and /readyz (it can reach Redis), for probes."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from gateway.http.context import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Response | tuple[Response, int, dict[str, str]]:
    if services().ping():
        return jsonify(status="ready", redis="ok")
    return jsonify(status="unavailable", redis="unreachable"), 503, {"Retry-After": "5"}
