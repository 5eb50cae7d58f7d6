"""Logging administrators in: a signed session cookie, a server-side session id, CSRF tokens.

- The cookie is Flask's signed session (itsdangerous, HMAC with the app's `secret_key`, read from
  `AdminSettings.session_key_file` and created there on first use, mode 0600). It is HttpOnly,
  SameSite=Lax, Secure unless `secure_cookies` is turned off, scoped to ``/admin`` and valid for
  `session_hours` (the signature's timestamp is checked on every request).
- It holds the session id, the username and the CSRF token. The session id must still exist in
  Redis for the account's current session generation (`AdminUsers.session_user`), so logging
  out ends the session on the server, a password change or reset ends every session of the
  account, and the role and office are read from the account on every request, so a demotion or
  a move to another office takes effect at once.
- What a role may do, and over which offices, is `gateway.core.roles`; views ask it through
  `require(permission)` (their decorator `login_required(permission)` calls it first) and
  `visible_offices()`. Another office's object asked by its id answers exactly as an unknown
  one does (the view's own 404), never a 403 that would confirm it exists.
- Every state-changing request (any method but GET/HEAD/OPTIONS) must carry the session's CSRF
  token: the form field ``csrf_token`` or the header ``X-CSRF-Token`` (the JSON API). The login
  form carries one too, made for the anonymous session that shows it.
- Department and station HMAC credentials count for nothing here: the admin views ask for a
  session and nothing else.
- A page (not the JSON API) that fails shows a short Vietnamese page, never an exception's text;
  the JSON API answers problem+json.
"""

from __future__ import annotations

import functools
import hmac
import logging
import re
import secrets
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, ParamSpec, cast

from flask import (
    Blueprint,
    Flask,
    Request,
    Response,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sansio.blueprints import BlueprintSetupState
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask.typing import ResponseReturnValue

from gateway.core import roles
from gateway.core.roles import Permission, Role
from gateway.http.context import Services, services
from gateway.http.problems import Problem, problem_response
from gateway.keyfiles import read_or_create_key
from gateway.store.login_throttle import LoginThrottle
from gateway.store.users import AdminUser, AdminUsers

log = logging.getLogger(__name__)

P = ParamSpec("P")

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
COOKIE_NAME = "hoso_admin"
COOKIE_PATH = "/admin"
API_PREFIX = "/admin/api/"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
KEY_BYTES = 32


# -- the key that signs the cookies ----------------------------------------------------------


def load_session_key(path: Path) -> bytes:
    """The cookie-signing key: read from `path`, created there (mode 0600) on first use, as
    every key file is (`gateway.keyfiles`): concurrent workers agree on one key."""
    return read_or_create_key(path, "session key", KEY_BYTES)


def configure(state: BlueprintSetupState) -> None:
    """Cookie settings, applied when the admin blueprint is registered."""
    app = cast(Flask, state.app)
    admin = cast(Services, app.extensions["hoso"]).settings.admin
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_PATH=COOKIE_PATH,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=admin.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=admin.session_hours),
    )
    app.session_interface = AdminSessions()


class AdminSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, whose key is read (or created) from the session key file
    on the first request under /admin: other pages never touch the file."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not app.secret_key and request.path.startswith(COOKIE_PATH):
            with _KEY_LOCK:
                if not app.secret_key:
                    settings = cast(Services, app.extensions["hoso"]).settings.admin
                    app.secret_key = load_session_key(Path(settings.session_key_file))
        return super().open_session(app, request)


_KEY_LOCK = threading.Lock()


# -- accounts and sessions -------------------------------------------------------------------


def users() -> AdminUsers:
    return services().users


def throttle() -> LoginThrottle:
    return services().login_throttle


def csrf_token() -> str:
    """The session's CSRF token, made on first use (the login page makes one anonymously)."""
    token = session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_ok() -> bool:
    wanted = session.get("csrf")
    given = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
    return (
        isinstance(wanted, str)
        and bool(wanted)
        and hmac.compare_digest(wanted.encode(), given.encode())
    )


def start_session(user: AdminUser) -> None:
    """A fresh session (a new id and CSRF token: nothing survives from before the login)."""
    session.clear()
    session.permanent = True
    session["sid"] = users().open_session(
        user.username, services().settings.admin.session_hours * 3600
    )
    session["user"] = user.username
    session["csrf"] = secrets.token_urlsafe(32)


def end_session() -> None:
    users().close_session(str(session.get("sid") or ""))
    session.clear()


def current_user() -> AdminUser | None:
    sid = session.get("sid")
    if not isinstance(sid, str):
        return None
    user = users().session_user(sid)
    if user is None or user.username != session.get("user"):
        return None
    return user


def user() -> AdminUser:
    """The logged-in user of this request (inside a `login_required` view)."""
    return cast(AdminUser, g.admin_user)


def may(permission: Permission) -> bool:
    """Whether this request's user (if any) may do `permission` (over its visible offices)."""
    found = getattr(g, "admin_user", None)
    return isinstance(found, AdminUser) and roles.may(found.role, permission)


def is_admin() -> bool:
    """Whether this request's user is a province administrator (the role "admin" before
    offices: it may do everything). Views ask `require`/`may` for a permission instead."""
    found = getattr(g, "admin_user", None)
    return isinstance(found, AdminUser) and found.role is Role.PROVINCE_ADMIN


def visible_offices() -> frozenset[str] | None:
    """The offices whose objects this request's user may see, for every view that lists or
    reads dossiers, messages, phones, stations, keys, modems or figures:

    - None: every office, and the province's shared modem pool (office ""): a province
      administrator, or a leader or viewer of the province (office "*");
    - else a frozenset of office ids (today one: the account's office). An object of another
      office is left out of lists and counts, and asked by its id answers as an unknown one
      does (the same 404). An empty set sees nothing.

    The leaders' pages (the province view comparing offices, its drill-down and CSV) call
    `require(Permission.READ_CHARTS)` first, then compare the offices this returns (None: every
    office; a set: those only, so an office's leader gets its own office's figures and
    drill-down, and a desk or dossier of another office asked directly answers as unknown).

    Read from the account on every request (a changed role or office takes effect at once);
    inside a `login_required` view only."""
    found = user()
    return roles.visible_offices(found.role, found.office)


def sees(office: str) -> bool:
    """Whether an object of `office` ("" : the shared pool) is visible to this request's user."""
    return roles.sees(visible_offices(), office)


class Refused(Problem):
    """403: the user's role may not do this (problem+json for the API, a page for browsers)."""

    def __init__(self, detail: str, message: str) -> None:
        super().__init__(403, "forbidden", "Forbidden", detail)
        self.message = message


REFUSALS = {
    "change": "Tài khoản của bạn chỉ được xem, không được thay đổi.",
    "read": "Tài khoản của bạn không được xem trang này.",
}


def require(permission: Permission) -> None:
    """Refuses (403, `Refused`) the request unless its user may do `permission`: the one check
    every admin view makes first (`login_required` makes it for the view)."""
    found = user()
    if roles.may(found.role, permission):
        return
    log.warning(
        "admin.forbidden user=%s role=%s permission=%s", found.username, found.role, permission
    )
    raise Refused(
        f"This account (role {found.role.value}) may not {permission.value}.",
        REFUSALS["read" if permission in roles.READS else "change"],
    )


# -- refusals --------------------------------------------------------------------------------


def is_api() -> bool:
    return request.path.startswith(API_PREFIX)


def forbidden(slug: str, title: str, detail: str, message: str) -> Response:
    """403: problem+json for the API, a short Vietnamese page for the browser."""
    if is_api():
        raise Problem(403, slug, title, detail)
    page = render_template("admin/error.html", message=message, title="Không được phép")
    return Response(page, status=403, mimetype="text/html")


def login_required(
    permission: Permission | Role | None = None,
) -> Callable[[Callable[P, ResponseReturnValue]], Callable[P, ResponseReturnValue]]:
    """The view answers logged-in users whose role may do `permission` (None: anyone logged
    in; the view then calls `require` itself); state changes need the CSRF token. Anonymous: a
    redirect to the login page (pages) or 401 (API). A role that may not, or a missing or wrong
    CSRF token: 403. A role, as views named before offices (`Role.ADMIN`), asks for a province
    administrator (the safe reading: nobody gains a right by it); `Role.VIEWER`, anyone."""
    if isinstance(permission, Role):
        permission = Permission.MANAGE_OFFICES if permission is Role.PROVINCE_ADMIN else None

    def decorate(view: Callable[P, ResponseReturnValue]) -> Callable[P, ResponseReturnValue]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
            found = current_user()
            if found is None:
                if is_api():
                    raise Problem(
                        401,
                        "unauthorized",
                        "Unauthorized",
                        "Log in at /admin/login first; the admin API takes the dashboard's "
                        "session, not API keys.",
                    )
                target = request.full_path if request.method == "GET" else request.path
                return redirect(url_for("admin.login", next=target.rstrip("?")))
            g.admin_user = found
            if request.method not in SAFE_METHODS and not csrf_ok():
                log.warning("admin.csrf_failed user=%s path=%s", found.username, request.path)
                return forbidden(
                    "csrf-failed",
                    "CSRF token missing or wrong",
                    f"Send the session's token in the {CSRF_HEADER} header "
                    f"(GET /admin/api/session gives it).",
                    "Phiên làm việc không hợp lệ (thiếu mã CSRF). Hãy tải lại trang và thử lại.",
                )
            if permission is not None:
                try:
                    require(permission)
                except Refused as refused:
                    return forbidden("forbidden", "Forbidden", refused.detail, refused.message)
            return view(*args, **kwargs)

        return wrapper

    return decorate


MAX_NEXT = 2048
NEXT_PATH = re.compile(r"/admin/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*")


def landing(account: AdminUser | None = None) -> str:
    """The dashboard's first page for `account`: the modem pool, or the charts for a leader
    (who reads no setup)."""
    if account is not None and not roles.may(account.role, Permission.READ_SETUP):
        return url_for("admin_charts.charts_page")
    return url_for("admin.modems")


def safe_next(target: str | None, account: AdminUser | None = None) -> str:
    """Where to go after logging in: only a path inside the dashboard (no open redirect), made
    of the characters a URL path and query may hold (no CR/LF, spaces or backslashes); else
    the account's first page (`landing`)."""
    if (
        target
        and len(target) <= MAX_NEXT
        and NEXT_PATH.fullmatch(target)
        and not target.startswith("/admin//")
        and not target.startswith(API_PREFIX)
    ):
        return target
    return landing(account)


PAGE_ERRORS = {
    400: ("Yêu cầu không hợp lệ", "Yêu cầu không hợp lệ. Hãy quay lại và thử lại."),
    404: ("Không tìm thấy", "Không tìm thấy trang hoặc mục bạn cần."),
    405: ("Không thực hiện được", "Trang này không nhận thao tác đó."),
    409: ("Không thực hiện được", "Không thực hiện được vì dữ liệu vừa thay đổi. Hãy tải lại."),
    413: ("Dữ liệu quá lớn", "Dữ liệu gửi lên quá lớn."),
    422: ("Dữ liệu không hợp lệ", "Dữ liệu nhập không hợp lệ. Hãy kiểm tra lại."),
    429: ("Quá nhiều yêu cầu", "Quá nhiều yêu cầu. Hãy thử lại sau ít phút."),
    503: ("Tạm thời không phục vụ được", "Hệ thống tạm thời không phục vụ được. Hãy thử lại sau."),
}


def error_page(status: int, message: str | None = None) -> Response:
    """A short Vietnamese page for a dashboard request that failed (no exception text)."""
    title, generic = PAGE_ERRORS.get(
        status, ("Lỗi hệ thống", "Đã có lỗi xảy ra. Hãy thử lại sau ít phút.")
    )
    page = render_template("admin/error.html", message=message or generic, title=title)
    return Response(page, status=status, mimetype="text/html")


def install_pages(bp: Blueprint, **labels: Any) -> None:
    """What every dashboard blueprint's pages share: no caching (the security headers every
    answer carries are set once, by `gateway.http.pages`), Vietnamese error pages, and the
    template context (CSRF token, the user, whether they may change things, `labels`)."""

    @bp.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @bp.errorhandler(Problem)
    def _problem(problem: Problem) -> Response:
        if is_api():
            return problem_response(problem)
        if isinstance(problem, Refused):
            return forbidden(problem.slug, problem.title, problem.detail, problem.message)
        return error_page(problem.status)

    @bp.context_processor
    def _page_context() -> dict[str, Any]:
        return {
            "csrf_token": csrf_token,
            "current": getattr(g, "admin_user", None),
            "can_change": may(Permission.CHANGE_SETUP),  # keys' and stations' buttons
            "may": may,
            "role_label": roles.LABELS,
            "settings_refresh": services().settings.admin.refresh_seconds,
            **labels,
        }
