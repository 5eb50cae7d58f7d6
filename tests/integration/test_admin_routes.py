"""Routing rules and carrier links in the dashboard, the admin API and /metrics: administrators
change rules (checked, in Vietnamese), viewers and forged forms change nothing, the pool page and
/metrics show the links' health and throughput."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from config.settings import AdminSettings, GatewaySettings, RouteSettings, Settings, SmppSettings
from gateway.store.links import LinkRegistry
from gateway.store.routes import RouteRules
from gateway.store.users import AdminUsers, Role
from tests.integration.test_admin import ADMIN, CSRF_FIELD, PASSWORD, VIEWER, api, login

LINK = SmppSettings(
    id="brand", host="127.0.0.1", system_id="hoso", password="x", source="UBND BADINH"
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        gateway=replace(GatewaySettings(), rate_per_minute=1000),
        admin=AdminSettings(session_key_file=str(tmp_path / "keys" / "session.key")),
        smpp=(LINK,),
        routes=(RouteSettings("notification", ("link:brand", "modems")),),
    )


@pytest.fixture
def accounts(redis_client: redis.Redis) -> AdminUsers:
    users = AdminUsers(redis_client)
    users.create(ADMIN, PASSWORD, Role.ADMIN)
    users.create(VIEWER, PASSWORD, Role.VIEWER)
    return users


@pytest.fixture
def admin(app: Flask, accounts: AdminUsers) -> FlaskClient:
    client = app.test_client()
    assert login(client, ADMIN).status_code == 302
    return client


@pytest.fixture
def viewer(app: Flask, accounts: AdminUsers) -> FlaskClient:
    client = app.test_client()
    assert login(client, VIEWER).status_code == 302
    return client


def page_token(client: FlaskClient) -> str:
    found = CSRF_FIELD.search(client.get("/admin/routes").get_data(as_text=True))
    assert found is not None
    return found.group(1)


def rules_of(redis_client: redis.Redis, settings: Settings) -> dict[tuple[str, str], str]:
    return {
        (r.office, r.kind.value): ", ".join(str(x) for x in r.routes)
        for r in RouteRules(redis_client, settings.routes).shown()
    }


def test_an_administrator_sees_the_rules_in_vietnamese_and_changes_one(
    admin: FlaskClient, redis_client: redis.Redis, settings: Settings
) -> None:
    page = admin.get("/admin/routes").get_data(as_text=True)
    assert "Định tuyến tin nhắn" in page
    assert "Kênh nhà mạng brand" in page
    assert "Tệp cấu hình" in page
    assert "Số công dân đã nhắn tới" in page  # the default reply rule
    answer = admin.post(
        "/admin/routes",
        data={
            "csrf_token": page_token(admin),
            "office": "*",
            "kind": "reply",
            "routes": "origin, link:brand, modems",
            "action": "save",
        },
    )
    assert answer.status_code == 302
    assert rules_of(redis_client, settings)[("*", "reply")] == "origin, link:brand, modems"
    assert "Đã lưu quy tắc." in admin.get(answer.headers["Location"]).get_data(as_text=True)
    admin.post(
        "/admin/routes",
        data={"csrf_token": page_token(admin), "office": "*", "kind": "reply", "action": "reset"},
    )
    assert rules_of(redis_client, settings)[("*", "reply")] == "origin, modems"


def test_a_rule_naming_an_unknown_link_is_refused_with_a_vietnamese_reason(
    admin: FlaskClient, redis_client: redis.Redis, settings: Settings
) -> None:
    answer = admin.post(
        "/admin/routes",
        data={
            "csrf_token": page_token(admin),
            "office": "*",
            "kind": "notification",
            "routes": "link:viettel",
            "action": "save",
        },
    )
    assert answer.status_code == 422
    assert "Không có kênh nhà mạng “viettel”" in answer.get_data(as_text=True)
    assert rules_of(redis_client, settings)[("*", "notification")] == "link:brand, modems"


def test_a_viewer_may_neither_see_nor_change_the_rules(
    viewer: FlaskClient, redis_client: redis.Redis, settings: Settings
) -> None:
    assert viewer.get("/admin/routes").status_code == 403
    assert api(viewer, "GET", "/admin/api/routes").status_code == 403
    changed = api(viewer, "PUT", "/admin/api/routes/*/notification", {"routes": ["modems"]})
    assert changed.status_code == 403
    assert rules_of(redis_client, settings)[("*", "notification")] == "link:brand, modems"


def test_a_change_without_the_sessions_csrf_token_is_refused(
    admin: FlaskClient, redis_client: redis.Redis, settings: Settings
) -> None:
    forged = admin.post(
        "/admin/routes",
        data={"office": "*", "kind": "notification", "routes": "modems", "action": "save"},
    )
    assert forged.status_code == 403
    wrong = api(admin, "PUT", "/admin/api/routes/*/notification", {"routes": ["modems"]}, "x")
    assert wrong.status_code == 403
    assert rules_of(redis_client, settings)[("*", "notification")] == "link:brand, modems"


def test_the_admin_api_changes_and_resets_a_rule(
    admin: FlaskClient, redis_client: redis.Redis, settings: Settings
) -> None:
    answer = api(admin, "PUT", "/admin/api/routes/*/notification", {"routes": ["modems"]})
    assert answer.status_code == 200
    assert rules_of(redis_client, settings)[("*", "notification")] == "modems"
    refused = api(admin, "PUT", "/admin/api/routes/*/notification", {"routes": ["origin"]})
    assert refused.status_code == 422
    assert refused.get_json()["type"].endswith("/invalid-route")
    assert api(admin, "DELETE", "/admin/api/routes/*/notification").status_code == 200
    assert rules_of(redis_client, settings)[("*", "notification")] == "link:brand, modems"


def publish_busy_link(redis_client: redis.Redis) -> None:
    registry = LinkRegistry(redis_client)
    registry.publish_health(
        "brand",
        {"state": "up", "in_flight": 7, "window": 10, "tps": 50, "rate": "42.5", "throttled": 0},
    )
    registry.count("brand", {"submitted": 1200, "receipts:DELIVRD": 1100, "receipts:UNDELIV": 3})


def test_the_pool_page_shows_each_links_health_and_throughput_to_a_viewer(
    viewer: FlaskClient, redis_client: redis.Redis
) -> None:
    publish_busy_link(redis_client)
    page = viewer.get("/admin/modems").get_data(as_text=True)
    assert "Kênh nhà mạng (SMPP)" in page
    assert "42,5 tin/giây" in page
    assert "7 / 10" in page
    assert "UBND BADINH" in page
    assert "Định tuyến tin nhắn" not in page  # the routing page is for administrators
    links = api(viewer, "GET", "/admin/api/links").get_json()["links"]
    assert links[0]["id"] == "brand"
    assert links[0]["failed"] == 3


def test_metrics_export_the_links_health_and_counters(
    app: Flask, redis_client: redis.Redis
) -> None:
    publish_busy_link(redis_client)
    text = app.test_client().get("/metrics").get_data(as_text=True)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("hoso_smpp_up", (("link", "brand"),))] == 1
    assert samples[("hoso_smpp_in_flight", (("link", "brand"),))] == 7
    assert samples[("hoso_smpp_submitted_total", (("link", "brand"),))] == 1200
    assert samples[("hoso_smpp_receipts_total", (("link", "brand"), ("state", "UNDELIV")))] == 3
    assert samples[("hoso_smpp_submit_rate", (("link", "brand"),))] == 42.5
