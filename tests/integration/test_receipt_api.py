"""Receipts over the API, and decoding a photographed receipt."""

from __future__ import annotations

import io

from flask import Flask
from PIL import Image

from tests.factories import registration_body
from tests.signing import AppClient

CODE = "000.00.20.H57-240423-0001"


def test_a_department_prints_its_receipt_in_three_formats_that_scan_back(
    app: Flask, tuphap: AppClient
) -> None:
    created = tuphap.post("/api/v1/dossiers", registration_body(1)).body
    for fmt, media in (("svg", "image/svg+xml"), ("html", "text/html")):
        answer = tuphap.get(f"/api/v1/dossiers/{CODE}/receipt?format={fmt}&width=58")
        assert answer.status == 200, answer.text
        assert answer.headers["Content-Type"].startswith(media)
    target = f"/api/v1/dossiers/{CODE}/receipt?format=png"
    png = tuphap.client.open(target, headers=tuphap.signer.headers("GET", target, b""))
    assert png.status_code == 200
    assert png.mimetype == "image/png"
    web = app.test_client()
    decoded = web.post("/api/v1/decode", data=png.get_data(), content_type="image/png").get_json()
    assert {(c["kind"], c["text"]) for c in decoded["codes"]} == {
        ("full", CODE),
        ("short", created["short_code"]),
    }
    html = tuphap.get(f"/api/v1/dossiers/{CODE}/receipt?format=html").text
    assert created["secret"] in html


def test_another_departments_receipt_is_404_and_bad_options_are_422(
    tuphap: AppClient, diachinh: AppClient
) -> None:
    tuphap.post("/api/v1/dossiers", registration_body(1))
    assert diachinh.get(f"/api/v1/dossiers/{CODE}/receipt").status == 404
    assert tuphap.get(f"/api/v1/dossiers/{CODE}/receipt?format=pdf").status == 422
    assert tuphap.get(f"/api/v1/dossiers/{CODE}/receipt?width=100").status == 422


def test_decoding_refuses_what_is_not_an_image_and_reads_forms(app: Flask) -> None:
    web = app.test_client()
    garbage = web.post("/api/v1/decode", data=b"\x89PNG not really", content_type="image/png")
    assert garbage.status_code == 422
    assert garbage.get_json()["type"] == "/problems/not-an-image"
    assert web.post("/api/v1/decode", data=b"hello", content_type="text/plain").status_code == 415
    blank = io.BytesIO()
    Image.new("L", (200, 100), 255).save(blank, format="PNG")
    form = web.post(
        "/api/v1/decode",
        data={"image": (io.BytesIO(blank.getvalue()), "photo.png")},
        content_type="multipart/form-data",
    )
    assert form.status_code == 200
    assert form.get_json() == {"codes": []}


def test_decoding_is_rate_limited_per_address(app: Flask) -> None:
    web = app.test_client()
    statuses = [
        web.post("/api/v1/decode", data=b"x", content_type="image/png").status_code
        for _ in range(32)
    ]
    assert statuses[:30] == [422] * 30
    assert statuses[30] == 429
