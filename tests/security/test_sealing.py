"""Issue 11, item 4: API secrets are sealed with AES-GCM, every other field of a key's record is
bound to the seal, and the master key can be rotated.

The attacker here can write to Redis (a leaked password, a backup restored by the wrong person)
but does not hold the master key file. Against a real `hoso gateway` and the `hoso keys` CLI: a
record edited in Redis is refused (500, and logged: an operator's problem, never a way in).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis

from gateway.core.times import VIETNAM
from gateway.keyfiles import MasterKeyFiles, read_key, write_private_file
from gateway.store import keys
from gateway.store.credentials import Keyring
from gateway.store.sealing import FixedKeys, MasterKey, sealed_by
from tests.e2e.conftest import Gateway, running_gateway
from tests.factories import registration_body
from tests.signing import DistinctSeconds, HttpClient, Signer

DOSSIERS = "/api/v1/dossiers"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("sealing")) as running:
        yield running


@pytest.fixture
def store(gateway: Gateway) -> Iterator[redis.Redis]:
    client = gateway.redis.client()
    yield client
    client.close()


def master_file(gateway: Gateway) -> Path:
    return Path(gateway.env["HOSO_SECURITY_MASTER_KEY_FILE"])


def record(store: redis.Redis, client: HttpClient) -> dict[Any, Any]:
    return dict(store.hgetall(keys.api_key(client.signer.key_id)))


def refused(answer_status: int, body: object) -> bool:
    """A request the gateway would not let in: the record does not open (500, logged)."""
    return answer_status == 500 and isinstance(body, dict) and body["type"] == "/problems/internal"


def listed(gateway: Gateway) -> dict[str, dict[str, object]]:
    out = gateway.hoso("keys", "list", "--json")
    assert out.returncode == 0, out.stderr
    return {row["key_id"]: row for row in map(json.loads, out.stdout.splitlines())}


@pytest.mark.slow
def test_a_key_moved_to_another_department_in_redis_is_refused(
    gateway: Gateway, store: redis.Redis
) -> None:
    tuphap = gateway.department("tuphap-move")
    diachinh = gateway.department("diachinh-move")
    theirs = diachinh.post(DOSSIERS, registration_body(811)).body["code"]
    assert tuphap.get(f"{DOSSIERS}/{theirs}").status == 404  # not tuphap's dossier
    name = keys.api_key(tuphap.signer.key_id)
    store.hset(name, "owner", "diachinh-move")
    store.smove(
        keys.api_keys_of("department", "tuphap-move"),
        keys.api_keys_of("department", "diachinh-move"),
        tuphap.signer.key_id,
    )
    read = tuphap.get(f"{DOSSIERS}/{theirs}")
    assert refused(read.status, read.body), read.text
    assert theirs not in read.text
    pushed = tuphap.post(
        f"{DOSSIERS}/{theirs}/events",
        {"event_id": "x", "status": 4, "at": "2024-04-23T09:00:00+07:00"},
    )
    assert refused(pushed.status, pushed.body)
    assert len(diachinh.get(f"{DOSSIERS}/{theirs}").body["history"]) == 1  # nothing recorded
    assert listed(gateway)[tuphap.signer.key_id]["seal"] == "broken"
    # Moving it back (the fields as they were sealed) is the only way it opens again.
    store.hset(name, "owner", "tuphap-move")
    assert tuphap.get(f"{DOSSIERS}/{theirs}").status == 404


def test_a_revoked_key_cannot_be_revived_by_editing_its_record(
    gateway: Gateway, store: redis.Redis
) -> None:
    tuphap = gateway.department("tuphap-revoke")
    assert tuphap.post(DOSSIERS, registration_body(821)).status == 201
    revoked = gateway.hoso("keys", "revoke", tuphap.signer.key_id)
    assert revoked.returncode == 0, revoked.stderr
    target = f"{DOSSIERS}/{registration_body(821)['code']}"
    assert tuphap.get(target).status == 401
    name = keys.api_key(tuphap.signer.key_id)
    when = str(store.hget(name, "revoked_at"))
    assert record(store, tuphap)["fingerprint"]  # what the listing shows stays
    for edited in ("", "2099-01-01T00:00:00+07:00"):
        store.hset(name, "revoked_at", edited)
        answer = tuphap.get(target)
        assert refused(answer.status, answer.body), (edited, answer.text)
    store.hdel(name, "revoked_at")
    answer = tuphap.get(target)
    assert refused(answer.status, answer.body), answer.text
    store.hset(name, "revoked_at", when)
    assert tuphap.get(target).status == 401  # revoked, as sealed


def test_fields_split_differently_are_refused(gateway: Gateway, store: redis.Redis) -> None:
    """The old tag covered the key id and the ciphertext joined without lengths, so a forged
    split passed it. Here two neighbouring fields trade a character: joined, they read the
    same; length-prefixed, they do not."""
    tuphap = gateway.department("tuphap-split")
    assert tuphap.post(DOSSIERS, registration_body(831)).status == 201
    name = keys.api_key(tuphap.signer.key_id)
    fields = record(store, tuphap)
    owner, created = fields["owner"], fields["created_at"]
    store.hset(name, mapping={"owner": owner + created[0], "created_at": created[1:]})
    answer = tuphap.get(f"{DOSSIERS}/{registration_body(831)['code']}")
    assert refused(answer.status, answer.body), answer.text
    store.hset(name, mapping={"owner": owner[:-1], "created_at": owner[-1] + created})
    answer = tuphap.get(f"{DOSSIERS}/{registration_body(831)['code']}")
    assert refused(answer.status, answer.body), answer.text
    store.hset(name, mapping={"owner": owner, "created_at": created})  # as sealed: it opens
    assert tuphap.get(f"{DOSSIERS}/{registration_body(831)['code']}").status == 200


@pytest.mark.slow
def test_rotate_master_reseals_every_secret_and_the_old_secrets_still_verify(
    gateway: Gateway, store: redis.Redis
) -> None:
    tuphap = gateway.department("tuphap-rot")
    diachinh = gateway.department("diachinh-rot")
    gone = gateway.department("gone-rot")
    assert gateway.hoso("keys", "revoke", gone.signer.key_id).returncode == 0
    saved_before = record(store, diachinh)  # what someone copied out of Redis
    path = master_file(gateway)
    before = read_key(path, "master key")

    rotated = gateway.hoso("keys", "rotate-master")

    assert rotated.returncode == 0, rotated.stderr
    assert "sealed again" in rotated.stdout
    after = read_key(path, "master key")
    assert after != before
    assert path.stat().st_mode & 0o777 == 0o600
    files = MasterKeyFiles(path)
    assert not files.next.exists()
    assert not files.old.exists()
    new_id = MasterKey.of(after).key_id
    for key_id in Keyring(store, after).key_ids():
        sealed = store.hget(keys.api_key(key_id), "sealed")
        assert sealed_by(bytes.fromhex(str(sealed))) == new_id, key_id
    # The departments' secrets did not change: their requests verify as before.
    assert tuphap.post(DOSSIERS, registration_body(841)).status == 201
    assert diachinh.post(DOSSIERS, registration_body(842)).status == 201
    assert gone.get(f"{DOSSIERS}/{registration_body(841)['code']}").status == 401
    # A copy of a record taken before the rotation no longer opens anywhere.
    resealed = record(store, diachinh)
    store.hset(keys.api_key(diachinh.signer.key_id), mapping=saved_before)
    answer = diachinh.get(f"{DOSSIERS}/{registration_body(842)['code']}")
    assert refused(answer.status, answer.body), answer.text
    store.hset(keys.api_key(diachinh.signer.key_id), mapping=resealed)
    assert diachinh.get(f"{DOSSIERS}/{registration_body(842)['code']}").status == 200


@pytest.mark.slow
def test_a_rotation_interrupted_at_any_step_leaves_every_key_working_and_is_finished_by_a_rerun(
    gateway: Gateway, store: redis.Redis
) -> None:
    departments = [gateway.department(f"crash-{n}") for n in range(4)]
    files = MasterKeyFiles(master_file(gateway))
    current = read_key(files.current, "master key")
    new = secrets.token_bytes(32)
    both = Keyring(store, FixedKeys.of(new, current))
    ids = [d.signer.key_id for d in departments]

    def every_key_works(step: int) -> None:
        for d in departments:  # 404 for a dossier of nobody: the request was let in
            answer = d.get(f"{DOSSIERS}/{registration_body(9999)['code']}?step={step}")
            assert answer.status == 404, answer.text

    # A crash during step 3: the new key in .next, the old one backed up, half re-sealed.
    write_private_file(files.next, new.hex() + "\n")
    write_private_file(files.old, current.hex() + "\n")
    for key_id in ids[:2]:
        assert both.reseal(key_id)
    every_key_works(851)
    rerun = gateway.hoso("keys", "rotate-master")
    assert rerun.returncode == 0, rerun.stderr
    assert "continued the rotation under way" in rerun.stdout
    assert read_key(files.current, "master key") == new  # the rotation that was under way
    assert not files.next.exists()
    assert not files.old.exists()
    every_key_works(852)

    # A crash after step 4: the new key in place, the old one still backed up, and a record
    # sealed under the old key by a process that read the files before the rotation began.
    newer = secrets.token_bytes(32)
    write_private_file(files.old, new.hex() + "\n")
    write_private_file(files.current, newer.hex() + "\n", replace=True)
    newer_first = Keyring(store, FixedKeys.of(newer, new))
    for key_id in ids[1:]:
        newer_first.reseal(key_id)  # ids[0] stays under the old key
    every_key_works(853)
    rerun = gateway.hoso("keys", "rotate-master")
    assert rerun.returncode == 0, rerun.stderr
    assert "continued the rotation under way" in rerun.stdout
    assert not files.next.exists()
    assert not files.old.exists()
    final = MasterKey.of(read_key(files.current, "master key"))
    for key_id in ids:
        sealed = str(store.hget(keys.api_key(key_id), "sealed"))
        assert sealed_by(bytes.fromhex(sealed)) == final.key_id
    every_key_works(854)


def old_format_record(master: bytes, key_id: str, owner: str, secret: str) -> dict[Any, Any]:
    """A key's record as hoso 0.2 wrote it: XOR with an HMAC-SHA512 pad, and an HMAC-SHA256 tag
    over the key id and the ciphertext only."""
    raw = secret.encode()
    pad = hmac.new(master, b"seal:" + key_id.encode(), hashlib.sha512).digest()[: len(raw)]
    sealed = bytes(a ^ b for a, b in zip(raw, pad, strict=True))
    tag = hmac.new(master, b"tag:" + key_id.encode() + sealed, hashlib.sha256).digest()
    return {
        "kind": "department",
        "owner": owner,
        "sealed": sealed.hex(),
        "tag": tag.hex(),
        "fingerprint": hashlib.sha256(raw).hexdigest()[:16],
        "created_at": "2024-04-23T08:00:00+07:00",
    }


@pytest.mark.slow
def test_old_format_records_are_refused_until_hoso_keys_upgrade_reseals_them(
    gateway: Gateway, store: redis.Redis
) -> None:
    master = read_key(master_file(gateway), "master key")
    live_id, dead_id = f"dep_{secrets.token_hex(8)}", f"dep_{secrets.token_hex(8)}"
    live_secret, dead_secret = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    store.hset(
        keys.api_key(live_id), mapping=old_format_record(master, live_id, "cu-live", live_secret)
    )
    dead = old_format_record(master, dead_id, "cu-dead", dead_secret)
    store.hset(keys.api_key(dead_id), mapping=dead | {"revoked_at": "2024-05-01T08:00:00+07:00"})
    old = HttpClient(gateway.base, Signer(live_id, live_secret, DistinctSeconds()))
    revoked = HttpClient(gateway.base, Signer(dead_id, dead_secret, DistinctSeconds()))

    before = old.post(DOSSIERS, registration_body(861))
    assert refused(before.status, before.body), before.text
    assert listed(gateway)[live_id]["seal"] == "old-format"
    shown = gateway.hoso("keys", "list")
    assert "hoso keys upgrade" in shown.stdout

    upgraded = gateway.hoso("keys", "upgrade")

    assert upgraded.returncode == 0, upgraded.stderr
    assert "2 key(s) of the old format sealed again" in upgraded.stdout
    assert old.post(DOSSIERS, registration_body(861)).status == 201
    assert revoked.post(DOSSIERS, registration_body(862)).status == 401
    for key_id in (live_id, dead_id):
        assert "tag" not in store.hgetall(keys.api_key(key_id))
        assert listed(gateway)[key_id]["seal"] == "ok"
    credential = Keyring(store, master).get(dead_id)
    assert credential is not None
    assert credential.revoked
    assert credential.secret == ""
    again = gateway.hoso("keys", "upgrade")
    assert again.returncode == 0
    assert "nothing to upgrade" in again.stdout


@pytest.mark.slow
def test_the_listing_shows_no_secret_and_times_as_people_read_them(gateway: Gateway) -> None:
    tuphap = gateway.department("tuphap-list")
    shown = gateway.hoso("keys", "list")
    assert shown.returncode == 0, shown.stderr
    line = next(line for line in shown.stdout.splitlines() if tuphap.signer.key_id in line)
    row = listed(gateway)[tuphap.signer.key_id]
    created = datetime.fromisoformat(str(row["created_at"])).astimezone(VIETNAM)
    assert f"created {created:%d/%m/%Y %H:%M}" in line
    assert "tuphap-list" in line
    assert "active" in line
    assert str(row["fingerprint"]) in line
    as_json = gateway.hoso("keys", "list", "--json")
    assert tuphap.signer.secret not in shown.stdout + as_json.stdout
