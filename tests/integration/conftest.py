"""The gateway app wired to a real Redis, with signed clients for two departments."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
import redis
from flask import Flask

from config.settings import GatewaySettings, Settings
from gateway.http.app import create_app
from gateway.store.credentials import ClientKind, Keyring
from tests.conftest import MASTER_KEY, Clock
from tests.signing import AppClient, Signer


@pytest.fixture
def settings() -> Settings:
    return Settings(gateway=replace(GatewaySettings(), rate_per_minute=1000))


@pytest.fixture
def app(settings: Settings, redis_client: redis.Redis, clock: Clock) -> Flask:
    return create_app(settings, redis_client, MASTER_KEY, clock)


def _client(
    app: Flask, redis_client: redis.Redis, clock: Clock, kind: ClientKind, owner: str
) -> AppClient:
    new = Keyring(redis_client, MASTER_KEY).create(kind, owner, datetime.now(UTC))
    return AppClient(app.test_client(), Signer(new.key_id, new.secret, clock))


@pytest.fixture
def tuphap(app: Flask, redis_client: redis.Redis, clock: Clock) -> AppClient:
    """The justice department's system."""
    return _client(app, redis_client, clock, ClientKind.DEPARTMENT, "tuphap")


@pytest.fixture
def diachinh(app: Flask, redis_client: redis.Redis, clock: Clock) -> AppClient:
    """The land department's system."""
    return _client(app, redis_client, clock, ClientKind.DEPARTMENT, "diachinh")


@pytest.fixture
def station(app: Flask, redis_client: redis.Redis, clock: Clock) -> AppClient:
    return _client(app, redis_client, clock, ClientKind.STATION, "quay-1")
