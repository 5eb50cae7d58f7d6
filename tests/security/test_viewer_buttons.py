"""What a viewer (role "viewer", e.g. a leader) is shown on the dashboard, every page with real
data behind it: no button or form for an action its role cannot do.

Found: a viewer saw "Thu hồi" (revoke) buttons it could not use. Each change is refused to a
viewer on the server (tests/integration/test_admin.py); here: none is offered either."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import redis
from flask import Flask

from gateway.http.app import create_app
from tests.conftest import MASTER_KEY, Clock
from tests.dashboard_data import ADMIN, VIEWER, dashboard_settings, every_page, fill, log_in

FORM = re.compile(r"<form\b[^>]*>", re.S)
ACTION = re.compile(r'action="([^"]*)"')
METHOD = re.compile(r'method="([^"]*)"', re.I)
BUTTON = re.compile(r"<button\b[^>]*>(.*?)</button>", re.S)
# What anyone logged in may post: logging out, previewing a template, their own password.
ANYONE_MAY_POST = re.compile(r"^/admin/(logout|templates/[a-z_]+|account/password)$")
ADMIN_ONLY_LABELS = {
    "Thu hồi",
    "Tạo khóa",
    "Tắt",
    "Bật lại",
    "Bỏ cách ly",
    "Lưu giới hạn",
    "Bỏ các thay đổi",
    "Gửi lại",
    "Lưu",
    "Khôi phục mặc định",
    "Đặt mật khẩu mới",
    "Lưu đơn vị",
}


@pytest.fixture
def app(tmp_path: Path, redis_client: redis.Redis, clock: Clock) -> Flask:
    settings = dashboard_settings(str(tmp_path / "session.key"))
    return create_app(settings, redis_client, MASTER_KEY, clock)


def offered(page: str) -> tuple[set[str], set[str]]:
    """The buttons' labels and the actions of the forms that post."""
    labels = {re.sub(r"<[^>]+>|\s+", " ", b).strip() for b in BUTTON.findall(page)}
    posting = set()
    for form in FORM.findall(page):
        method = METHOD.search(form)
        if method and method.group(1).lower() == "post":
            found = ACTION.search(form)
            posting.add(found.group(1) if found else "")
    return labels, posting


def test_a_viewer_is_offered_no_action_its_role_cannot_do(
    app: Flask, redis_client: redis.Redis, clock: Clock
) -> None:
    filled = fill(redis_client, clock)
    admin, viewer = log_in(app, ADMIN), log_in(app, VIEWER)
    seen_by_admin: set[str] = set()
    for path in every_page(filled):
        as_admin = admin.get(path).get_data(as_text=True)
        labels, _ = offered(as_admin)
        seen_by_admin |= labels
        answer = viewer.get(path)
        assert answer.status_code in (200, 404), path
        page = answer.get_data(as_text=True)
        labels, posting = offered(page)
        assert not labels & ADMIN_ONLY_LABELS, (path, labels & ADMIN_ONLY_LABELS)
        assert all(ANYONE_MAY_POST.match(a) for a in posting), (path, posting)
        assert "readonly" in page or "/admin/templates/" not in path or path.endswith("templates")
    # The same pages, to an administrator, do hold these controls: the check can see them.
    assert seen_by_admin >= ADMIN_ONLY_LABELS
