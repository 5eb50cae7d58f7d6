"""Dashboard accounts: everyone changes their own password; administrators set a new one for
any account (a reset). Either way every session of that account ends at once (the account's
session generation moves on, `AdminUsers.set_password`); the browser that made the change gets
a fresh session, so its user stays logged in. The CLI's `hoso admin set-password` does the same.
Changing one's own password asks for the current one, counted by the login throttle."""

from __future__ import annotations

import logging

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gateway.core.accounts import MIN_PASSWORD, InvalidAccount
from gateway.http import admin_auth as auth
from gateway.http.context import services
from gateway.http.proxies import client_address
from gateway.store.users import LoginOutcome, Role, UserError

log = logging.getLogger(__name__)

bp = Blueprint("admin_accounts", __name__, url_prefix="/admin")

ROLE_LABELS = {"admin": "quản trị", "viewer": "chỉ xem"}


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
        flash(
            f"Mật khẩu mới phải dài từ {MIN_PASSWORD} ký tự (và tài khoản phải tồn tại). "
            "Chưa thay đổi gì.",
            "error",
        )
        return False
    return True


@bp.get("/account")
@auth.login_required()
def account_page() -> ResponseReturnValue:
    accounts = auth.users().all() if auth.is_admin() else []
    return render_template("admin/account.html", accounts=accounts)


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
@auth.login_required(Role.ADMIN)
def reset_password(username: str) -> ResponseReturnValue:
    back = redirect(url_for("admin_accounts.account_page"))
    target = auth.users().get(username)
    password = _new_password()
    if target is None or password is None or not _set(username, password):
        return back
    if target.username == auth.user().username:
        auth.start_session(target)
    log.info("admin.password_reset user=%s account=%s", auth.user().username, username)
    flash(
        f"Đã đặt mật khẩu mới cho {username}. Mọi phiên đăng nhập của tài khoản này đã kết thúc.",
        "ok",
    )
    return back
