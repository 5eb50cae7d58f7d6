"""Secrets sealed at rest: AES-256-GCM (the `cryptography` package) under the master key.

A sealed value is bytes, stored as hex:

    version (1 byte, 2) | master key id (8) | nonce (12, random) | ciphertext | GCM tag (16)

- The AEAD key is derived from the master key with HKDF-SHA256 (info "hoso: sealing API
  secrets"); the master key id is another HKDF output (info "hoso: master key id"), so it names
  the key that sealed a value without revealing anything of it. A host may hold several master
  keys at once (during `hoso keys rotate-master`): the id says which one opens a value.
- The associated data is the version and key id bytes followed by the caller's context, each
  field as a 4-byte big-endian length and its UTF-8 bytes: no two different contexts encode
  alike, however the fields are split. A value opens only with the very context it was sealed
  with; anything else (another field, another split, another version) is `SealBroken`.
- Nonces are random: a key seals far fewer than the 2**32 values GCM allows under one key.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = 2  # 1 was the XOR pad and HMAC tag of hoso 0.2 (read once by `hoso keys upgrade`)
MASTER_KEY_BYTES = 32
KEY_ID_BYTES = 8
NONCE_BYTES = 12
HEADER_BYTES = 1 + KEY_ID_BYTES
TAG_BYTES = 16


class SealBroken(Exception):
    """A sealed value that does not open: tampered with, moved, or sealed under another key."""


@dataclass(frozen=True)
class MasterKey:
    raw: bytes = field(repr=False)
    key_id: bytes
    aead: AESGCM = field(repr=False, compare=False)

    @classmethod
    def of(cls, raw: bytes) -> MasterKey:
        if len(raw) < MASTER_KEY_BYTES:
            raise ValueError(f"a master key holds at least {MASTER_KEY_BYTES} bytes")
        return cls(
            raw,
            _derive(raw, KEY_ID_BYTES, b"hoso: master key id"),
            AESGCM(_derive(raw, 32, b"hoso: sealing API secrets")),
        )


def _derive(raw: bytes, length: int, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(raw)


class KeySource(Protocol):
    """The master keys a process holds."""

    def sealing(self) -> MasterKey:
        """The key new values are sealed with."""
        ...

    def held(self) -> tuple[MasterKey, ...]:
        """Every key that may open a stored value (the sealing one first)."""
        ...


@dataclass(frozen=True)
class FixedKeys:
    """Keys given once (tests, tools): the first seals, all open."""

    keys: tuple[MasterKey, ...]

    @classmethod
    def of(cls, *raw: bytes) -> FixedKeys:
        return cls(tuple(MasterKey.of(r) for r in raw))

    def sealing(self) -> MasterKey:
        return self.keys[0]

    def held(self) -> tuple[MasterKey, ...]:
        return self.keys


def encode_context(fields: Sequence[str]) -> bytes:
    """The fields, each length-prefixed: an unambiguous encoding."""
    out = bytearray()
    for text in fields:
        data = text.encode("utf-8")
        out += len(data).to_bytes(4, "big") + data
    return bytes(out)


def seal(key: MasterKey, plaintext: bytes, context: Sequence[str]) -> bytes:
    header = bytes([VERSION]) + key.key_id
    nonce = os.urandom(NONCE_BYTES)
    return header + nonce + key.aead.encrypt(nonce, plaintext, header + encode_context(context))


def sealed_by(sealed: bytes) -> bytes:
    """The id of the master key that sealed the value; SealBroken if it is none of ours."""
    if len(sealed) < HEADER_BYTES + NONCE_BYTES + TAG_BYTES or sealed[0] != VERSION:
        raise SealBroken("not a sealed value of this version")
    return sealed[1:HEADER_BYTES]


def unseal(keys: KeySource, sealed: bytes, context: Sequence[str]) -> bytes:
    key_id = sealed_by(sealed)
    key = next((k for k in keys.held() if k.key_id == key_id), None)
    if key is None:
        raise SealBroken(f"sealed under master key {key_id.hex()}, which this host does not hold")
    header = sealed[:HEADER_BYTES]
    nonce = sealed[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
    try:
        return key.aead.decrypt(
            nonce, sealed[HEADER_BYTES + NONCE_BYTES :], header + encode_context(context)
        )
    except InvalidTag as exc:
        raise SealBroken("does not verify: the record was changed outside hoso") from exc
