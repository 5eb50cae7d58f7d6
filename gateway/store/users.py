"""Administrators' accounts in Redis: roles, scrypt password hashes, lock-out, login sessions.

A password is stored as ``scrypt$n$r$p$salt$hash`` (hashlib.scrypt, n=2**14, r=8, p=1, a
16-byte random salt, 32-byte hash) and compared in constant time. An account is locked for
`lockout_seconds` after `lockout_attempts` wrong passwords in a row; while it is locked even the
right password is refused, and a login that names no account costs the same scrypt work as one
that does, so neither timing nor the answer tells the two apart.

Sessions: the dashboard's signed cookie carries a session id; the id lives here with a TTL, so
logging out (or deleting the account) ends the session on the server, not only in the browser.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import cast

import redis

from gateway.store import keys
from gateway.store.errors import CorruptRecord, StoreError

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # scrypt reads all of it; a login form must not make us hash megabytes
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


class Role(StrEnum):
    ADMIN = "admin"  # sees everything, changes the pool and the templates
    VIEWER = "viewer"  # sees everything, changes nothing


class Outcome(StrEnum):
    OK = "ok"
    WRONG = "wrong"  # no such account, or the wrong password: told apart nowhere outside
    LOCKED = "locked"


class UserError(StoreError):
    """An account that cannot be made as asked (bad name, weak password, name taken)."""


@dataclass(frozen=True, slots=True)
class AdminUser:
    username: str
    role: Role
    locked_until: float  # unix seconds; 0: not locked

    def locked(self, now: float) -> bool:
        return self.locked_until > now


@dataclass(frozen=True, slots=True)
class Login:
    outcome: Outcome
    user: AdminUser | None  # set when outcome is OK


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=HASH_BYTES
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def password_matches(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            raise ValueError(f"unknown scheme {scheme!r}")
        wanted = bytes.fromhex(digest)
        got = hashlib.scrypt(
            password.encode(),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(wanted),
        )
    except ValueError as exc:
        raise CorruptRecord(f"admin password hash: {exc}") from exc
    return hmac.compare_digest(got, wanted)


# Checked against when the account does not exist, so that such a login costs the same work.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16), salt=bytes(SALT_BYTES))


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must hold at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"the password may hold at most {MAX_PASSWORD} characters")


class AdminUsers:
    def __init__(
        self, client: redis.Redis, lockout_attempts: int = 5, lockout_seconds: float = 900
    ) -> None:
        self._redis = client
        self._attempts = max(1, lockout_attempts)
        self._lockout = lockout_seconds

    # -- accounts -----------------------------------------------------------------------------

    def create(self, username: str, password: str, role: Role, replace: bool = False) -> AdminUser:
        """A new account; with `replace`, an existing one gets this password and role."""
        if not USERNAME.fullmatch(username):
            raise UserError(
                f"not a usable username: {username!r} (a-z, 0-9, '.', '_', '-'; up to 64)"
            )
        check_password_policy(password)
        name = keys.admin_user(username)
        if not replace and self._redis.exists(name):
            raise UserError(f"the account {username!r} exists already")
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(name)
        pipe.hset(
            name,
            mapping={"role": role.value, "password": hash_password(password), "failures": 0},
        )
        pipe.sadd(keys.admin_users(), username)
        pipe.execute()
        return AdminUser(username, role, 0.0)

    def get(self, username: str) -> AdminUser | None:
        if not USERNAME.fullmatch(username):
            return None
        raw = cast(dict[str, str], self._redis.hgetall(keys.admin_user(username)))
        return _user(username, raw) if raw else None

    def all(self) -> list[AdminUser]:
        users = (self.get(str(u)) for u in sorted(self._redis.smembers(keys.admin_users())))
        return [u for u in users if u is not None]

    def delete(self, username: str) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(keys.admin_user(username))
        pipe.srem(keys.admin_users(), username)
        pipe.execute()

    # -- logging in ---------------------------------------------------------------------------

    def login(self, username: str, password: str, now: float) -> Login:
        """Checks a password; counts failures and locks the account after too many in a row."""
        raw: dict[str, str] = {}
        if USERNAME.fullmatch(username) and len(password) <= MAX_PASSWORD:
            raw = cast(dict[str, str], self._redis.hgetall(keys.admin_user(username)))
        if not raw:
            password_matches(password[:MAX_PASSWORD], _DUMMY_HASH)
            return Login(Outcome.WRONG, None)
        user = _user(username, raw)
        matches = password_matches(password, raw.get("password", ""))
        if user.locked(now):
            return Login(Outcome.LOCKED, None)
        name = keys.admin_user(username)
        if matches:
            self._redis.hset(name, mapping={"failures": 0, "locked_until": 0})
            return Login(Outcome.OK, user)
        failures = int(self._redis.hincrby(name, "failures", 1))
        if failures >= self._attempts:
            self._redis.hset(name, mapping={"failures": 0, "locked_until": now + self._lockout})
            return Login(Outcome.LOCKED, None)
        return Login(Outcome.WRONG, None)

    def unlock(self, username: str) -> None:
        self._redis.hset(keys.admin_user(username), mapping={"failures": 0, "locked_until": 0})

    # -- sessions -----------------------------------------------------------------------------

    def open_session(self, username: str, ttl_seconds: int) -> str:
        session_id = secrets.token_urlsafe(24)
        self._redis.set(keys.admin_session(session_id), username, ex=max(1, ttl_seconds))
        return session_id

    def session_user(self, session_id: str) -> AdminUser | None:
        """The live account behind a session: None after logout, expiry or the account's removal
        (its role is read here, so a demotion takes effect on the next request)."""
        if not session_id:
            return None
        username = self._redis.get(keys.admin_session(session_id))
        return None if username is None else self.get(str(username))

    def close_session(self, session_id: str) -> None:
        if session_id:
            self._redis.delete(keys.admin_session(session_id))


def _user(username: str, raw: dict[str, str]) -> AdminUser:
    try:
        return AdminUser(
            username=username,
            role=Role(raw["role"]),
            locked_until=float(raw.get("locked_until") or 0),
        )
    except (KeyError, ValueError) as exc:
        raise CorruptRecord(f"admin user {username}: {exc}") from exc
