"""Offices in Redis (what an office is: `gateway.core.offices`).

The province's offices are created and edited from the CLI (`hoso offices`) and the dashboard
(province administrators); each is checked by the core before it is saved. The default office
(`DEFAULT_OFFICE`) exists without being saved: made from the `[sms]` settings until an
administrator saves it, so an installation that never names an office works as before.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

import redis

from config.settings import SmsSettings
from gateway.core.errors import InvalidPhone
from gateway.core.offices import (
    DEFAULT_OFFICE,
    Office,
    default_office,
    make_office,
    office_fields,
)
from gateway.core.phones import normalise_phone
from gateway.store import keys
from gateway.store.errors import StoreError


class UnknownOffice(StoreError):
    """No office of that id."""

    def __init__(self, office: str) -> None:
        super().__init__(f"unknown office: {office}")
        self.office = office


class Offices:
    def __init__(self, client: redis.Redis, default: Office) -> None:
        self._redis = client
        self._default = default  # the [sms] settings' office, while none is saved under its id

    @classmethod
    def of(cls, client: redis.Redis, sms: SmsSettings) -> Offices:
        """The offices, with the default one made from the `[sms]` settings."""
        return cls(client, default_office(sms.office, sms.hotline, sms.number))

    def get(self, office_id: str) -> Office:
        found = self.find(office_id)
        if found is None:
            raise UnknownOffice(office_id)
        return found

    def find(self, office_id: str) -> Office | None:
        raw = self._redis.hget(keys.offices(), office_id)
        if raw is None:
            return self._default if office_id == DEFAULT_OFFICE else None
        return make_office(office_id, json.loads(str(raw)))

    def exists(self, office_id: str) -> bool:
        return office_id == DEFAULT_OFFICE or bool(self._redis.hexists(keys.offices(), office_id))

    def set(self, office_id: object, fields: Mapping[str, Any]) -> Office:
        """Creates or replaces an office from its fields; `InvalidOffice` says what is wrong, and
        nothing is saved then."""
        office = make_office(office_id, fields)
        self.save(office)
        return office

    def save(self, office: Office) -> None:
        blob = json.dumps(office_fields(office), ensure_ascii=False)
        self._redis.hset(keys.offices(), office.id, blob)

    def all(self) -> list[Office]:
        """Every office, the default first, then by id."""
        raw = cast(dict[str, str], self._redis.hgetall(keys.offices()))
        saved = {oid: make_office(oid, json.loads(blob)) for oid, blob in raw.items()}
        default = saved.pop(DEFAULT_OFFICE, self._default)
        return [default, *(saved[oid] for oid in sorted(saved))]

    def several(self) -> bool:
        """More than one office: a province, whose SMS each name their office
        (`office_routes.signed`)."""
        saved = int(self._redis.hlen(keys.offices()))  # one O(1) command a reply, as a rule
        return saved > 1 or (saved == 1 and not self._redis.hexists(keys.offices(), DEFAULT_OFFICE))

    def by_number(self) -> dict[str, str]:
        """The number citizens text (as `number_key` spells it) -> its office."""
        found: dict[str, str] = {}
        for office in self.all():
            for number in office.numbers:
                found.setdefault(number_key(number), office.id)
        return found


def number_key(number: str) -> str:
    """A number as offices' numbers are compared: E.164 when it is a phone number (0912... and
    +84912... alike), else its digits (a short code)."""
    try:
        return normalise_phone(number)
    except InvalidPhone:
        return number.lstrip("+")
