"""Administrators' accounts in Redis: roles, argon2id password hashes, login sessions.

- A password is stored as an argon2id hash (argon2-cffi's `PasswordHasher`, its RFC 9106
  low-memory profile: t=3, m=64 MiB, p=4, a 16-byte random salt) and checked in constant time.
  Hashes made by earlier versions (``scrypt$n$r$p$salt$hash``) are still accepted, and replaced
  by an argon2id hash on the next successful login, as is an argon2 hash made with weaker
  parameters than today's. A login that names no account costs the same work as one that does,
  so neither timing nor the answer tells the two apart.
- Guessing is slowed by `gateway.store.login_throttle` (per account and address, and per
  address), never by locking the account: its owner can always log in from elsewhere.
- Sessions: the dashboard's signed cookie carries a session id; the id lives here with a TTL and
  names the account and the account's session generation. Logging out (or deleting the account)
  ends that session on the server; changing or resetting the password bumps the generation,
  which ends every session of the account at once.
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
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gateway.store import keys
from gateway.store.errors import CorruptRecord, StoreError

MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # a login form must not make us hash megabytes
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory profile

# KEYS: the account; ARGV: the hash that was checked, its replacement. Replaces the hash only
# if nobody changed the password meanwhile.
REHASH = """
if redis.call('HGET', KEYS[1], 'password') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'password', ARGV[2])
  return 1
end
return 0
"""


class Role(StrEnum):
    ADMIN = "admin"  # sees everything, changes the pool, the templates and the accounts
    VIEWER = "viewer"  # sees everything, changes nothing but its own password


class Outcome(StrEnum):
    OK = "ok"
    WRONG = "wrong"  # no such account, or the wrong password: told apart nowhere outside


class UserError(StoreError):
    """An account that cannot be made or changed as asked (bad name, weak password, no such
    account, name taken)."""


@dataclass(frozen=True, slots=True)
class AdminUser:
    username: str
    role: Role


@dataclass(frozen=True, slots=True)
class Login:
    outcome: Outcome
    user: AdminUser | None  # set when outcome is OK


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def password_matches(password: str, stored: str) -> bool:
    """Whether `password` is the one `stored` was made from (argon2id, or the older scrypt)."""
    if stored.startswith("scrypt$"):
        return _scrypt_matches(password, stored)
    try:
        return HASHER.verify(stored, password)
    except VerificationError:
        return False
    except InvalidHashError as exc:
        raise CorruptRecord("admin password hash: not an argon2 or scrypt hash") from exc


def _scrypt_matches(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
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


def needs_rehash(stored: str) -> bool:
    return stored.startswith("scrypt$") or HASHER.check_needs_rehash(stored)


# Checked against when the account does not exist, so that such a login costs the same work.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must hold at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"the password may hold at most {MAX_PASSWORD} characters")


class AdminUsers:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client
        self._rehash = client.register_script(REHASH)

    # -- accounts -----------------------------------------------------------------------------

    def create(self, username: str, password: str, role: Role, replace: bool = False) -> AdminUser:
        """A new account; with `replace`, an existing one gets this password and role (and
        every session it had ends)."""
        if not USERNAME.fullmatch(username):
            raise UserError(
                f"not a usable username: {username} (a-z, 0-9, '.', '_', '-'; up to 64)"
            )
        check_password_policy(password)
        name = keys.admin_user(username)
        if not replace and self._redis.exists(name):
            raise UserError(f"the account {username} exists already")
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(name, mapping={"role": role.value, "password": hash_password(password)})
        pipe.hdel(name, "failures", "locked_until")  # left by versions that locked accounts
        pipe.hincrby(name, "generation", 1)  # a replaced account's sessions end
        pipe.sadd(keys.admin_users(), username)
        pipe.execute()
        return AdminUser(username, role)

    def set_password(self, username: str, password: str) -> None:
        """A new password for an existing account (a change or a reset): every session of the
        account ends, wherever it was opened."""
        check_password_policy(password)
        name = keys.admin_user(username)
        if self.get(username) is None:
            raise UserError(f"no account {username}")
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(name, "password", hash_password(password))
        pipe.hincrby(name, "generation", 1)
        pipe.execute()

    def set_role(self, username: str, role: Role) -> None:
        """Promotes or demotes an account; its sessions go on, with the new role at once."""
        if self.get(username) is None:
            raise UserError(f"no account {username}")
        self._redis.hset(keys.admin_user(username), "role", role.value)

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

    def login(self, username: str, password: str) -> Login:
        """Checks a password (the throttle has admitted the try); on success an outdated hash
        is replaced by an argon2id one."""
        raw: dict[str, str] = {}
        if USERNAME.fullmatch(username) and len(password) <= MAX_PASSWORD:
            raw = cast(dict[str, str], self._redis.hgetall(keys.admin_user(username)))
        if not raw:
            password_matches(password[:MAX_PASSWORD], _DUMMY_HASH)
            return Login(Outcome.WRONG, None)
        user = _user(username, raw)
        stored = raw.get("password", "")
        if not password_matches(password, stored):
            return Login(Outcome.WRONG, None)
        if needs_rehash(stored):
            self._rehash(keys=[keys.admin_user(username)], args=[stored, hash_password(password)])
        return Login(Outcome.OK, user)

    # -- sessions -----------------------------------------------------------------------------

    def open_session(self, username: str, ttl_seconds: int) -> str:
        session_id = secrets.token_urlsafe(24)
        generation = self._generation(username)
        self._redis.set(
            keys.admin_session(session_id), f"{generation}:{username}", ex=max(1, ttl_seconds)
        )
        return session_id

    def session_user(self, session_id: str) -> AdminUser | None:
        """The live account behind a session: None after logout, expiry, a password change or
        the account's removal (its role is read here, so a demotion takes effect at once)."""
        if not session_id:
            return None
        value = self._redis.get(keys.admin_session(session_id))
        if value is None:
            return None
        generation, _, username = str(value).rpartition(":")
        raw = cast(dict[str, str], self._redis.hgetall(keys.admin_user(username)))
        if not raw or raw.get("generation", "0") != (generation or "0"):
            return None
        return _user(username, raw)

    def close_session(self, session_id: str) -> None:
        if session_id:
            self._redis.delete(keys.admin_session(session_id))

    def _generation(self, username: str) -> str:
        found = self._redis.hget(keys.admin_user(username), "generation")
        return "0" if found is None else str(found)


def _user(username: str, raw: dict[str, str]) -> AdminUser:
    try:
        return AdminUser(username=username, role=Role(raw["role"]))
    except (KeyError, ValueError) as exc:
        raise CorruptRecord(f"admin user {username}: {exc}") from exc
