"""A prepaid SIM's credit, as the owner of its modem reads it (USSD) and acts on it.

Most office SIMs are prepaid: when the credit runs out or the SIM reaches the end of its
validity, sends fail with network errors. The owner reads the balance every
`[pool] balance_every_minutes` (modem/ussd.py parses the carrier's answer), publishes it for the
pool page and the metrics, and warns below `low_balance_vnd` or `validity_warn_days`.

No +CMS ERROR code says "no credit". TS 24.011 (Annex E-2) has no such RP-cause: the carrier's
prepaid charging (CAMEL SMS-CSI towards the charging system, or operator determined barring set
on an exhausted prepaid account) refuses the short message with a cause the operator chooses:
8 "operator determined barring", 10 "call barred", 21 "short message transfer rejected", 29
"facility rejected" or 50 "requested facility not subscribed". The same causes also mean a SIM
barred for spam (quarantine) or a subscription without SMS. So a refusal with one of them makes
the owner read the balance at once: below `DRY_BELOW_VND` the refusal is "no credit" (the SMS
goes to another modem at once, the SIM stops sending and is re-checked every few minutes, the
alarm is raised), not a step towards quarantine.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from config.settings import PoolSettings
from gateway.core.modem_limits import Limit
from gateway.core.times import VIETNAM, to_micros
from gateway.store.modems import ModemRegistry
from modem.device import Device
from modem.ussd import Balance, balance

log = logging.getLogger(__name__)

NO_CREDIT_SUSPECTS = frozenset({8, 10, 21, 29, 50})  # RP-causes prepaid charging answers
DRY_BELOW_VND = 1000  # a balance that pays no long SMS: sends are refused for no credit
RECHECK_DRY_SECONDS = 300.0  # a dry SIM's balance is read again this often (a top-up)
SUSPECT_EVERY_SECONDS = 60.0  # refusals with nothing sent since read it again this often
OPERATORS = {
    "viettel": "viettel",
    "vina": "vinaphone",
    "mobi": "mobifone",
    "vnmobile": "vietnamobile",
}


def carrier_named(operator: str | None) -> str | None:
    """The carrier key (as in `[pool] ussd_<carrier>`) of a network name from AT+COPS?."""
    name = (operator or "").lower().replace(" ", "").replace("-", "")
    if "vietnamobile" in name:
        return "vietnamobile"
    return next((key for part, key in OPERATORS.items() if part in name), None)


class Credit:
    def __init__(
        self,
        modem: str,
        pool: PoolSettings,
        registry: ModemRegistry,
        clock: Callable[[], datetime],
    ) -> None:
        self.modem = modem
        self.pool = pool
        self.registry = registry
        self.clock = clock
        self.no_credit = False
        self.last: Balance | None = None
        self._read_at = float("-inf")  # monotonic
        self._spent = False  # a part went out since the last reading: the balance moved

    def due(self) -> bool:
        since = time.monotonic() - self._read_at
        if self.no_credit:
            return since >= RECHECK_DRY_SECONDS
        every = self.pool.balance_every_minutes * 60
        return every > 0 and since >= every

    def spent(self) -> None:
        """A part was accepted: the balance the last reading gave is no longer the balance."""
        self._spent = True

    def read(self, device: Device, carrier: str | None) -> Balance | None:
        """Asks the network for the balance (USSD) and publishes what it says; None when the
        carrier has no code, the modem cannot do USSD, or the answer names no balance."""
        self._read_at = time.monotonic()
        self._spent = False
        code = self.pool.balance_code(carrier)
        if not code or Limit.NO_USSD in device.limits:  # tried once on this connection
            return None
        text = device.ussd(code)
        if text is None:
            return None
        found = balance(text)
        if found is None:
            log.warning("modem.balance_unreadable modem=%s answer=%r", self.modem, text[:200])
            return None
        self.last = found
        if self.no_credit and found.vnd >= DRY_BELOW_VND:
            self.no_credit = False
            log.warning("modem.credit_back modem=%s balance=%d", self.modem, found.vnd)
        self._publish(found)
        log.info(
            "modem.balance modem=%s vnd=%d valid_until=%s", self.modem, found.vnd, found.valid_until
        )
        return found

    def explains(self, code: int | None, device: Device, carrier: str | None) -> bool:
        """Whether a send refused with `code` was refused for want of credit (then the SIM is
        marked dry): the balance, read now, cannot pay for SMS."""
        if code not in NO_CREDIT_SUSPECTS:
            return False
        if self._spent or time.monotonic() - self._read_at >= SUSPECT_EVERY_SECONDS:
            self.read(device, carrier)
        if self.last is None or self.last.vnd >= DRY_BELOW_VND:
            return False
        if not self.no_credit:
            log.warning(
                "modem.no_credit modem=%s code=%s balance=%d (sends stop until a top-up)",
                self.modem,
                code,
                self.last.vnd,
            )
        self.no_credit = True
        self._publish(self.last)
        return True

    def _publish(self, found: Balance) -> None:
        today = self.clock().astimezone(VIETNAM).date()
        days = (found.valid_until - today).days if found.valid_until else None
        self.registry.publish_balance(
            self.modem,
            {
                "vnd": found.vnd,
                "valid_until": found.valid_until.isoformat() if found.valid_until else None,
                "valid_days": days,
                "read_ms": to_micros(self.clock()) // 1000,
                "low": int(self.no_credit or found.vnd < self.pool.low_balance_vnd),
                "validity_low": int(days is not None and days <= self.pool.validity_warn_days),
                "text": found.text[:300],
            },
        )
