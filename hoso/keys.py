"""`hoso keys ...`: the API credentials of departments and stations (create, list, revoke) and
the master key that seals them (rotate-master; upgrade, once, from records of hoso 0.2).

A secret is printed once, when it is made; nothing else ever shows it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from config.settings import Settings
from gateway.core.times import shown_time
from gateway.keyfiles import (
    KeyFileError,
    MasterKeyFiles,
    rotate_master,
    upgrade_old_records,
)
from gateway.store.connect import connect
from gateway.store.credentials import ClientKind, InvalidKeyRequest, KeyInfo, Keyring, SealState
from gateway.store.offices import Offices

log = logging.getLogger(__name__)

SEAL_NOTES = {
    SealState.OK: "",
    SealState.OLD_FORMAT: "old format: run `hoso keys upgrade`",
    SealState.BROKEN: "DOES NOT OPEN: changed outside hoso, or sealed under another master key",
}


def run(args: argparse.Namespace, settings: Settings) -> int:
    files = MasterKeyFiles(Path(settings.security.master_key_file))
    try:
        files.ensure()
        client = connect(settings.redis)
        keyring = Keyring(client, files)
        if args.action == "create":
            if not Offices.of(client, settings.sms).exists(args.office):
                print(f"hoso keys: không có đơn vị {args.office}", file=sys.stderr)
                return 2
            return _create(keyring, args)
        if args.action == "list":
            return _list(keyring, args.json)
        if args.action == "revoke":
            return _revoke(keyring, args.key_id)
        if args.action == "rotate-master":
            return _rotate(files, keyring)
        return _upgrade(keyring)
    except KeyFileError as exc:
        print(f"hoso keys: {exc}", file=sys.stderr)
        return 2


def _create(keyring: Keyring, args: argparse.Namespace) -> int:
    kind = ClientKind.DEPARTMENT if args.department else ClientKind.STATION
    try:  # the dashboard's operation and checks
        new = keyring.create(kind, args.department or args.station, datetime.now(UTC), args.office)
    except InvalidKeyRequest as exc:
        print(f"hoso keys: {exc}", file=sys.stderr)
        return 2
    log.info(
        "keys.created key_id=%s kind=%s owner=%s office=%s",
        new.key_id,
        kind.value,
        new.owner,
        new.office,
    )
    if args.json:
        print(json.dumps({"key_id": new.key_id, "secret": new.secret}))
    else:
        print(f"key id: {new.key_id}\nsecret: {new.secret}\n(the secret is shown only once)")
    return 0


def _revoke(keyring: Keyring, key_id: str) -> int:
    if not keyring.revoke(key_id, datetime.now(UTC)):
        log.warning("keys.revoke_unknown key_id=%s", key_id)
        print(f"hoso keys: no key {key_id!r}", file=sys.stderr)
        return 1
    log.info("keys.revoked key_id=%s", key_id)
    print(f"revoked {key_id} (its secret is erased: the key can never be used again)")
    return 0


def _list(keyring: Keyring, as_json: bool) -> int:
    rows = keyring.listing()
    for row in rows:
        if as_json:
            print(json.dumps(_as_json(row), ensure_ascii=False))
        else:
            print(_as_line(row))
    if not rows and not as_json:
        print("no keys (hoso keys create --department <id>)")
    return 0


def _as_json(row: KeyInfo) -> dict[str, object]:
    return {
        "key_id": row.key_id,
        "kind": row.kind,
        "owner": row.owner,
        "created_at": row.created_at,
        "revoked_at": row.revoked_at,
        "fingerprint": row.fingerprint,
        "seal": row.seal.value,
        "office": row.office,
    }


def _as_line(row: KeyInfo) -> str:
    revoked = f"revoked {_shown(row.revoked_at)}" if row.revoked_at else "active"
    note = SEAL_NOTES[row.seal]
    return (
        f"{row.key_id:22} {row.office:12} {row.kind:10} {row.owner:16}"
        f" created {_shown(row.created_at)}"
        f"  {revoked:24} fingerprint {row.fingerprint}" + (f"  {note}" if note else "")
    )


def _shown(stored: str | None) -> str:
    """A stored ISO time as people read it; what is stored, if it is no time."""
    if not stored:
        return "-"
    try:
        return shown_time(datetime.fromisoformat(stored))
    except ValueError:
        return stored


def _rotate(files: MasterKeyFiles, keyring: Keyring) -> int:
    rotation = rotate_master(files, keyring)
    if rotation.resumed:
        print(
            f"continued the rotation under way (a crash interrupted it, or the new key was"
            f" placed in {files.next})"
        )
    log.info("keys.master_rotated resealed=%s broken=%s", rotation.resealed, len(rotation.broken))
    print(f"master key rotated in {files.current}: {rotation.resealed} secret(s) sealed again")
    for key_id in rotation.broken:
        print(f"  {key_id}: {SEAL_NOTES[SealState.BROKEN]} (left as it was)")
    return 1 if rotation.broken else 0


def _upgrade(keyring: Keyring) -> int:
    count, broken = upgrade_old_records(keyring)
    log.info("keys.upgraded resealed=%s broken=%s", count, len(broken))
    print(f"{count} key(s) of the old format sealed again" if count else "nothing to upgrade")
    for key_id in broken:
        print(f"  {key_id}: does not match the master key (left as it was)")
    return 1 if broken else 0
