"""The modem pool in Redis: live settings, ownership leases, health, send caps, quarantine.

Several modem services on several hosts share one Redis; a modem id is global, and a lease
makes sure only one service drives a modem at a time.

Operators' changes (disable, re-enable, caps, carrier, a modem added live, back to the file,
out of quarantine) go through one validated operation, `ModemRegistry.apply_change` (and
`reset`, `release_quarantine`), which the CLI (`hoso modems`), the dashboard and the admin JSON
API all call: the same checks everywhere (the rules: `gateway.core.modem_changes`), and a change
is merged into the stored live settings atomically (WATCH/MULTI), so two changes at once never
lose one another.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, cast

import redis

from config.settings import ModemSettings
from gateway.core.modem_changes import DASHBOARD_FIELDS, check_changes
from gateway.core.times import VIETNAM
from gateway.store import keys
from gateway.store.drivers import HEALTH_TTL_SECONDS, Leases, publish_health
from gateway.store.errors import StoreError

QUARANTINE_WINDOW_MS = 10 * 60 * 1000
QUARANTINE_AFTER = 3  # errors of the quarantine kind within the window


class ModemNotInPool(StoreError):
    """No modem of that id in the file, in the live settings or reported by a service."""

    def __init__(self, modem: str) -> None:
        super().__init__(f"no modem {modem} in the pool")
        self.modem = modem


def windows(now: datetime) -> dict[str, tuple[str, int]]:
    """Counter window names (in Vietnam's day) and their TTLs."""
    local = now.astimezone(VIETNAM)
    return {
        "minute": (local.strftime("m%Y%m%d%H%M"), 120),
        "hour": (local.strftime("h%Y%m%d%H"), 2 * 86400),  # a day of hourly history for charts
        "day": (local.strftime("d%Y%m%d"), 2 * 86400),
    }


class ModemRegistry:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client
        self._leases = Leases(client, keys.modem_owner)

    @property
    def client(self) -> redis.Redis:
        return self._redis

    # -- settings: the file's, with administrators' live changes over them ------------------

    def live_changes(self) -> dict[str, dict[str, Any]]:
        raw = cast(dict[str, str], self._redis.hgetall(keys.modem_config()))
        return {modem: json.loads(value) for modem, value in raw.items()}

    def change(self, modem: str, **fields: Any) -> None:
        """Merges `fields` into the modem's live settings, atomically (no check: see
        `apply_change`, the operators' operation)."""
        self._merge(modem, fields, None)

    def _merge(self, modem: str, fields: dict[str, Any], file: ModemSettings | None) -> None:
        """A field set back to the value of `file` (the modem's settings in the config file) is
        no longer a live change: undone, the modem is no longer shown as changed."""

        def merge(pipe: redis.client.Pipeline) -> None:
            raw = cast(str | None, pipe.hget(keys.modem_config(), modem))
            current = json.loads(raw) if raw else {}
            current.update(fields)
            if file is not None:
                current = {k: v for k, v in current.items() if getattr(file, k, v) != v}
            pipe.multi()
            if current:
                pipe.hset(keys.modem_config(), modem, json.dumps(current))
            else:
                pipe.hdel(keys.modem_config(), modem)

        self._redis.transaction(merge, keys.modem_config())

    def apply_change(
        self,
        modem: str,
        fields: object,
        from_file: Iterable[ModemSettings],
        allowed: frozenset[str] = DASHBOARD_FIELDS,
    ) -> dict[str, Any]:
        """An operator's change, checked, applied live by the modem services: raises
        InvalidModemChange, or ModemNotInPool for a modem nobody configured, changed or drove
        (unless the change gives its port: a modem added live). Returns the checked changes."""
        changes = check_changes(fields, allowed)
        from_file = list(from_file)
        if "port" not in changes and not self.is_known(modem, from_file):
            raise ModemNotInPool(modem)
        file = next((m for m in from_file if m.id == modem), None)
        self._merge(modem, changes, file)
        return changes

    def is_known(self, modem: str, from_file: Iterable[ModemSettings]) -> bool:
        return any(m.id == modem for m in from_file) or modem in self.known()

    def effective(self, from_file: Iterable[ModemSettings]) -> list[ModemSettings]:
        """The pool now: the file's modems with live changes applied, plus modems added live."""
        live = self.live_changes()
        known = {f.name for f in dataclasses.fields(ModemSettings)}
        pool: dict[str, ModemSettings] = {m.id: m for m in from_file}
        for modem, change in live.items():
            fields = {k: v for k, v in change.items() if k in known and k != "id"}
            if modem in pool:
                pool[modem] = dataclasses.replace(pool[modem], **fields)
            elif "port" in fields:
                pool[modem] = ModemSettings(id=modem, **fields)
        return list(pool.values())

    # -- ownership ----------------------------------------------------------------------------

    def hold(self, modem: str, instance: str, lease_ms: int) -> bool:
        """Takes or renews the lease on a modem; False while another instance holds it."""
        return self._leases.hold(modem, instance, lease_ms)

    def owner(self, modem: str) -> str | None:
        return self._leases.owner(modem)

    def let_go(self, modem: str, instance: str) -> None:
        self._leases.let_go(modem, instance)

    # -- health ---------------------------------------------------------------------------

    def service_round(self, instance: str, modems: Iterable[str], at: float) -> int:
        """A modem service finished a round of its loop at `at` (unix time): its heartbeat (gone
        HEALTH_TTL_SECONDS after its last round) says how many rounds it made and which modems
        it drives."""
        name = keys.modem_service(instance)
        pipe = self._redis.pipeline(transaction=True)
        pipe.hincrby(name, "rounds", 1)
        pipe.hset(name, mapping={"at": f"{at:.3f}", "modems": ",".join(sorted(modems))})
        pipe.expire(name, HEALTH_TTL_SECONDS)
        return int(pipe.execute()[0])

    def service(self, instance: str) -> dict[str, str]:
        return cast(dict[str, str], self._redis.hgetall(keys.modem_service(instance)))

    def publish_health(self, modem: str, fields: dict[str, Any]) -> None:
        publish_health(self._redis, keys.modem_health(modem), keys.modem_ids(), modem, fields)

    def publish_balance(self, modem: str, fields: dict[str, Any]) -> None:
        """The SIM's last balance reading (USSD); kept without expiry: the pool page shows the
        last known balance of a modem that is down."""
        flat = {k: "" if v is None else str(v) for k, v in fields.items()}
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(keys.modem_balance(modem))
        pipe.hset(keys.modem_balance(modem), mapping=flat)  # type: ignore[arg-type]
        pipe.execute()

    def balance(self, modem: str) -> dict[str, str]:
        return cast(dict[str, str], self._redis.hgetall(keys.modem_balance(modem)))

    def reset(self, modem: str) -> bool:
        """Drops administrators' live changes: the modem is as the config file says again.
        False if there were none."""
        return bool(self._redis.hdel(keys.modem_config(), modem))

    def forget(self, modem: str) -> bool:
        """A modem taken out of service for good: no longer listed on dashboards and metrics
        (its counters go too). Refused (False) while a service drives it."""
        if self.owner(modem):
            return False
        self._redis.delete(
            keys.modem_health(modem),
            keys.modem_balance(modem),
            keys.metrics_modem(modem),
            keys.metrics_cmgs(modem),
            keys.modem_quarantine(modem),
            keys.modem_error_burst(modem),
            keys.modem_pin_refused(modem),
        )
        self._redis.hdel(keys.modem_config(), modem)
        self._redis.hdel(keys.modem_offices(), modem)
        self._redis.srem(keys.modem_ids(), modem)
        self._redis.srem(keys.metrics_modems(), modem)
        return True

    def known(self) -> list[str]:
        """Every modem any service has driven, or that administrators configured."""
        ids = {str(m) for m in self._redis.smembers(keys.modem_ids())}
        return sorted(ids | set(self.live_changes()))

    def health(self, modem: str) -> dict[str, str]:
        return cast(dict[str, str], self._redis.hgetall(keys.modem_health(modem)))

    def note_offices(self, offices: Mapping[str, str]) -> None:
        """What a modem service's file says of its modems' offices ("" : the shared pool)."""
        if offices:
            fields: dict[Any, Any] = dict(offices)
            self._redis.hset(keys.modem_offices(), mapping=fields)

    def offices(self) -> dict[str, str]:
        """Every modem's office as the services that drive them last noted it."""
        return cast(dict[str, str], self._redis.hgetall(keys.modem_offices()))

    # -- caps -----------------------------------------------------------------------------

    def count_sent(self, modem: str, now: datetime) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for name, ttl in windows(now).values():
            pipe.incr(keys.modem_sent(modem, name))
            pipe.expire(keys.modem_sent(modem, name), ttl)
        pipe.execute()

    def sent_today(self, modem: str, now: datetime) -> int:
        return int(self._redis.get(keys.modem_sent(modem, windows(now)["day"][0])) or 0)

    def sent_per_hour(self, modem: str, hours: list[datetime]) -> list[int]:
        """Parts sent in each hour of `hours` (the hourly counters are kept two days)."""
        names = [keys.modem_sent(modem, windows(h)["hour"][0]) for h in hours]
        return [int(c or 0) for c in cast(list[str | None], self._redis.mget(names))]

    # -- quarantine -----------------------------------------------------------------------

    def note_quarantine_error(self, modem: str, code: int | None, now_ms: int) -> bool:
        """Counts an error of the quarantine kind; True when the SIM is now quarantined."""
        burst = keys.modem_error_burst(modem)
        pipe = self._redis.pipeline(transaction=True)
        pipe.zadd(burst, {f"{now_ms}:{code}": now_ms})
        pipe.zremrangebyscore(burst, "-inf", now_ms - QUARANTINE_WINDOW_MS)
        pipe.zcard(burst)
        pipe.expire(burst, QUARANTINE_WINDOW_MS // 1000)
        _, _, count, _ = pipe.execute()
        if int(count) >= QUARANTINE_AFTER:
            reason = f"{count} errors like +CMS ERROR: {code} within 10 minutes"
            self._redis.set(keys.modem_quarantine(modem), reason)
            return True
        return False

    # -- SIM PIN: a refused PIN is never tried again (three wrong tries lock the SIM) --------

    def refuse_pin(self, modem: str, pin: str) -> None:
        self._redis.set(keys.modem_pin_refused(modem), _pin_digest(modem, pin))

    def pin_refused(self, modem: str, pin: str) -> bool:
        """Whether this very PIN was refused by this modem's SIM before (by any service)."""
        return self._redis.get(keys.modem_pin_refused(modem)) == _pin_digest(modem, pin)

    def pin_accepted(self, modem: str) -> None:
        self._redis.delete(keys.modem_pin_refused(modem))

    def quarantined(self, modem: str) -> str | None:
        reason = self._redis.get(keys.modem_quarantine(modem))
        return None if reason is None else str(reason)

    def release_quarantine(self, modem: str) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(keys.modem_quarantine(modem))
        pipe.delete(keys.modem_error_burst(modem))
        pipe.execute()


def _pin_digest(modem: str, pin: str) -> str:
    """Not the PIN itself: Redis backups need not hold SIM PINs."""
    return hashlib.sha256(f"hoso-pin:{modem}:{pin}".encode()).hexdigest()
