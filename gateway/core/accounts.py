"""The rules of a dashboard account: what a username may be and how long a password must be
(checked wherever an account is made or its password set: `gateway.store.users`)."""

from __future__ import annotations

import re

from gateway.core.errors import CoreError

MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # a login form must not make us hash megabytes
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


class InvalidAccount(CoreError):
    """A username or password an account cannot have (the message says why)."""


def is_username(text: str) -> bool:
    return USERNAME.fullmatch(text) is not None


def check_username(username: str) -> str:
    if not is_username(username):
        raise InvalidAccount(
            f"not a usable username: {username} (a-z, 0-9, '.', '_', '-'; up to 64)"
        )
    return username


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidAccount(f"the password must hold at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidAccount(f"the password may hold at most {MAX_PASSWORD} characters")
    return password
