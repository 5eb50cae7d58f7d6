"""Administrators' accounts in Redis: roles and offices, argon2id password hashes, sessions.

- An account has a role and an office (`gateway.core.roles`: what each may do, over which
  offices). An account stored before offices (role "admin" or "viewer", no office) reads as a
  province administrator or a province viewer: nothing is lost, nothing gained, on upgrade.

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
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import cast

import redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gateway.core.accounts import MAX_PASSWORD, check_password, check_username, is_username
from gateway.core.roles import PROVINCE, Role, check_scope
from gateway.store import keys
from gateway.store.errors import CorruptRecord, StoreError

__all__ = [  # Role's home is the core; callers import it from here too
    "AdminUser",
    "AdminUsers",
    "Login",
    "LoginOutcome",
    "Role",
    "UserError",
    "hash_password",
    "needs_rehash",
    "password_matches",
]

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

# Each account operation is one script: it checks the account exists (or not) and changes it in
# the same atomic step, so a removal or a creation meanwhile cannot be half undone.
# KEYS: the account, the set of usernames; ARGV: username, role, password hash, replace (1/0),
# office
CREATE = """
if ARGV[4] ~= '1' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'role', ARGV[2], 'password', ARGV[3], 'office', ARGV[5])
redis.call('HDEL', KEYS[1], 'failures', 'locked_until')
redis.call('HINCRBY', KEYS[1], 'generation', 1)
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""
# KEYS: the account; ARGV: bump the session generation (1/0), then field, value pairs
CHANGE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if ARGV[1] == '1' then redis.call('HINCRBY', KEYS[1], 'generation', 1) end
return 1
"""


class LoginOutcome(StrEnum):
    OK = "ok"
    WRONG = "wrong"  # no such account, or the wrong password: told apart nowhere outside


class UserError(StoreError):
    """An account that cannot be made or changed as asked: no such account, or the name is taken
    (a name or password the rules refuse is `gateway.core.accounts.InvalidAccount`)."""


@dataclass(frozen=True, slots=True)
class AdminUser:
    username: str
    role: Role
    office: str = PROVINCE  # an office id, or PROVINCE ("*")


@dataclass(frozen=True, slots=True)
class Login:
    outcome: LoginOutcome
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


class AdminUsers:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client
        self._rehash = client.register_script(REHASH)
        self._create = client.register_script(CREATE)
        self._change = client.register_script(CHANGE)

    # -- accounts -----------------------------------------------------------------------------

    def create(
        self,
        username: str,
        password: str,
        role: Role,
        replace: bool = False,
        office: str = PROVINCE,
    ) -> AdminUser:
        """A new account of `role` in `office` (an office id the caller checked exists, or
        PROVINCE); with `replace`, an existing one gets this password, role and office (and
        every session it had ends). `InvalidAccount` for a name or password the rules refuse,
        `InvalidScope` for a role the office cannot have, `UserError` when the account exists
        already (without `replace`)."""
        check_username(username)
        check_password(password)
        check_scope(role, office)
        done = self._create(
            keys=[keys.admin_user(username), keys.admin_users()],
            args=[username, role.value, hash_password(password), "1" if replace else "0", office],
        )
        if not done:
            raise UserError(f"the account {username} exists already")
        return AdminUser(username, role, office)

    def set_password(self, username: str, password: str) -> None:
        """A new password for an existing account (a change or a reset): every session of the
        account ends, wherever it was opened."""
        check_password(password)
        self._change_account(username, {"password": hash_password(password)}, new_generation=True)

    def set_role(self, username: str, role: Role, office: str | None = None) -> None:
        """Promotes or demotes an account, or moves it to another office (None: it keeps its
        own); its sessions go on, with the new role and office at once."""
        if office is None:
            found = self.get(username)
            office = found.office if found is not None else PROVINCE
        check_scope(role, office)
        self._change_account(username, {"role": role.value, "office": office}, False)

    def _change_account(self, username: str, fields: dict[str, str], new_generation: bool) -> None:
        args = ["1" if new_generation else "0"]
        for field, value in fields.items():
            args += [field, value]
        done = is_username(username) and self._change(keys=[keys.admin_user(username)], args=args)
        if not done:
            raise UserError(f"no account {username}")

    def get(self, username: str) -> AdminUser | None:
        if not is_username(username):
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
        if is_username(username) and len(password) <= MAX_PASSWORD:
            raw = cast(dict[str, str], self._redis.hgetall(keys.admin_user(username)))
        if not raw:
            password_matches(password[:MAX_PASSWORD], _DUMMY_HASH)
            return Login(LoginOutcome.WRONG, None)
        user = _user(username, raw)
        stored = raw.get("password", "")
        if not password_matches(password, stored):
            return Login(LoginOutcome.WRONG, None)
        if needs_rehash(stored):
            self._rehash(keys=[keys.admin_user(username)], args=[stored, hash_password(password)])
        return Login(LoginOutcome.OK, user)

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
        return AdminUser(
            username=username, role=Role(raw["role"]), office=raw.get("office") or PROVINCE
        )
    except (KeyError, ValueError) as exc:
        raise CorruptRecord(f"admin user {username}: {exc}") from exc
