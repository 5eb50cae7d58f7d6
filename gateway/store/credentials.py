"""API credentials of departments and stations.

Requests are signed with HMAC-SHA256 (see `gateway.core.signing`), so the gateway must be able
to recover each secret: a one-way hash would make verification impossible. Secrets are therefore
stored *sealed*: XORed with a pad derived from a master key kept outside Redis (a file, see
`SecuritySettings.master_key_file`) and authenticated with a tag. A copy of Redis (a backup, an
AOF file) alone reveals no secret; a SHA-256 fingerprint identifies a secret without revealing it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import cast

import redis

from gateway.core.times import format_time
from gateway.store import keys
from gateway.store.errors import CorruptRecord

SECRET_BYTES = 32  # token_urlsafe(32): 43 characters


class ClientKind(StrEnum):
    DEPARTMENT = "department"
    STATION = "station"


@dataclass(frozen=True, slots=True)
class Credential:
    key_id: str
    kind: ClientKind
    owner: str
    secret: str
    revoked: bool


@dataclass(frozen=True, slots=True)
class NewCredential:
    key_id: str
    secret: str


class Keyring:
    def __init__(self, client: redis.Redis, master_key: bytes) -> None:
        if len(master_key) < 32:
            raise ValueError("the master key must be at least 32 bytes")
        self._redis = client
        self._master = master_key

    def create(self, kind: ClientKind, owner: str, now: datetime) -> NewCredential:
        if not owner or len(owner) > 100 or any(c.isspace() or c == ":" for c in owner):
            raise ValueError(f"not a usable {kind} id: {owner!r}")
        key_id = f"{kind.value[:3]}_{secrets.token_hex(8)}"
        secret = secrets.token_urlsafe(SECRET_BYTES)
        sealed, tag = self._seal(key_id, secret.encode())
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(
            keys.api_key(key_id),
            mapping={
                "kind": kind.value,
                "owner": owner,
                "sealed": sealed.hex(),
                "tag": tag.hex(),
                "fingerprint": hashlib.sha256(secret.encode()).hexdigest()[:16],
                "created_at": format_time(now),
            },
        )
        pipe.sadd(keys.api_keys_of(kind.value, owner), key_id)
        pipe.execute()
        return NewCredential(key_id, secret)

    def revoke(self, key_id: str, now: datetime) -> bool:
        if not self._redis.exists(keys.api_key(key_id)):
            return False
        self._redis.hset(keys.api_key(key_id), "revoked_at", format_time(now))
        return True

    def get(self, key_id: str) -> Credential | None:
        return self.from_hash(
            key_id, cast(dict[str, str], self._redis.hgetall(keys.api_key(key_id)))
        )

    def from_hash(self, key_id: str, raw: dict[str, str]) -> Credential | None:
        """A credential from its stored hash (fetched by the caller, e.g. in a pipeline)."""
        if not raw:
            return None
        try:
            secret = self._unseal(key_id, bytes.fromhex(raw["sealed"]), bytes.fromhex(raw["tag"]))
            return Credential(
                key_id=key_id,
                kind=ClientKind(raw["kind"]),
                owner=raw["owner"],
                secret=secret.decode(),
                revoked="revoked_at" in raw,
            )
        except (KeyError, ValueError) as exc:
            raise CorruptRecord(f"api key {key_id}: {exc}") from exc

    def _pad(self, key_id: str, length: int) -> bytes:
        pad = hmac.new(self._master, b"seal:" + key_id.encode(), hashlib.sha512).digest()
        if length > len(pad):
            raise ValueError("secret too long to seal")
        return pad[:length]

    def _tag(self, key_id: str, sealed: bytes) -> bytes:
        return hmac.new(self._master, b"tag:" + key_id.encode() + sealed, hashlib.sha256).digest()

    def _seal(self, key_id: str, secret: bytes) -> tuple[bytes, bytes]:
        sealed = bytes(a ^ b for a, b in zip(secret, self._pad(key_id, len(secret)), strict=True))
        return sealed, self._tag(key_id, sealed)

    def _unseal(self, key_id: str, sealed: bytes, tag: bytes) -> bytes:
        if not hmac.compare_digest(tag, self._tag(key_id, sealed)):
            raise ValueError("sealed secret does not match the master key")
        return bytes(a ^ b for a, b in zip(sealed, self._pad(key_id, len(sealed)), strict=True))
