"""The OpenAPI document of API v1, served as written (it also drives request validation)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from gateway.schemas import openapi_document

bp = Blueprint("openapi", __name__)


@bp.get("/api/v1/openapi.json")
def document() -> Response:
    return jsonify(openapi_document())
