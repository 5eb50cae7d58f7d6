"""The app factory: wires settings, Redis and the stores into the Flask app."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import redis
from flask import Flask

from config.settings import AdminSettings, Settings
from gateway.http import (
    admin,
    admin_accounts,
    admin_charts,
    admin_keys,
    admin_offices,
    admin_province,
    admin_records,
    admin_routes,
    dossiers,
    health,
    lookup,
    metrics,
    openapi,
    pages,
    problems,
    receipts,
    scans,
    stations,
)
from gateway.http.bodies import BoundedRequest
from gateway.http.context import Services
from gateway.http.proxies import TrustedProxies
from gateway.keyfiles import MasterKeyFiles
from gateway.routing import Router
from gateway.store.address_limits import AddressLimit, AddressPolicy
from gateway.store.admission import Gatekeeper, failure_policy
from gateway.store.credentials import Keyring
from gateway.store.dossiers import DossierStore
from gateway.store.idempotency import IdempotencyKeys
from gateway.store.links import LinkRegistry
from gateway.store.login_throttle import LoginThrottle, Policy
from gateway.store.modems import ModemRegistry
from gateway.store.offices import Offices
from gateway.store.outbox import Outbox
from gateway.store.sealing import KeySource
from gateway.store.sms_records import SmsRecords
from gateway.store.stations import Stations
from gateway.store.templates import Templates
from gateway.store.users import AdminUsers

# One blueprint per feature. A new feature adds its import above and its blueprint here.
FEATURES = (
    dossiers.bp,
    scans.bp,
    stations.bp,
    receipts.bp,
    health.bp,
    openapi.bp,
    lookup.bp,
    metrics.bp,
    admin.bp,
    admin_accounts.bp,
    admin_charts.bp,
    admin_keys.bp,
    admin_offices.bp,
    admin_province.bp,
    admin_records.bp,
    admin_routes.bp,
)


def pinger(client: redis.Redis) -> Callable[[], bool]:
    def ping() -> bool:
        try:
            return bool(client.ping())
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return False

    return ping


def login_policy(admin: AdminSettings) -> Policy:
    """The dashboard's login throttle as `[admin]` sets it."""
    return Policy(
        free_tries=admin.lockout_attempts,
        first_wait=admin.login_wait_seconds,
        longest_wait=admin.lockout_minutes * 60,
        address_tries=admin.address_attempts,
        address_period=admin.lockout_minutes * 60,
    )


def create_app(
    settings: Settings,
    client: redis.Redis,
    master_key: bytes | KeySource,
    clock: Callable[[], float] = time.time,
) -> Flask:
    """`master_key`: the key that seals API secrets, or the key files (`MasterKeyFiles`)."""
    app = Flask("gateway")
    app.request_class = BoundedRequest  # a body over the limit is a 413, chunked ones too
    app.config["MAX_CONTENT_LENGTH"] = settings.gateway.max_body
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["hoso"] = Services(
        settings=settings,
        redis=client,
        ping=pinger(client),
        keyring=Keyring(client, master_key),
        gatekeeper=Gatekeeper(
            client,
            signature_ttl=2 * settings.gateway.clock_skew + 60,
            failures=failure_policy(settings.gateway.auth_failures_per_minute),
        ),
        lookup_limit=AddressLimit(client, AddressPolicy("lookup", lookup.LOOKUPS_PER_MINUTE)),
        decode_limit=AddressLimit(client, AddressPolicy("decode", receipts.DECODES_PER_MINUTE)),
        dossiers=DossierStore(client),
        offices=Offices.of(client, settings.sms),
        idempotency=IdempotencyKeys(client),
        stations=Stations(client),
        templates=Templates(client),
        users=AdminUsers(client),
        login_throttle=LoginThrottle(client, login_policy(settings.admin)),
        modems=ModemRegistry(client),
        links=LinkRegistry(client),
        outbox=Outbox(client),
        sms_records=SmsRecords(client),
        router=Router(client, settings, cache_seconds=0.0),
        clock=clock,
    )
    problems.install(app)
    pages.install(app)  # security headers on every response, display filters
    for bp in FEATURES:
        app.register_blueprint(bp)
    # The addresses per-address limits count are the clients', not a trusted proxy's.
    app.wsgi_app = TrustedProxies(  # type: ignore[method-assign]
        app.wsgi_app, settings.gateway.proxies, settings.gateway.proxy_networks()
    )
    return app


def load_master_key(path: Path) -> bytes:
    """The key that seals API secrets at rest: read from `path`, created there (0600) on first
    use. The gateway itself holds the key files (`MasterKeyFiles`), which follow a rotation."""
    return MasterKeyFiles(path).ensure()
