"""What people read on the dashboard, every page rendered with real data: times in Vietnam's
time written dd/mm/yyyy HH:MM, statuses by their Vietnamese labels, never an ISO timestamp, a
UTC time, microseconds, an English status name or a Python repr."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
import redis
from flask import Flask

from gateway.core.status import Status
from gateway.http.app import create_app
from tests.conftest import MASTER_KEY, Clock
from tests.dashboard_data import ADMIN, dashboard_settings, every_page, fill, log_in

ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
UTC_TIME = re.compile(r"\bUTC\b|\bGMT\b|[+-]00:00|Z\b(?=[\"'<\s])|\+07:00")
MICROSECONDS = re.compile(r"\d{2}:\d{2}:\d{2}\.\d+")
SECONDS = re.compile(r"\b\d{2}:\d{2}:\d{2}\b")
ENGLISH_STATUS = re.compile(r"\b(" + "|".join(s.name for s in Status) + r")\b")
REPR = re.compile(r"object at 0x|Traceback|<class '|\bNone\b|\bTrue\b|\bFalse\b|\{'|\['")
SHOWN_TIME = re.compile(r"\b\d{2}/\d{2}/\d{4} \d{2}:\d{2}\b")


@pytest.fixture
def app(tmp_path: Path, redis_client: redis.Redis, clock: Clock) -> Flask:
    settings = dashboard_settings(str(tmp_path / "session.key"))
    return create_app(settings, redis_client, MASTER_KEY, clock)


def readable(html: str) -> str:
    """The text a person reads: no tags, no attribute values, no script."""
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", text))


def test_no_dashboard_page_shows_iso_utc_microseconds_english_statuses_or_reprs(
    app: Flask, redis_client: redis.Redis, clock: Clock
) -> None:
    filled = fill(redis_client, clock)
    admin = log_in(app, ADMIN)
    times_seen = 0
    for path in every_page(filled):
        answer = admin.get(path)
        assert answer.status_code in (200, 404), path
        text = readable(answer.get_data(as_text=True))
        for rule in (ISO, UTC_TIME, MICROSECONDS, SECONDS, ENGLISH_STATUS, REPR):
            found = rule.search(text)
            assert found is None, (path, found.group(0) if found else "", rule.pattern)
        times_seen += len(SHOWN_TIME.findall(text))
    assert times_seen > 20  # the pages do show times, in the local form


def test_the_times_shown_are_vietnams_local_times(
    app: Flask, redis_client: redis.Redis, clock: Clock
) -> None:
    filled = fill(redis_client, clock)
    admin = log_in(app, ADMIN)
    overdue = readable(admin.get("/admin/overdue").get_data(as_text=True))
    # due 2 days 3 hours before 29/04/2024 09:15 (Vietnam): 27/04/2024 06:15
    assert "27/04/2024 06:15" in overdue
    assert "Đang xử lý" in overdue
    messages = readable(admin.get("/admin/messages").get_data(as_text=True))
    assert "29/04/2024 09:15" in messages  # queued at 02:15 UTC
    stations = readable(admin.get("/admin/stations").get_data(as_text=True))
    assert "Đã trả kết quả" in stations
    assert "Đang xử lý" in stations
    keys_page = readable(admin.get("/admin/keys").get_data(as_text=True))
    assert "28/04/2024 09:15" in keys_page  # revoked a day before now
    dossier = readable(admin.get(f"/admin/dossiers/{filled.overdue}").get_data(as_text=True))
    assert "Quầy quét quay-1" in dossier
    assert "Quá hạn" in dossier
