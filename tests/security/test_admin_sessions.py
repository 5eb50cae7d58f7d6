"""A password change or reset ends the account's sessions, against a real `hoso gateway`.

Found: changing or resetting a password left every session of the account alive (a stolen
session outlived the password change meant to end it). Now the account's session generation
moves on with the password, and every session opened before is refused."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Gateway, running_gateway
from tests.security.dashboard import Visitor, create_user

ADMIN, VIEWER = "quantri", "lanhdao"
OLD, NEW, NEWER = "mat-khau-cu-2024", "mat-khau-moi-2025", "mat-khau-moi-hon-26"


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(tmp_path) as running:
        create_user(running, ADMIN, OLD, "admin")
        create_user(running, VIEWER, OLD, "viewer")
        yield running


def logged_in(gateway: Gateway, username: str, password: str, address: str) -> Visitor:
    visitor = Visitor(gateway.base, address=address)
    assert visitor.log_in(username, password).location == "/admin/modems"
    assert is_live(visitor)
    return visitor


def is_live(visitor: Visitor) -> bool:
    answer = visitor.get("/admin/api/session")
    assert answer.status in (200, 401)
    return answer.status == 200


@pytest.mark.slow
def test_changing_ones_password_ends_every_other_session(gateway: Gateway) -> None:
    office = logged_in(gateway, ADMIN, OLD, "127.0.0.1")
    stolen = logged_in(gateway, ADMIN, OLD, "127.0.0.5")  # a session someone else holds
    viewer = logged_in(gateway, VIEWER, OLD, "127.0.0.6")

    office.get("/admin/account")
    changed = office.post(
        "/admin/account/password",
        {"password": OLD, "new_password": NEW, "repeat_password": NEW},
    )
    assert changed.location == "/admin/account"
    assert "Đã đổi mật khẩu" in office.get("/admin/account").text
    assert is_live(office)  # the browser that changed it goes on
    assert not is_live(stolen)
    assert stolen.get("/admin/modems").location.startswith("/admin/login")
    assert is_live(viewer)  # another account is untouched

    assert Visitor(gateway.base).log_in(ADMIN, OLD).status == 401
    assert Visitor(gateway.base).log_in(ADMIN, NEW).location == "/admin/modems"


@pytest.mark.slow
def test_a_reset_from_the_dashboard_ends_the_accounts_sessions(gateway: Gateway) -> None:
    admin = logged_in(gateway, ADMIN, OLD, "127.0.0.1")
    viewer = logged_in(gateway, VIEWER, OLD, "127.0.0.7")
    admin.get("/admin/account")
    reset = admin.post(
        f"/admin/accounts/{VIEWER}/password", {"new_password": NEW, "repeat_password": NEW}
    )
    assert reset.location == "/admin/account"
    assert f"Đã đặt mật khẩu mới cho {VIEWER}" in admin.get("/admin/account").text
    assert not is_live(viewer)
    assert is_live(admin)
    assert Visitor(gateway.base, address="127.0.0.7").log_in(VIEWER, NEW).status == 302


@pytest.mark.slow
def test_set_password_from_the_cli_ends_every_session(gateway: Gateway) -> None:
    sessions = [logged_in(gateway, ADMIN, OLD, f"127.0.0.{n}") for n in (1, 8)]
    done = subprocess.run(
        [sys.executable, "-m", "hoso.cli", "admin", "set-password", ADMIN, "--password-stdin"],
        input=NEWER + "\n",
        env=gateway.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "every session of the account has ended" in done.stdout
    assert not any(is_live(s) for s in sessions)
    assert Visitor(gateway.base).log_in(ADMIN, NEWER).location == "/admin/modems"


@pytest.mark.slow
def test_a_viewer_may_not_reset_another_accounts_password(gateway: Gateway) -> None:
    admin = logged_in(gateway, ADMIN, OLD, "127.0.0.1")
    viewer = logged_in(gateway, VIEWER, OLD, "127.0.0.9")
    viewer.get("/admin/account")
    refused = viewer.post(
        f"/admin/accounts/{ADMIN}/password", {"new_password": NEW, "repeat_password": NEW}
    )
    assert refused.status == 403
    assert is_live(admin)
    assert Visitor(gateway.base).log_in(ADMIN, OLD).status == 302
