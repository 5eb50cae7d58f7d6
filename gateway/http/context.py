"""What the app factory wires and the views use: the services of one gateway process, built once
in `gateway.http.app.create_app`. Views take their stores from here and never build one, nor
name a Redis key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import redis
from flask import current_app

from config.settings import Settings
from gateway.routing import Router
from gateway.store.address_limits import AddressLimit
from gateway.store.admission import Gatekeeper
from gateway.store.credentials import Keyring
from gateway.store.dossiers import DossierStore
from gateway.store.idempotency import IdempotencyKeys
from gateway.store.links import LinkRegistry
from gateway.store.login_throttle import LoginThrottle
from gateway.store.modems import ModemRegistry
from gateway.store.offices import Offices
from gateway.store.outbox import Outbox
from gateway.store.sms_records import SmsRecords
from gateway.store.stations import Stations
from gateway.store.templates import Templates
from gateway.store.users import AdminUsers


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
    offices: Offices
    idempotency: IdempotencyKeys
    stations: Stations
    templates: Templates
    users: AdminUsers
    login_throttle: LoginThrottle
    modems: ModemRegistry
    links: LinkRegistry
    outbox: Outbox
    sms_records: SmsRecords
    router: Router  # reads routes' states fresh: the dashboard shows them as they are
    clock: Callable[[], float]  # unix time in seconds


def services() -> Services:
    svc: Services = current_app.extensions["hoso"]
    return svc
