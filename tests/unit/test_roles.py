"""What each dashboard role may do, and over which offices (`gateway.core.roles`)."""

from __future__ import annotations

import pytest

from gateway.core.roles import (
    PROVINCE,
    SHARED_POOL,
    InvalidScope,
    Permission,
    Role,
    check_scope,
    may,
    may_manage,
    sees,
    visible_offices,
)


def test_an_account_stored_before_offices_as_admin_is_a_province_administrator() -> None:
    assert Role("admin") is Role.PROVINCE_ADMIN
    assert Role(Role.ADMIN.value) is Role.PROVINCE_ADMIN  # the name before offices
    assert Role("viewer") is Role.VIEWER
    with pytest.raises(ValueError, match="root"):
        Role("root")


def test_a_province_administrator_may_do_everything_everywhere() -> None:
    assert all(may(Role.PROVINCE_ADMIN, p) for p in Permission)
    assert visible_offices(Role.PROVINCE_ADMIN, PROVINCE) is None


def test_an_office_administrator_runs_its_office_but_not_the_province() -> None:
    for allowed in (Permission.CHANGE_MODEMS, Permission.CHANGE_SETUP, Permission.RESEND):
        assert may(Role.OFFICE_ADMIN, allowed)
    for refused in (
        Permission.MANAGE_OFFICES,
        Permission.MANAGE_ROUTES,
        Permission.CHANGE_TEMPLATES,
    ):
        assert not may(Role.OFFICE_ADMIN, refused)
    assert visible_offices(Role.OFFICE_ADMIN, "phuong-a") == frozenset({"phuong-a"})


def test_a_leader_reads_dossiers_and_charts_only() -> None:
    granted = {p for p in Permission if may(Role.LEADER, p)}
    assert granted == {Permission.READ_DOSSIERS, Permission.READ_CHARTS}


def test_a_viewer_reads_and_changes_nothing() -> None:
    granted = {p for p in Permission if may(Role.VIEWER, p)}
    assert granted == {
        Permission.READ_DOSSIERS,
        Permission.READ_CHARTS,
        Permission.READ_MESSAGES,
        Permission.READ_SETUP,
    }


def test_a_province_leader_sees_every_office_an_office_leader_its_own() -> None:
    assert visible_offices(Role.LEADER, PROVINCE) is None
    office = visible_offices(Role.LEADER, "phuong-a")
    assert sees(office, "phuong-a")
    assert not sees(office, "phuong-b")
    assert not sees(office, SHARED_POOL)  # the shared pool is the province's
    assert sees(None, SHARED_POOL)


def test_roles_and_offices_that_go_together() -> None:
    assert check_scope(Role.PROVINCE_ADMIN, PROVINCE) == PROVINCE
    assert check_scope(Role.OFFICE_ADMIN, "phuong-a") == "phuong-a"
    assert check_scope(Role.LEADER, PROVINCE) == PROVINCE
    for role, office in (
        (Role.PROVINCE_ADMIN, "phuong-a"),
        (Role.OFFICE_ADMIN, PROVINCE),
        (Role.VIEWER, ""),
    ):
        with pytest.raises(InvalidScope):
            check_scope(role, office)


def test_an_office_administrator_manages_its_office_below_the_province() -> None:
    a = "phuong-a"
    assert may_manage(Role.OFFICE_ADMIN, a, Role.VIEWER, a)
    assert may_manage(Role.OFFICE_ADMIN, a, Role.LEADER, a)
    assert may_manage(Role.OFFICE_ADMIN, a, Role.OFFICE_ADMIN, a)
    assert not may_manage(Role.OFFICE_ADMIN, a, Role.VIEWER, "phuong-b")
    assert not may_manage(Role.OFFICE_ADMIN, a, Role.LEADER, PROVINCE)
    assert not may_manage(Role.OFFICE_ADMIN, a, Role.PROVINCE_ADMIN, PROVINCE)
    assert may_manage(Role.PROVINCE_ADMIN, PROVINCE, Role.OFFICE_ADMIN, "phuong-b")
    assert not may_manage(Role.LEADER, PROVINCE, Role.VIEWER, a)
    assert not may_manage(Role.VIEWER, a, Role.VIEWER, a)
