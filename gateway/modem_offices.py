"""The modems' offices, as the workers and the router need them (the rules:
`gateway.core.office_routes`).

A modem's office is its `[[modems]] office` in the file of the modem service that drives it, as
that service notes it in Redis (a province's worker hosts name no modem in theirs), else in this
process's file; live changes never move a modem to another office; a modem no file names (an
emulated one, one added live) is in the shared pool. A modem's own number is what its owner
read from the SIM (AT+CNUM, published with its health) when the SIM knows it.

An office id that no saved office has (a typo in hoso.toml, an office not created yet) is not
fatal: that modem's citizens' SMS are the default office's, and it is named in a warning.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import redis

from config.settings import ModemSettings, SmsSettings
from gateway.core.office_routes import Pools, inbound_office
from gateway.core.offices import DEFAULT_OFFICE
from gateway.store.modems import ModemRegistry
from gateway.store.offices import Offices, number_key

log = logging.getLogger(__name__)

CACHE_SECONDS = 1.0


class ModemOffices:
    def __init__(
        self,
        client: redis.Redis,
        modems: Sequence[ModemSettings],
        sms: SmsSettings,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self.registry = ModemRegistry(client)
        self.offices = Offices.of(client, sms)
        self._modems = tuple(modems)
        self._cache_seconds = cache_seconds
        self._pools: tuple[float, Pools] | None = None
        self._numbers: tuple[float, dict[str, str]] | None = None

    def pools(self) -> Pools:
        """Every modem known (configured or reported) and its office ("" : the shared pool)."""
        mono = time.monotonic()
        if self._pools is None or mono - self._pools[0] >= self._cache_seconds:
            offices = dict.fromkeys(self.registry.known(), "")
            offices |= {m.id: m.office for m in self.registry.effective(self._modems)}
            offices |= self.registry.offices()  # the driving services' word is the last
            self._pools = (mono, Pools(offices))
        return self._pools[1]

    def office_of(self, modem: str) -> str:
        """The office of a citizen's SMS that arrived on `modem`."""
        own = self.pools().modem_office.get(modem, "")
        number = self.registry.health(modem).get("number", "")
        office = inbound_office(
            own, number_key(number) if number else "", self._by_number(), DEFAULT_OFFICE
        )
        if not self.offices.exists(office):
            log.warning("modem.unknown_office modem=%s office=%s", modem, office)
            return DEFAULT_OFFICE
        return office

    def _by_number(self) -> dict[str, str]:
        """The offices' numbers (read again after `cache_seconds`: a province has many)."""
        mono = time.monotonic()
        if self._numbers is None or mono - self._numbers[0] >= self._cache_seconds:
            self._numbers = (mono, self.offices.by_number())
        return self._numbers[1]

    def unknown_offices(self) -> dict[str, str]:
        """Modems whose configured office no saved office has: modem id -> office id."""
        return {
            m.id: m.office for m in self._modems if m.office and not self.offices.exists(m.office)
        }
