"""The security matrix: signatures, replay, scoping to a department, Idempotency-Key."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import redis
from flask import Flask

from gateway.core.signing import HEADER_KEY_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, sign
from gateway.store.credentials import ClientKind, Keyring
from gateway.store.idempotency import IdempotencyKeys
from tests.conftest import MASTER_KEY, Clock
from tests.factories import event_body, registration_body
from tests.signing import Answer, AppClient, encode

DOSSIERS = "/api/v1/dossiers"
BODY = registration_body(1)
RAW = encode(BODY)


def send(
    client: AppClient,
    headers: dict[str, str],
    raw: bytes = RAW,
    target: str = DOSSIERS,
    method: str = "POST",
) -> Answer:
    return client.request(
        method, target, raw, headers={"Content-Type": "application/json", **headers}, sign=False
    )


def good(
    client: AppClient, now: int, raw: bytes = RAW, target: str = DOSSIERS, method: str = "POST"
) -> dict[str, str]:
    ts = str(now)
    return {
        HEADER_KEY_ID: client.signer.key_id,
        HEADER_TIMESTAMP: ts,
        HEADER_SIGNATURE: sign(client.signer.secret, ts, method, target, raw),
    }


def without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != name}


Case = Callable[[AppClient, int], Answer]

NEGATIVE: dict[str, Case] = {
    "no headers at all": lambda c, now: send(c, {}),
    "no key id": lambda c, now: send(c, without(good(c, now), HEADER_KEY_ID)),
    "no timestamp": lambda c, now: send(c, without(good(c, now), HEADER_TIMESTAMP)),
    "no signature": lambda c, now: send(c, without(good(c, now), HEADER_SIGNATURE)),
    "malformed key id": lambda c, now: send(c, good(c, now) | {HEADER_KEY_ID: "dep key!"}),
    "timestamp not unix seconds": lambda c, now: send(
        c, good(c, now) | {HEADER_TIMESTAMP: "2026-11-26T10:00:00Z"}
    ),
    "fractional timestamp": lambda c, now: send(c, good(c, now) | {HEADER_TIMESTAMP: f"{now}.5"}),
    "signature not hex": lambda c, now: send(c, good(c, now) | {HEADER_SIGNATURE: "z" * 64}),
    "signature upper-case hex": lambda c, now: send(
        c, good(c, now) | {HEADER_SIGNATURE: good(c, now)[HEADER_SIGNATURE].upper()}
    ),
    "signature truncated": lambda c, now: send(
        c, good(c, now) | {HEADER_SIGNATURE: good(c, now)[HEADER_SIGNATURE][:40]}
    ),
    "unknown key id": lambda c, now: send(
        c, good(c, now) | {HEADER_KEY_ID: "dep_0000000000000000"}
    ),
    "wrong secret": lambda c, now: send(
        c,
        good(c, now) | {HEADER_SIGNATURE: sign("not-the-secret", str(now), "POST", DOSSIERS, RAW)},
    ),
    "body changed after signing": lambda c, now: send(
        c, good(c, now), raw=encode(registration_body(2))
    ),
    "body signed as empty": lambda c, now: send(c, good(c, now, raw=b"")),
    "path changed after signing": lambda c, now: send(
        c, good(c, now, target="/api/v1/dossiers/000.00.20.H57-240423-0001/events")
    ),
    "query added after signing": lambda c, now: send(c, good(c, now), target=DOSSIERS + "?x=1"),
    "method changed after signing": lambda c, now: send(c, good(c, now, method="PUT")),
    "timestamp changed after signing": lambda c, now: send(
        c, good(c, now) | {HEADER_TIMESTAMP: str(now - 1)}
    ),
    "timestamp 301 s in the past": lambda c, now: send(c, good(c, now - 301)),
    "timestamp 301 s in the future": lambda c, now: send(c, good(c, now + 301)),
    "timestamp of 1970": lambda c, now: send(c, good(c, 0)),
}


@pytest.mark.parametrize("case", list(NEGATIVE), ids=list(NEGATIVE))
def test_a_bad_signature_is_401_and_records_nothing(
    case: str, tuphap: AppClient, clock: Clock, redis_client: redis.Redis
) -> None:
    answer = NEGATIVE[case](tuphap, int(clock()))
    assert answer.status == 401, answer.text
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert answer.body["type"] == "/problems/unauthorized"
    assert "WWW-Authenticate" in answer.headers
    assert not redis_client.exists("hoso:dossier:000.00.20.H57-240423-0001")


def test_the_matrix_is_big_enough() -> None:
    assert len(NEGATIVE) >= 12


@pytest.mark.parametrize("offset", [-300, 300])
def test_a_timestamp_exactly_300_s_off_is_still_accepted(
    tuphap: AppClient, clock: Clock, offset: int
) -> None:
    assert send(tuphap, good(tuphap, int(clock()) + offset)).status == 201


def test_a_replayed_request_is_401(tuphap: AppClient, clock: Clock) -> None:
    headers = good(tuphap, int(clock()))
    assert send(tuphap, headers).status == 201
    clock.advance(5)
    replay = send(tuphap, headers)
    assert replay.status == 401
    assert "replay" in replay.body["detail"]


def test_a_revoked_key_is_401_at_once(
    tuphap: AppClient, clock: Clock, redis_client: redis.Redis
) -> None:
    assert tuphap.post(DOSSIERS, BODY).status == 201
    Keyring(redis_client, MASTER_KEY).revoke(tuphap.signer.key_id, datetime.now(UTC))
    assert tuphap.get(f"{DOSSIERS}/000.00.20.H57-240423-0001").status == 401


def test_a_station_key_cannot_use_the_department_api(station: AppClient) -> None:
    assert station.post(DOSSIERS, BODY).status == 401
    assert station.get(f"{DOSSIERS}/000.00.20.H57-240423-0001").status == 401


def test_a_key_sealed_under_another_master_key_is_refused(
    app: Flask, redis_client: redis.Redis, clock: Clock
) -> None:
    from tests.signing import Signer

    other = Keyring(redis_client, bytes(32)).create(
        ClientKind.DEPARTMENT, "tuphap", datetime.now(UTC)
    )
    client = AppClient(app.test_client(), Signer(other.key_id, other.secret, clock))
    assert (
        client.post(DOSSIERS, BODY).status == 500
    )  # a corrupt credential is an operator's problem
    assert not redis_client.exists("hoso:dossier:000.00.20.H57-240423-0001")


def test_secrets_are_not_stored_in_the_clear(tuphap: AppClient, redis_client: redis.Redis) -> None:
    stored = redis_client.hgetall(f"hoso:apikey:{tuphap.signer.key_id}")
    assert tuphap.signer.secret not in str(stored)
    credential = Keyring(redis_client, MASTER_KEY).get(tuphap.signer.key_id)
    assert credential is not None
    assert credential.secret == tuphap.signer.secret


# -- a department sees and changes only its own dossiers ----------------------------------------


def test_another_departments_dossier_reads_exactly_like_an_unknown_one(
    tuphap: AppClient, diachinh: AppClient
) -> None:
    assert tuphap.post(DOSSIERS, BODY).status == 201
    theirs = diachinh.get(f"{DOSSIERS}/000.00.20.H57-240423-0001")
    unknown = diachinh.get(f"{DOSSIERS}/000.00.20.H57-240423-0999")
    assert theirs.status == unknown.status == 404
    assert theirs.body == unknown.body | {"detail": theirs.body["detail"]}
    assert theirs.body["detail"] == unknown.body["detail"]


def test_another_department_cannot_push_events(tuphap: AppClient, diachinh: AppClient) -> None:
    assert tuphap.post(DOSSIERS, BODY).status == 201
    path = f"{DOSSIERS}/000.00.20.H57-240423-0001/events"
    theirs = diachinh.post(path, event_body("x", 9))
    unknown = diachinh.post(f"{DOSSIERS}/000.00.20.H57-240423-0999/events", event_body("x", 9))
    assert theirs.status == unknown.status == 404
    assert theirs.body == unknown.body
    assert tuphap.get(f"{DOSSIERS}/000.00.20.H57-240423-0001").body["status"]["code"] == 2


def test_another_department_cannot_take_over_a_code(tuphap: AppClient, diachinh: AppClient) -> None:
    first = tuphap.post(DOSSIERS, BODY)
    assert first.status == 201
    taken = diachinh.post(DOSSIERS, BODY)
    assert taken.status == 409
    assert first.body["secret"] not in taken.text


# -- Idempotency-Key ----------------------------------------------------------------------------


def test_the_same_idempotency_key_and_body_get_the_same_answer(tuphap: AppClient) -> None:
    key = {"Idempotency-Key": "reg-0001"}
    first = tuphap.post(DOSSIERS, BODY, headers=key)
    again = tuphap.post(DOSSIERS, BODY, headers=key)
    assert (first.status, again.status) == (201, 201)
    assert again.body == first.body
    assert again.headers.get("Idempotent-Replayed") == "true"


def test_the_same_idempotency_key_with_another_body_is_422(tuphap: AppClient) -> None:
    key = {"Idempotency-Key": "reg-0001"}
    assert tuphap.post(DOSSIERS, BODY, headers=key).status == 201
    other = tuphap.post(DOSSIERS, registration_body(2), headers=key)
    assert other.status == 422
    assert other.body["type"] == "/problems/idempotency-key-reused"


def test_a_key_still_running_is_409(tuphap: AppClient, redis_client: redis.Redis) -> None:
    import hashlib

    digest = hashlib.sha256(b"POST /api/v1/dossiers\n" + RAW).hexdigest()
    claim = IdempotencyKeys(redis_client).claim(tuphap.signer.key_id, "reg-0001", digest)
    assert claim.claim == "new"
    answer = tuphap.post(DOSSIERS, BODY, headers={"Idempotency-Key": "reg-0001"})
    assert answer.status == 409
    assert answer.body["type"] == "/problems/idempotency-key-in-use"
    assert "Retry-After" in answer.headers


def test_concurrent_requests_with_one_key_record_one_dossier_once(
    app: Flask, tuphap: AppClient, clock: Clock
) -> None:
    barrier = threading.Barrier(8)
    answers: list[Answer] = []
    lock = threading.Lock()

    def hit(i: int) -> None:
        client = AppClient(app.test_client(), tuphap.signer)
        headers = good(client, int(clock()) - 100 - i) | {"Idempotency-Key": "burst-1"}
        barrier.wait()
        answer = send(client, headers)
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=hit, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(a.status for a in answers)
    assert statuses.count(201) >= 1
    assert set(statuses) <= {201, 409}
    winners = [a.body for a in answers if a.status == 201]
    assert all(w == winners[0] for w in winners)  # replays repeat the first answer exactly
    final = tuphap.post(DOSSIERS, BODY, headers={"Idempotency-Key": "burst-1"})
    assert (final.status, final.body) == (201, winners[0])


def test_idempotency_keys_are_scoped_to_the_api_key(tuphap: AppClient, diachinh: AppClient) -> None:
    key = {"Idempotency-Key": "same-key"}
    assert tuphap.post(DOSSIERS, BODY, headers=key).status == 201
    theirs = diachinh.post(
        DOSSIERS, registration_body(2, code="000.00.30.H57-240423-0002"), headers=key
    )
    assert theirs.status == 201
    assert "Idempotent-Replayed" not in theirs.headers


def test_a_malformed_idempotency_key_is_400(tuphap: AppClient) -> None:
    answer = tuphap.post(DOSSIERS, BODY, headers={"Idempotency-Key": "x" * 300})
    assert answer.status == 400


# -- what an unverified request may change: nothing of the key ---------------------------------


def test_forged_requests_change_nothing_of_the_key_and_cost_their_address_only(
    redis_client: redis.Redis, clock: Clock
) -> None:
    from dataclasses import replace

    from config.settings import GatewaySettings, Settings
    from gateway.http.app import create_app
    from tests.signing import Signer

    clock.now = clock.now // 60 * 60  # the start of a minute: the test moves it on by hand
    settings = Settings(
        gateway=replace(GatewaySettings(), rate_per_minute=2, auth_failures_per_minute=3)
    )
    app = create_app(settings, redis_client, MASTER_KEY, clock)
    new = Keyring(redis_client, MASTER_KEY).create(
        ClientKind.DEPARTMENT, "tuphap", clock_now(clock)
    )
    department = AppClient(app.test_client(), Signer(new.key_id, new.secret, clock))
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "198.51.100.9"
    forger = AppClient(elsewhere, department.signer)
    idem = {"Idempotency-Key": "reg-0001"}
    forged = good(department, int(clock())) | {HEADER_SIGNATURE: "0" * 64} | idem
    assert [send(forger, forged).status for _ in range(3)] == [401] * 3
    limited = send(forger, forged)
    assert limited.status == 429
    assert int(limited.headers["Retry-After"]) == 60
    assert not redis_client.keys("hoso:rate:*")  # the key's quota: untouched
    assert not redis_client.keys("hoso:sig:*")  # no signature marked used
    assert not redis_client.keys("hoso:idem:*")  # no Idempotency-Key claimed
    # The department, at its own address, has its whole quota, Idempotency-Key included.
    assert department.post(DOSSIERS, BODY, headers=idem).status == 201
    assert department.get(f"{DOSSIERS}/000.00.20.H57-240423-0001").status == 200
    assert department.get(f"{DOSSIERS}/000.00.20.H57-240423-0001?again").status == 429
    clock.advance(60)  # the next minute: the forger's address may try again
    assert send(forger, good(department, int(clock())) | {HEADER_SIGNATURE: "0" * 64}).status == 401


def test_a_request_over_the_quota_keeps_its_signature_for_a_later_try(
    redis_client: redis.Redis, clock: Clock
) -> None:
    from dataclasses import replace

    from config.settings import GatewaySettings, Settings
    from gateway.http.app import create_app
    from tests.signing import Signer

    clock.now = clock.now // 60 * 60
    settings = Settings(gateway=replace(GatewaySettings(), rate_per_minute=1))
    app = create_app(settings, redis_client, MASTER_KEY, clock)
    new = Keyring(redis_client, MASTER_KEY).create(
        ClientKind.DEPARTMENT, "tuphap", clock_now(clock)
    )
    department = AppClient(app.test_client(), Signer(new.key_id, new.secret, clock))
    assert department.get(f"{DOSSIERS}/000.00.20.H57-240423-0001").status == 404
    headers = good(department, int(clock()), raw=RAW)
    assert send(department, headers).status == 429
    clock.advance(60)  # the next minute, well within the signature's 300 s
    assert send(department, headers).status == 201  # the same signed request, sent again
    assert send(department, headers).status == 401  # and then it is used


def test_a_replayed_request_does_not_spend_the_quota(
    redis_client: redis.Redis, clock: Clock
) -> None:
    from dataclasses import replace

    from config.settings import GatewaySettings, Settings
    from gateway.http.app import create_app
    from tests.signing import Signer

    clock.now = clock.now // 60 * 60
    settings = Settings(gateway=replace(GatewaySettings(), rate_per_minute=2))
    app = create_app(settings, redis_client, MASTER_KEY, clock)
    new = Keyring(redis_client, MASTER_KEY).create(
        ClientKind.DEPARTMENT, "tuphap", clock_now(clock)
    )
    department = AppClient(app.test_client(), Signer(new.key_id, new.secret, clock))
    captured = good(department, int(clock()))
    assert send(department, captured).status == 201
    assert [send(department, captured).status for _ in range(5)] == [401] * 5  # replays
    assert department.get(f"{DOSSIERS}/000.00.20.H57-240423-0001").status == 200  # 2nd of 2


def clock_now(clock: Clock) -> datetime:
    return datetime.fromtimestamp(clock(), UTC)


def test_revoking_twice_keeps_the_first_time_and_revoking_a_tampered_key_still_works(
    tuphap: AppClient, diachinh: AppClient, redis_client: redis.Redis
) -> None:
    keyring = Keyring(redis_client, MASTER_KEY)
    first = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    assert keyring.revoke(tuphap.signer.key_id, first)
    assert keyring.revoke(tuphap.signer.key_id, datetime(2026, 2, 1, tzinfo=UTC))
    assert redis_client.hget(f"hoso:apikey:{tuphap.signer.key_id}", "revoked_at") == (
        "2026-01-02T10:04:00+07:00"
    )
    assert not keyring.revoke("dep_0000000000000000", first)
    # A record moved to another owner does not open; revoking it needs no secret and seals it
    # as revoked, so the key is refused as revoked from then on.
    redis_client.hset(f"hoso:apikey:{diachinh.signer.key_id}", "owner", "tuphap")
    assert keyring.revoke(diachinh.signer.key_id, first)
    credential = keyring.get(diachinh.signer.key_id)
    assert credential is not None
    assert credential.revoked
    assert credential.secret == ""
    assert diachinh.get(f"{DOSSIERS}/000.00.20.H57-240423-0001").status == 401
