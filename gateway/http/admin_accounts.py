"""Dashboard accounts: everyone changes their own password; administrators set a new one for
the accounts they manage (a reset: a province administrator any account, an office administrator
those of its office below a province administrator, `gateway.core.roles.may_manage`; any other
account is treated as unknown). Either way every session of that account ends at once (the account's
session generation moves on, `AdminUsers.set_password`); the browser that made the change gets
a fresh session, so its user stays logged in. The CLI's `hoso admin set-password` does the same.
Changing one's own password asks for the current one, counted by the login throttle."""

from __future__ import annotations

import logging

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gateway.core import roles
from gateway.core.accounts import MIN_PASSWORD, InvalidAccount
from gateway.core.roles import Permission
from gateway.http import admin_auth as auth
from gateway.http.context import services
from gateway.http.proxies import client_address
from gateway.store.users import AdminUser, LoginOutcome, UserError

log = logging.getLogger(__name__)

bp = Blueprint("admin_accounts", __name__, url_prefix="/admin")

ROLE_LABELS = {role.value: label for role, label in roles.LABELS.items()}


auth.install_pages(bp, role_labels=ROLE_LABELS, min_password=MIN_PASSWORD)


def _new_password() -> str | None:
    """The new password typed twice, or None (with the reason flashed)."""
    password = request.form.get("new_password", "")
    if password != request.form.get("repeat_password", ""):
        flash("Hai lần nhập mật khẩu mới không giống nhau. Chưa thay đổi gì.", "error")
        return None
    return password


def _set(username: str, password: str) -> bool:
    try:
        auth.users().set_password(username, password)
    except (InvalidAccount, UserError):
        _set_refused()
        return False
    return True


def _set_refused() -> None:
    flash(
        f"Mật khẩu mới phải dài từ {MIN_PASSWORD} ký tự (và tài khoản phải tồn tại). "
        "Chưa thay đổi gì.",
        "error",
    )


@bp.get("/account")
@auth.login_required()
def account_page() -> ResponseReturnValue:
    accounts = [a for a in auth.users().all() if _manages(a)]
    return render_template("admin/account.html", accounts=accounts)


def _manages(account: AdminUser) -> bool:
    me = auth.user()
    return roles.may_manage(me.role, me.office, account.role, account.office)


@bp.post("/account/password")
@auth.login_required()
def change_own_password() -> ResponseReturnValue:
    me = auth.user()
    back = redirect(url_for("admin_accounts.account_page"))
    throttle = auth.throttle()
    address = client_address()
    verdict = throttle.admit(me.username, address, services().clock())
    if not verdict.admitted:
        flash("Quá nhiều lần nhập sai mật khẩu. Hãy thử lại sau ít phút.", "error")
        return back
    if (
        auth.users().login(me.username, request.form.get("password", "")).outcome
        is not LoginOutcome.OK
    ):
        flash("Mật khẩu hiện tại không đúng. Chưa thay đổi gì.", "error")
        return back
    throttle.succeeded(me.username, address)
    password = _new_password()
    if password is None or not _set(me.username, password):
        return back
    auth.start_session(me)  # this browser goes on; every other session has ended
    log.info("admin.password_changed user=%s", me.username)
    flash("Đã đổi mật khẩu. Mọi phiên đăng nhập khác của tài khoản này đã kết thúc.", "ok")
    return back


@bp.post("/accounts/<username>/password")
@auth.login_required(Permission.MANAGE_ACCOUNTS)
def reset_password(username: str) -> ResponseReturnValue:
    back = redirect(url_for("admin_accounts.account_page"))
    target = auth.users().get(username)
    if target is not None and not _manages(target):
        target = None  # an account the user does not manage is as unknown
    if target is None:
        _set_refused()
        return back
    password = _new_password()
    if password is None or not _set(username, password):
        return back
    if target.username == auth.user().username:
        auth.start_session(target)
    log.info("admin.password_reset user=%s account=%s", auth.user().username, username)
    flash(
        f"Đã đặt mật khẩu mới cho {username}. Mọi phiên đăng nhập của tài khoản này đã kết thúc.",
        "ok",
    )
    return back
