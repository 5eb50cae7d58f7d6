"""A dossier registered from a department's body: the one way, for the department API (`POST
/api/v1/dossiers`) and the bulk import (`hoso dossiers import`) alike.

The body is checked against the OpenAPI schema (`gateway.schemas`), read by the core
(`parse_registration`), its `received_at` refused when it lies ahead of the clock by more than the
clock-skew allowance, and registered by the store (the same row again is "already there"; the same
code with other data a `DossierConflict`). Errors: `InvalidBody`, a `CoreError` or a `StoreError`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from gateway.core.dossier import parse_registration
from gateway.core.times import refuse_future_time
from gateway.schemas import checked
from gateway.store.dossiers import DossierStore, Registered

SCHEMA = "DossierRegistration"


def register_dossier(
    store: DossierStore,
    body: object,
    department: str,
    office: str,
    now: datetime,
    clock_skew: timedelta,
) -> Registered:
    registration = parse_registration(checked(SCHEMA, body))
    refuse_future_time("received_at", registration.received_at, now, clock_skew)
    return store.register(registration, department, now, office)
