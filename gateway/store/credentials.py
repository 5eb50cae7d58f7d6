"""API credentials of departments and stations.

Requests are signed with HMAC-SHA256 (see `gateway.core.signing`), so the gateway must be able
to recover each secret: a one-way hash would make verification impossible. Secrets are stored
*sealed* (`gateway.store.sealing`: AES-256-GCM under the master key, a file outside Redis, see
`SecuritySettings.master_key_file`). A copy of Redis (a backup, an AOF file) alone reveals no
secret; a SHA-256 fingerprint identifies a secret without revealing it.

Invariants of a key's hash (`keys.api_key`):
- `sealed` is sealed with every other field as associated data: key id, kind, owner, created
  time, fingerprint, revocation time (empty while live) and office (a key made before offices
  existed has none and belongs to the default office; adding an office to it, or taking one
  away, fails to open as well). Moving a key to another owner, kind or office, or un-revoking
  it by deleting or editing `revoked_at`, makes the record fail to open:
  the request is refused (500, logged), never let in. Only the master key makes a record.
- Revoking re-seals the record with its revocation time and an empty secret: the secret is gone
  for good, and the revocation cannot be undone by editing fields. (A record saved before the
  revocation and written back later still opens, as any rollback of Redis would; rotating the
  master key, `hoso keys rotate-master`, ends that: old copies do not open under the new key.)
- Records of the old format (fields `sealed` and `tag`, version 1) are refused; `hoso keys
  upgrade` re-seals them once (docs/upgrades.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

import redis

from gateway.core.offices import DEFAULT_OFFICE
from gateway.core.times import format_time
from gateway.store import keys
from gateway.store.errors import CorruptRecord, StoreError
from gateway.store.replication import confirm
from gateway.store.sealing import FixedKeys, KeySource, SealBroken, seal, sealed_by, unseal

SECRET_BYTES = 32  # token_urlsafe(32): 43 characters
SCAN_BATCH = 500
OLD_FORMAT_FIELD = "tag"  # only records of version 1 have it

Change = Callable[[dict[str, str]], dict[str, str] | None]  # old fields -> new, None: leave


class ClientKind(StrEnum):
    DEPARTMENT = "department"
    STATION = "station"


class Rewrite(StrEnum):
    MISSING = "missing"  # no such key
    UNCHANGED = "unchanged"  # nothing to do (revoked already, sealed under the key already)
    CHANGED = "changed"


class SealState(StrEnum):
    OK = "ok"
    OLD_FORMAT = "old-format"  # to be re-sealed by `hoso keys upgrade`
    BROKEN = "broken"  # does not open: changed outside hoso, or under another master key


@dataclass(frozen=True, slots=True)
class Credential:
    key_id: str
    kind: ClientKind
    owner: str
    secret: str  # empty once revoked
    revoked: bool
    office: str = DEFAULT_OFFICE  # what the key may see and change: its office's dossiers


@dataclass(frozen=True, slots=True)
class NewCredential:
    key_id: str
    secret: str  # shown once, to whoever created the key
    kind: ClientKind
    owner: str
    office: str = DEFAULT_OFFICE


class InvalidKeyRequest(StoreError, ValueError):
    """A key asked for a kind that is none, or an owner id that cannot be one."""


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What may be shown of a key: never its secret."""

    key_id: str
    kind: str
    owner: str
    created_at: str  # ISO 8601, Vietnam's time, as stored
    revoked_at: str | None
    fingerprint: str
    seal: SealState
    office: str = DEFAULT_OFFICE


def _context(key_id: str, raw: dict[str, str]) -> tuple[str, ...]:
    """The associated data of a record: every field but the sealed value itself (the office
    only when the record has one: records made before offices open as they were sealed)."""
    context = (
        "hoso api key",
        key_id,
        raw.get("kind", ""),
        raw.get("owner", ""),
        raw.get("created_at", ""),
        raw.get("fingerprint", ""),
        raw.get("revoked_at", ""),
    )
    return (*context, "office", raw["office"]) if "office" in raw else context


class Keyring:
    def __init__(self, client: redis.Redis, master: KeySource | bytes) -> None:
        self._redis = client
        self._keys: KeySource = FixedKeys.of(master) if isinstance(master, bytes) else master

    def create(
        self, kind: object, owner: object, now: datetime, office: str = DEFAULT_OFFICE
    ) -> NewCredential:
        """A new key of a department or station (`kind`, a `ClientKind` or its text) of
        `office` (an office id the caller checked exists), checked: the one operation of the
        CLI, the dashboard and the admin API. `InvalidKeyRequest` says what is wrong."""
        if not isinstance(kind, str) or kind not in tuple(ClientKind):
            raise InvalidKeyRequest("kind must be department or station.")
        client_kind = ClientKind(kind)
        if not isinstance(owner, str):
            raise InvalidKeyRequest("owner must be a department or station id.")
        owner = owner.strip()
        if not owner or len(owner) > 100 or any(c.isspace() or c == ":" for c in owner):
            shown = json.dumps(owner, ensure_ascii=False)  # as JSON writes it, never a repr
            raise InvalidKeyRequest(
                f"owner: {shown} is not a usable {client_kind} id (1 to 100 characters, no"
                " spaces or ':')."
            )
        key_id = f"{client_kind.value[:3]}_{secrets.token_hex(8)}"
        secret = secrets.token_urlsafe(SECRET_BYTES)
        fields = {
            "kind": client_kind.value,
            "owner": owner,
            "fingerprint": hashlib.sha256(secret.encode()).hexdigest()[:16],
            "created_at": format_time(now),
            "office": office,
        }
        sealed = seal(self._keys.sealing(), secret.encode(), _context(key_id, fields))
        pipe = self._redis.pipeline(transaction=True)
        record: dict[Any, Any] = fields | {"sealed": sealed.hex()}
        pipe.hset(keys.api_key(key_id), mapping=record)
        pipe.sadd(keys.api_keys_of(client_kind.value, owner), key_id)
        pipe.execute()
        confirm(self._redis)
        return NewCredential(key_id, secret, client_kind, owner, office)

    def revoke(self, key_id: str, now: datetime) -> bool:
        """Revokes the key for good (its secret is erased); False if there is no such key. A
        key revoked already stays as it was (its first revocation time stands)."""

        def change(raw: dict[str, str]) -> dict[str, str] | None:
            if "revoked_at" in raw:
                return None  # revoked already: the first time stands
            return raw | {"revoked_at": format_time(now)}

        return self._rewrite(key_id, change) is not Rewrite.MISSING

    def get(self, key_id: str) -> Credential | None:
        return self.from_hash(
            key_id, cast(dict[str, str], self._redis.hgetall(keys.api_key(key_id)))
        )

    def from_hash(self, key_id: str, raw: dict[str, str]) -> Credential | None:
        """A credential from its stored hash (fetched by the caller, e.g. in a pipeline);
        CorruptRecord if the record does not open."""
        if not raw:
            return None
        if OLD_FORMAT_FIELD in raw:
            raise CorruptRecord(f"api key {key_id}: old-format record: run `hoso keys upgrade`")
        try:
            secret = unseal(self._keys, bytes.fromhex(raw["sealed"]), _context(key_id, raw))
            return Credential(
                key_id=key_id,
                kind=ClientKind(raw["kind"]),
                owner=raw["owner"],
                secret=secret.decode(),
                revoked="revoked_at" in raw,
                office=raw.get("office", DEFAULT_OFFICE),
            )
        except (KeyError, ValueError, SealBroken) as exc:
            raise CorruptRecord(f"api key {key_id}: {exc}") from exc

    # -- every key ----------------------------------------------------------------------------

    def key_ids(self) -> Iterator[str]:
        prefix = len(keys.api_key(""))
        for name in self._redis.scan_iter(match=keys.api_key("*"), count=SCAN_BATCH):
            yield str(name)[prefix:]

    def listing(self) -> list[KeyInfo]:
        """Every key, by kind, owner and creation, with whether its record opens."""
        return self.infos(list(self.key_ids()))

    def infos(self, ids: list[str]) -> list[KeyInfo]:
        """What may be shown of these keys (those that exist), sorted as `listing`."""
        pipe = self._redis.pipeline(transaction=False)
        for key_id in ids:
            pipe.hgetall(keys.api_key(key_id))
        rows = []
        for key_id, raw in zip(ids, pipe.execute(), strict=True):
            if raw:  # else deleted between the scan and the read
                rows.append(self._info(key_id, cast(dict[str, str], raw)))
        rows.sort(key=lambda r: (r.kind, r.owner, r.created_at, r.key_id))
        return rows

    def _info(self, key_id: str, raw: dict[str, str]) -> KeyInfo:
        state = SealState.OK
        if OLD_FORMAT_FIELD in raw:
            state = SealState.OLD_FORMAT
        else:
            try:
                self.from_hash(key_id, raw)
            except CorruptRecord:
                state = SealState.BROKEN
        return KeyInfo(
            key_id=key_id,
            kind=raw.get("kind", ""),
            owner=raw.get("owner", ""),
            created_at=raw.get("created_at", ""),
            revoked_at=raw.get("revoked_at"),
            fingerprint=raw.get("fingerprint", ""),
            seal=state,
            office=raw.get("office", DEFAULT_OFFICE),
        )

    def reseal(self, key_id: str) -> bool:
        """Seals the key again under the sealing master key (a rotation, the upgrade of an
        old-format record). False if nothing had to change; CorruptRecord if it does not open."""
        sealing = self._keys.sealing().key_id

        def change(raw: dict[str, str]) -> dict[str, str] | None:
            if OLD_FORMAT_FIELD not in raw:
                try:
                    if sealed_by(bytes.fromhex(raw.get("sealed", ""))) == sealing:
                        return None
                except (ValueError, SealBroken):
                    pass  # the open below says why
            return raw

        return self._rewrite(key_id, change) is Rewrite.CHANGED

    # -- one record, changed atomically ----------------------------------------------------------

    def _secret_of(self, key_id: str, raw: dict[str, str]) -> bytes:
        """The stored secret (empty for a revoked key), from a record of either format."""
        if OLD_FORMAT_FIELD in raw:
            secret = _open_old_format(self._keys, key_id, raw)
            return b"" if "revoked_at" in raw else secret
        credential = self.from_hash(key_id, raw)
        return b"" if credential is None else credential.secret.encode()

    def _rewrite(self, key_id: str, change: Change) -> Rewrite:
        """Applies `change` (old fields -> new fields, None: leave as is) and seals the result,
        unless the record changed meanwhile (then again)."""
        name = keys.api_key(key_id)
        with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(name)  # type: ignore[no-untyped-call]
                    raw = cast(dict[str, str], pipe.hgetall(name))
                    if not raw:
                        return Rewrite.MISSING
                    fields = change(raw)
                    if fields is None:
                        return Rewrite.UNCHANGED
                    revoked = "revoked_at" in fields
                    if revoked and "revoked_at" not in raw:
                        # A revocation needs no secret: even a record that no longer opens
                        # can be revoked (and then opens, as revoked).
                        secret = b""
                    else:
                        secret = b"" if revoked else self._secret_of(key_id, raw)
                    fields = {
                        k: v for k, v in fields.items() if k not in ("sealed", OLD_FORMAT_FIELD)
                    }
                    sealed = seal(self._keys.sealing(), secret, _context(key_id, fields))
                    pipe.multi()
                    record: dict[Any, Any] = fields | {"sealed": sealed.hex()}
                    pipe.hset(name, mapping=record)
                    pipe.hdel(name, OLD_FORMAT_FIELD)
                    pipe.execute()
                    confirm(self._redis)  # a revocation must outlive a failover
                    return Rewrite.CHANGED
                except redis.WatchError:
                    continue


def _open_old_format(master: KeySource, key_id: str, raw: dict[str, str]) -> bytes:
    """A secret of version 1 (XOR with an HMAC-SHA512 pad, HMAC-SHA256 tag over key id and
    ciphertext), read once to be re-sealed; it opens under whichever held key made its tag."""
    try:
        sealed, tag = bytes.fromhex(raw["sealed"]), bytes.fromhex(raw[OLD_FORMAT_FIELD])
    except (KeyError, ValueError) as exc:
        raise CorruptRecord(f"api key {key_id}: old-format record unreadable: {exc}") from exc
    for key in master.held():
        expected = hmac.new(key.raw, b"tag:" + key_id.encode() + sealed, hashlib.sha256).digest()
        if hmac.compare_digest(tag, expected):
            pad = hmac.new(key.raw, b"seal:" + key_id.encode(), hashlib.sha512).digest()
            if len(sealed) > len(pad):
                break
            return bytes(a ^ b for a, b in zip(sealed, pad, strict=False))
    raise CorruptRecord(f"api key {key_id}: old-format record does not match the master key")
