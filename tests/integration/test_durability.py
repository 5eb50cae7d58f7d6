"""Accepted means durable: kill -9 of redis-server loses no acknowledged change; while Redis is
down the gateway answers 503 (not 500, not a hang) and recovers by itself."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from config.settings import RedisSettings, Settings
from gateway.http.app import create_app
from gateway.store.connect import connect_redis
from gateway.store.credentials import ClientKind
from gateway.store.dossiers import DossierStore
from hoso.redis_server import SHIPPED_CONF, RedisServer, embedded
from tests.conftest import MASTER_KEY, REDIS_SERVER, Clock
from tests.factories import event_body, registration_body
from tests.integration.conftest import _client
from tests.signing import AppClient

DOSSIERS = "/api/v1/dossiers"


def test_every_acknowledged_push_survives_kill_9_of_redis(
    fresh_redis: Callable[[], RedisServer],
) -> None:
    server = fresh_redis().start()
    clock = Clock()
    app = create_app(Settings(), connect_redis(server.url), MASTER_KEY, clock)
    admin = server.client()
    dept = _client(app, admin, clock, ClientKind.DEPARTMENT, "tuphap")
    for n in range(1, 5):
        assert dept.post(DOSSIERS, registration_body(n)).status == 201

    acked: list[tuple[str, str]] = []
    refused: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def pusher(n: int) -> None:
        client = AppClient(app.test_client(), dept.signer)
        code = f"000.00.20.H57-240423-{n:04d}"
        i = 0
        while not stop.is_set():
            i += 1
            answer = client.post(
                f"{DOSSIERS}/{code}/events", event_body(f"p{n}-{i}", 4, minutes=i, desk=f"d{i}")
            )
            with lock:
                if answer.status in (200, 201):
                    acked.append((code, f"p{n}-{i}"))
                else:
                    refused.append(answer.status)
                    if len(refused) > 40:
                        return

    threads = [threading.Thread(target=pusher, args=(n,)) for n in range(1, 5)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while len(acked) < 200 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()  # kill -9 while pushes are in flight
    deadline = time.monotonic() + 10
    while not refused and time.monotonic() < deadline:  # some pushes meet the dead Redis
        time.sleep(0.01)
    stop.set()
    for t in threads:
        t.join(10)
    assert len(acked) >= 200
    assert refused, "some pushes must have met the dead Redis"
    assert set(refused) == {503}, f"while Redis is down the answer is 503, not {set(refused)}"

    server.start()
    store = DossierStore(server.client())
    for n in range(1, 5):
        code = f"000.00.20.H57-240423-{n:04d}"
        recorded = {e["event_id"] for e in store.history(code)}
        mine = {e for c, e in acked if c == code}
        assert mine <= recorded, f"lost: {sorted(mine - recorded)[:5]}"
        assert store.get(code).version == len(recorded)  # registered + every current event


def test_health_answers_503_while_redis_is_down_and_recovers_by_itself(
    fresh_redis: Callable[[], RedisServer],
) -> None:
    server = fresh_redis().start()
    clock = Clock()
    app = create_app(Settings(), connect_redis(server.url), MASTER_KEY, clock)
    dept = _client(app, server.client(), clock, ClientKind.DEPARTMENT, "tuphap")
    web = app.test_client()
    assert web.get("/readyz").status_code == 200

    server.kill()
    started = time.monotonic()
    down = web.get("/readyz")
    assert down.status_code == 503
    assert time.monotonic() - started < 3, "readiness must not hang while Redis is down"
    assert web.get("/healthz").status_code == 200  # the process itself is fine
    api = dept.post(DOSSIERS, registration_body(1))
    assert api.status == 503
    assert api.body["type"] == "/problems/store-unavailable"
    assert api.headers["Retry-After"]

    server.start()
    assert web.get("/readyz").status_code == 200
    assert dept.post(DOSSIERS, registration_body(1)).status == 201


def test_a_config_rewrite_lands_in_the_servers_own_file_never_in_the_shipped_one(
    tmp_path: Path,
) -> None:
    shipped = SHIPPED_CONF.read_text(encoding="utf-8")
    custom = tmp_path / "custom.conf"
    custom.write_text(shipped + "\nmaxmemory-policy noeviction\nhz 20\n", encoding="utf-8")
    server = embedded(
        RedisSettings(dir=str(tmp_path / "redis"), conf=str(custom), server=REDIS_SERVER)
    )
    with server:
        client = server.client()
        assert client.config_get("hz") == {"hz": "20"}  # the configured file is the one used
        assert client.config_get("appendfsync") == {"appendfsync": "always"}
        client.config_set("hz", "15")
        assert client.config_rewrite()  # what Sentinel makes a server do at a failover
    assert custom.read_text(encoding="utf-8").endswith("hz 20\n")
    assert SHIPPED_CONF.read_text(encoding="utf-8") == shipped
    own = (tmp_path / "redis" / "redis.conf").read_text(encoding="utf-8")
    assert own.startswith(f"include {custom.resolve()}\n")
    assert "hz 15" in own
    with server:  # a restart keeps what the rewrite recorded
        assert server.client().config_get("hz") == {"hz": "15"}
