"""What the app factory wires and the views use: the services of one gateway process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import redis
from flask import current_app

from config.settings import Settings
from gateway.store.address_limits import AddressLimit
from gateway.store.admission import Gatekeeper
from gateway.store.credentials import Keyring
from gateway.store.dossiers import DossierStore
from gateway.store.idempotency import IdempotencyKeys
from gateway.store.stations import Stations


@dataclass(frozen=True)
class Services:
    settings: Settings
    redis: redis.Redis
    ping: Callable[[], bool]
    keyring: Keyring
    gatekeeper: Gatekeeper
    lookup_limit: AddressLimit  # lookups per address (the citizen page)
    decode_limit: AddressLimit  # photos decoded per address
    dossiers: DossierStore
    idempotency: IdempotencyKeys
    stations: Stations
    clock: Callable[[], float]  # unix time in seconds


def services() -> Services:
    svc: Services = current_app.extensions["hoso"]
    return svc
