"""Logging administrators in: a signed session cookie, a server-side session id, CSRF tokens.

- The cookie is Flask's signed session (itsdangerous, HMAC with the app's `secret_key`, read from
  `AdminSettings.session_key_file` and created there on first use, mode 0600). It is HttpOnly,
  SameSite=Lax, Secure when `secure_cookies` is set, scoped to ``/admin`` and valid for
  `session_hours` (the signature's timestamp is checked on every request).
- It holds the session id, the username, the role and the CSRF token. The session id must still
  exist in Redis (`AdminUsers.session_user`), so logging out ends the session on the server, and
  the role is read from the account on every request, so a demotion takes effect at once.
- Every state-changing request (any method but GET/HEAD/OPTIONS) must carry the session's CSRF
  token: the form field ``csrf_token`` or the header ``X-CSRF-Token`` (the JSON API). The login
  form carries one too, made for the anonymous session that shows it.
- Department and station HMAC credentials count for nothing here: the admin views ask for a
  session and nothing else.
"""

from __future__ import annotations

import functools
import hmac
import logging
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

from gateway.http.context import Services, services
from gateway.http.problems import Problem
from gateway.keyfiles import read_or_create_key
from gateway.store.users import AdminUser, AdminUsers, Role

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
    svc = services()
    admin = svc.settings.admin
    return AdminUsers(svc.redis, admin.lockout_attempts, admin.lockout_minutes * 60)


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
    session["role"] = user.role.value
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
    if session.get("role") != user.role.value:
        session["role"] = user.role.value
    return user


def user() -> AdminUser:
    """The logged-in user of this request (inside a `login_required` view)."""
    return cast(AdminUser, g.admin_user)


def is_admin() -> bool:
    found = getattr(g, "admin_user", None)
    return isinstance(found, AdminUser) and found.role is Role.ADMIN


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
    role: Role = Role.VIEWER,
) -> Callable[[Callable[P, ResponseReturnValue]], Callable[P, ResponseReturnValue]]:
    """The view answers logged-in users of at least `role`; state changes need the CSRF token.
    Anonymous: a redirect to the login page (pages) or 401 (API). Too weak a role, or a
    missing or wrong CSRF token: 403."""

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
            if role is Role.ADMIN and found.role is not Role.ADMIN:
                return forbidden(
                    "forbidden",
                    "Forbidden",
                    "This account may look but not change (role viewer).",
                    "Tài khoản của bạn chỉ được xem, không được thay đổi.",
                )
            return view(*args, **kwargs)

        return wrapper

    return decorate


def safe_next(target: str | None) -> str:
    """Where to go after logging in: only a path inside the dashboard (no open redirect)."""
    if (
        target
        and target.startswith("/admin/")
        and "\\" not in target
        and not target.startswith(API_PREFIX)
    ):
        return target
    return url_for("admin.modems")


def install_pages(bp: Blueprint, **labels: Any) -> None:
    """What every dashboard blueprint's pages share: no caching, no framing, no sniffing, and
    the template context (CSRF token, the user, whether they may change things, `labels`)."""

    @bp.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @bp.context_processor
    def _page_context() -> dict[str, Any]:
        return {
            "csrf_token": csrf_token,
            "current": getattr(g, "admin_user", None),
            "can_change": is_admin(),
            "settings_refresh": services().settings.admin.refresh_seconds,
            **labels,
        }
