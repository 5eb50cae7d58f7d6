"""The app factory: wires settings, Redis and the stores into the Flask app."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path

import redis
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config.settings import RedisSettings, Settings
from gateway.http import (
    admin,
    admin_charts,
    admin_keys,
    admin_records,
    admin_routes,
    dossiers,
    health,
    lookup,
    metrics,
    openapi,
    problems,
    receipts,
    scans,
)
from gateway.http.context import Services
from gateway.store.admission import Gatekeeper
from gateway.store.connect import connect
from gateway.store.credentials import Keyring
from gateway.store.dossiers import DossierStore
from gateway.store.idempotency import IdempotencyKeys
from gateway.store.stations import Stations

# One blueprint per feature. A new feature adds its import above and its blueprint here.
FEATURES = (
    dossiers.bp,
    scans.bp,
    receipts.bp,
    health.bp,
    openapi.bp,
    lookup.bp,
    metrics.bp,
    admin.bp,
    admin_charts.bp,
    admin_keys.bp,
    admin_records.bp,
    admin_routes.bp,
)


def connect_redis(url: str) -> redis.Redis:
    """The store's client for `url` (any form `gateway.store.connect` reads): fails fast while
    Redis is down and reconnects by itself when it is back. It waits for no replica: the
    processes that acknowledge changes use `gateway.store.connect.connect(settings.redis)`."""
    return connect(RedisSettings(url=url))


def pinger(client: redis.Redis) -> Callable[[], bool]:
    def ping() -> bool:
        try:
            return bool(client.ping())
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return False

    return ping


def create_app(
    settings: Settings,
    client: redis.Redis,
    master_key: bytes,
    clock: Callable[[], float] = time.time,
) -> Flask:
    app = Flask("gateway")
    app.config["MAX_CONTENT_LENGTH"] = settings.gateway.max_body
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["hoso"] = Services(
        settings=settings,
        redis=client,
        ping=pinger(client),
        keyring=Keyring(client, master_key),
        gatekeeper=Gatekeeper(client, signature_ttl=2 * settings.gateway.clock_skew + 60),
        dossiers=DossierStore(client),
        idempotency=IdempotencyKeys(client),
        stations=Stations(client),
        clock=clock,
    )
    problems.install(app)
    for bp in FEATURES:
        app.register_blueprint(bp)
    hops = settings.gateway.proxies
    if hops > 0:  # the addresses per-address limits count are the clients', not the proxy's
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    return app


def load_master_key(path: Path) -> bytes:
    """The key that seals API secrets at rest: read from `path`, created there on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = path.open("x", encoding="ascii")
        path.chmod(0o600)
        with fd:
            fd.write(secrets.token_hex(32) + "\n")
    text = path.read_text(encoding="ascii").strip()
    key = bytes.fromhex(text)
    if len(key) < 32:
        raise ValueError(f"{path}: the master key must hold at least 32 bytes (64 hex digits)")
    return key
