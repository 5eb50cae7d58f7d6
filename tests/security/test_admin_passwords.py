"""How dashboard passwords are stored, against a real `hoso gateway`.

Found: scrypt with N=2^14, below current guidance. Now argon2id (argon2-cffi); a hash made by an
earlier version still logs in, once, and is replaced by an argon2id hash at that login."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.store import keys
from tests.e2e.conftest import Gateway, running_gateway
from tests.security.dashboard import Visitor, create_user

NAME, PASSWORD = "cu", "mat-khau-tu-ban-cu"


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(tmp_path) as running:
        yield running


def old_scrypt_hash(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt${2**14}$8$1${salt.hex()}${digest.hex()}"


@pytest.mark.slow
def test_new_passwords_are_argon2id(gateway: Gateway) -> None:
    create_user(gateway, NAME, PASSWORD)
    stored = str(gateway.redis.client().hget(keys.admin_user(NAME), "password"))
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


@pytest.mark.slow
def test_an_old_scrypt_hash_logs_in_once_and_is_replaced_by_argon2id(gateway: Gateway) -> None:
    client = gateway.redis.client()
    client.hset(
        keys.admin_user(NAME), mapping={"role": "admin", "password": old_scrypt_hash(PASSWORD)}
    )
    client.sadd(keys.admin_users(), NAME)
    assert Visitor(gateway.base).log_in(NAME, "sai-mat-khau-roi").status == 401
    assert str(client.hget(keys.admin_user(NAME), "password")).startswith("scrypt$")
    assert Visitor(gateway.base).log_in(NAME, PASSWORD).location == "/admin/modems"
    assert str(client.hget(keys.admin_user(NAME), "password")).startswith("$argon2id$")
    assert Visitor(gateway.base).log_in(NAME, PASSWORD).location == "/admin/modems"
