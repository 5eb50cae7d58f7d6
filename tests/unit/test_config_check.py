"""`config.check`: every problem of a configuration at once, one line each naming key and file."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.check import check_file, check_tables
from config.check_station import check_station
from config.check_values import bind_problem, cap_conflicts
from config.loader import ConfigError, load_settings
from config.problems import CheckReport, Severity
from config.redis_url import InvalidRedisUrl, mask_url, redis_url_problem
from config.settings import ModemSettings, RedisSettings
from gateway.store.connect import connect

SOURCE = "/etc/hoso/hoso.toml"


@dataclass
class FakeHost:
    """Files that exist, with their permission bits and whether this user may read them."""

    files: dict[str, tuple[int, bool]] = field(default_factory=dict)

    def exists(self, path: str) -> bool:
        return path in self.files

    def readable(self, path: str) -> bool:
        return self.files.get(path, (0, False))[1]

    def mode(self, path: str) -> int | None:
        entry = self.files.get(path)
        return None if entry is None else entry[0]


KEYS = {"/k/master.key": (0o600, True), "/k/session.key": (0o600, True)}
GOOD = """
[security]
master_key_file = "/k/master.key"
[admin]
session_key_file = "/k/session.key"
[[modems]]
id = "vt1"
port = "/dev/hoso/modem-vt1"
[[modems]]
id = "vn1"
port = "/dev/hoso/modem-vn1"
"""
PORTS = {"/dev/hoso/modem-vt1": (0o660, False), "/dev/hoso/modem-vn1": (0o660, False)}


def check(
    text: str, env: Mapping[str, str] | None = None, host: FakeHost | None = None
) -> CheckReport:
    raw: dict[str, Any] = tomllib.loads(text)
    return check_tables(raw, SOURCE, env or {}, host or FakeHost(KEYS | PORTS))


def keys_of(report: CheckReport, severity: Severity) -> list[str]:
    return [p.key for p in report.problems if p.severity is severity]


def test_a_sound_file_passes_with_a_summary_of_modems_redis_and_gateway() -> None:
    report = check(GOOD + '[redis]\nurl = "redis://:s3cret@10.0.0.5:6379/0"\n')
    assert report.ok
    assert report.problems == ()
    text = "\n".join(report.summary)
    assert "2 configured (2 enabled: vt1, vn1)" in text
    assert "redis://:***@10.0.0.5:6379/0" in text
    assert "s3cret" not in text
    assert "127.0.0.1:8080 (this host only)" in text


def test_every_bad_value_is_reported_not_only_the_first() -> None:
    report = check(
        GOOD
        + """
[gateway]
threads = "two"
bindd = "0.0.0.0:80"
[sms]
per_sender_per_hour = -1
[colours]
x = 1
"""
    )
    assert not report.ok
    assert keys_of(report, Severity.ERROR) == [
        "colours",
        "gateway.bindd",
        "gateway.threads",
        "sms.per_sender_per_hour",
    ]
    lines = [p.line() for p in report.problems]
    assert f"{SOURCE}: unknown section [colours]" in lines
    assert f"{SOURCE}: unknown key gateway.bindd" in lines
    assert f"{SOURCE}: gateway.threads must be int, not 'two'" in lines


def test_a_bad_environment_override_is_blamed_on_its_variable() -> None:
    report = check(GOOD, env={"HOSO_GATEWAY_WORKERS": "many", "HOSO_GATEWAY_BIND": "localhost"})
    assert [p.line() for p in report.problems] == [
        "environment HOSO_GATEWAY_WORKERS: gateway.workers must be a whole number, not 'many'"
    ]
    report = check(GOOD, env={"HOSO_GATEWAY_BIND": "localhost"})
    assert [p.line() for p in report.problems] == [
        "environment HOSO_GATEWAY_BIND: gateway.bind must be HOST:PORT, not 'localhost'"
    ]


def test_two_modems_with_one_id_or_one_port_are_errors() -> None:
    report = check(
        GOOD
        + """
[[modems]]
id = "vt1"
port = "/dev/hoso/modem-x"
[[modems]]
id = "vt2"
port = "/dev/hoso//modem-vn1"
"""
    )
    assert keys_of(report, Severity.ERROR) == ["modems[2].id", "modems[3].port"]
    lines = "\n".join(p.line() for p in report.problems)
    assert "modems[2].id 'vt1' is also modems[0].id" in lines
    assert "modems[3].port /dev/hoso//modem-vn1 is also modems[1].port" in lines


def test_a_modem_port_missing_on_this_host_is_only_a_warning() -> None:
    report = check(GOOD, host=FakeHost(KEYS))
    assert report.ok
    assert keys_of(report, Severity.WARNING) == ["modems[0].port", "modems[1].port"]
    assert "fine on another modem host" in report.problems[0].line()


def test_a_modem_may_not_be_called_shared_nor_have_a_pin_of_letters() -> None:
    report = check(GOOD + '[[modems]]\nid = "shared"\nport = "/dev/x"\npin = "12ab"\n')
    assert keys_of(report, Severity.ERROR) == ["modems[2].id", "modems[2].pin"]


def test_caps_that_contradict_each_other_are_warned_with_both_values() -> None:
    report = check(GOOD.replace('id = "vn1"', 'id = "vn1"\nper_hour = 500\nper_day = 300'))
    assert report.ok
    assert [p.line() for p in report.problems] == [
        f"{SOURCE}: warning: modems[1].per_hour 500 is above per_day 300"
    ]


@given(st.integers(0, 10_000), st.integers(0, 10_000), st.integers(0, 10_000))
def test_caps_conflict_exactly_when_they_are_not_in_order(minute: int, hour: int, day: int) -> None:
    m = ModemSettings(id="m", port="/p", per_minute=minute, per_hour=hour, per_day=day)
    assert (cap_conflicts(m) == []) == (minute <= hour <= day)


@pytest.mark.parametrize("value", ["7:00", "07:00", "23:59", "0:0"])
def test_quiet_hours_accept_times_of_day(value: str) -> None:
    assert check(GOOD + f'[sms]\nquiet_end = "{value}"\n').ok


@pytest.mark.parametrize("value", ["7h", "25:00", "07:60", "", "07:00:00"])
def test_quiet_hours_refuse_what_is_not_a_time_of_day(value: str) -> None:
    report = check(GOOD + f'[sms]\nquiet_start = "{value}"\n')
    assert keys_of(report, Severity.ERROR) == ["sms.quiet_start"]
    assert "HH:MM" in report.problems[0].line()


def test_a_bad_calendar_date_is_named_with_its_key() -> None:
    report = check(GOOD + '[calendar]\nholidays = ["2026-02-30"]\nworking_days = ["x"]\n')
    assert [p.line() for p in report.problems] == [
        f"{SOURCE}: calendar.holidays entry '2026-02-30' is not a date YYYY-MM-DD"
    ]
    report = check(GOOD + '[calendar]\nworking_days = ["x"]\n')
    assert [p.line() for p in report.problems] == [
        f"{SOURCE}: calendar.working_days entry 'x' is not a date YYYY-MM-DD"
    ]


def test_notify_statuses_must_be_statuses_with_a_notice() -> None:
    report = check(GOOD + '[sms]\nnotify_statuses = "2,11"\n')
    assert keys_of(report, Severity.ERROR) == ["sms.notify_statuses"]


def test_an_unreadable_key_file_is_an_error_and_one_others_can_read_a_warning() -> None:
    host = FakeHost(PORTS | {"/k/master.key": (0o600, False), "/k/session.key": (0o644, True)})
    report = check(GOOD, host=host)
    assert keys_of(report, Severity.ERROR) == ["security.master_key_file"]
    assert keys_of(report, Severity.WARNING) == ["admin.session_key_file"]
    assert "not readable by this user" in report.problems[0].line()
    assert "mode 0644" in report.problems[1].line()


def test_a_redis_server_binary_given_by_path_must_exist() -> None:
    missing = check(GOOD.replace("[security]", '[redis]\nserver = "/usr/bin/redis-7"\n[security]'))
    assert keys_of(missing, Severity.ERROR) == ["redis.server"]
    assert f"{SOURCE}: redis.server /usr/bin/redis-7: no such file" in [
        p.line() for p in missing.problems
    ]
    host = FakeHost(KEYS | PORTS | {"/usr/bin/redis-7": (0o755, True)})
    found = check(
        GOOD.replace("[security]", '[redis]\nserver = "/usr/bin/redis-7"\n[security]'), host=host
    )
    assert keys_of(found, Severity.ERROR) == []


def test_a_key_file_not_created_yet_is_a_warning() -> None:
    report = check(GOOD, host=FakeHost(PORTS))
    assert report.ok
    assert keys_of(report, Severity.WARNING) == [
        "security.master_key_file",
        "admin.session_key_file",
    ]


@pytest.mark.parametrize(
    "url",
    [
        "redis://localhost",
        "redis://10.0.0.5:6379/0",
        "rediss://:pw@redis.tinh.local:6380/2",
        "unix:///var/lib/hoso/redis/redis.sock",
        "unix:///run/redis.sock?db=1",
        "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/hoso",
        "redis+sentinel://:pw@10.0.0.1,10.0.0.2:26379,[fd00::3]:26379/hoso/0",
        "redis+sentinel://10.0.0.1:26379/hoso?sentinel_password=x&socket_timeout=2",
    ],
)
def test_redis_urls_of_the_known_forms_pass(url: str) -> None:
    assert redis_url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://10.0.0.5:6379", "must start with one of redis://"),
        ("10.0.0.5:6379", "must start with one of"),
        ("redis://:6379", "host is missing"),
        ("redis://10.0.0.5:99999", "not a port number"),
        ("redis://10.0.0.5/zero", "database must be a number"),
        ("unix://", "names no socket"),
        ("redis+sentinel://10.0.0.1:26379,10.0.0.2:26379", "must name the master"),
        ("redis+sentinel://10.0.0.1:26379,:1/hoso", "Sentinel host is missing"),
        ("redis+sentinel://10.0.0.1:26379/hoso/x", "database must be a number"),
    ],
)
def test_redis_urls_of_other_forms_are_refused_with_a_reason(url: str, why: str) -> None:
    problem = redis_url_problem(url)
    assert problem is not None
    assert why in problem


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("redis+sentinel://10.0.0.1/hoso?sentinel_pasword=x", "unknown option 'sentinel_pasword'"),
        (
            "redis+sentinel://10.0.0.1/hoso?socket_timeout=soon",
            "socket_timeout must be a number of seconds",
        ),
    ],
)
def test_a_sentinel_url_the_processes_would_refuse_is_refused_with_their_reason(
    url: str, why: str
) -> None:
    assert redis_url_problem(url) == why
    with pytest.raises(InvalidRedisUrl, match=why):
        connect(RedisSettings(url=url))


def test_a_bad_redis_url_names_the_key_without_repeating_the_password() -> None:
    report = check(GOOD + '[redis]\nurl = "http://:topsecret@10.0.0.5"\n')
    assert keys_of(report, Severity.ERROR) == ["redis.url"]
    assert "topsecret" not in report.problems[0].line()


PASSWORDS = st.text(
    st.characters(blacklist_characters="@/?#:,", blacklist_categories=["Cs"]), min_size=4
)


@given(PASSWORDS, st.sampled_from(["redis", "rediss", "redis+sentinel", "unix"]))
def test_a_masked_url_never_shows_its_password(password: str, scheme: str) -> None:
    url = f"{scheme}://user:{password}@h1:26379,h2:26379/hoso/0"
    masked = mask_url(url)
    assert password not in masked.replace("user:***@h1:26379,h2:26379/hoso/0", "")
    assert masked.startswith(f"{scheme}://user:***@h1")


def test_a_sentinel_password_in_the_query_is_masked_too() -> None:
    masked = mask_url("redis+sentinel://h:26379/hoso?sentinel_password=abc&socket_timeout=2")
    assert masked == "redis+sentinel://h:26379/hoso?sentinel_password=***&socket_timeout=2"


@pytest.mark.parametrize("bind", ["127.0.0.1:8080", "0.0.0.0:80", "[::1]:8080", "unix:/run/g.s"])
def test_gateway_binds_gunicorn_understands_pass(bind: str) -> None:
    assert bind_problem(bind) is None


@pytest.mark.parametrize("bind", ["8080", "127.0.0.1", ":8080", "h:0", "h:http", "unix:rel"])
def test_gateway_binds_gunicorn_cannot_use_are_refused(bind: str) -> None:
    assert bind_problem(bind) is not None


def test_the_embedded_redis_waiting_for_replicas_is_warned() -> None:
    report = check(GOOD + "[redis]\nwait_replicas = 1\n")
    assert report.ok
    assert keys_of(report, Severity.WARNING) == ["redis.wait_replicas"]


def test_a_file_that_is_not_toml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "hoso.toml"
    path.write_text("[gateway\nbind = 1\n", encoding="utf-8")
    report = check_file(path, {}, FakeHost())
    assert not report.ok
    assert report.problems[0].line().startswith(f"{path}: not valid TOML")


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    report = check_file(tmp_path / "nope.toml", {}, FakeHost())
    assert [p.line() for p in report.problems] == [
        f"{tmp_path / 'nope.toml'}: cannot read: No such file or directory"
    ]


@dataclass(frozen=True)
class FakeStation:
    id: str = "quay-1"
    gateway_url: str = "http://10.0.0.5:8080"
    source: str = "serial:/dev/hoso/scanner-quay-1"
    spool_path: str = "/var/lib/hoso/scanner/quay-1/spool.sqlite3"
    secret_file: str = ""

    def source_kind(self) -> str:
        return self.source.split(":", 1)[0]

    def source_target(self) -> str:
        return self.source.split(":", 1)[1]


def test_a_station_file_is_read_by_its_own_loader_and_its_device_looked_for() -> None:
    seen: list[str] = []

    def load(env: Mapping[str, str]) -> FakeStation:
        seen.append(env["HOSO_STATION_CONFIG"])
        return FakeStation()

    report = check_station(Path("/etc/hoso/station-quay-1.toml"), {}, load, FakeHost())
    assert seen == ["/etc/hoso/station-quay-1.toml"]
    assert report.ok
    assert keys_of(report, Severity.WARNING) == ["station.source", "station.gateway_url"]
    assert "quay-1: serial:/dev/hoso/scanner-quay-1 -> http://10.0.0.5:8080" in report.summary[0]


def test_a_station_file_the_loader_refuses_is_one_error() -> None:
    def load(env: Mapping[str, str]) -> FakeStation:
        raise ConfigError(f"{env['HOSO_STATION_CONFIG']}: station.key_id is required")

    report = check_station(Path("/etc/hoso/s.toml"), {}, load, FakeHost())
    assert [p.line() for p in report.problems] == ["/etc/hoso/s.toml: station.key_id is required"]


def test_a_bad_calendar_in_a_file_is_reported_once(tmp_path: Path) -> None:
    path = tmp_path / "hoso.toml"
    path.write_text('[calendar]\nholidays = ["2026-02-30"]\n', encoding="utf-8")
    report = check_file(path, {}, FakeHost())
    assert [p.line() for p in report.errors()] == [
        f"{path}: calendar.holidays entry '2026-02-30' is not a date YYYY-MM-DD"
    ]


def test_trusted_proxies_must_be_addresses_or_networks_and_not_everyone() -> None:
    report = check(GOOD + '[gateway]\nproxies = 1\ntrusted_proxies = ["10.0.0.0/8", "nginx"]\n')
    assert keys_of(report, Severity.ERROR) == ["gateway.trusted_proxies"]
    assert "'nginx' is not an address or network" in report.errors()[0].line()
    anyone = check(GOOD + '[gateway]\nproxies = 1\ntrusted_proxies = ["0.0.0.0/0"]\n')
    assert anyone.ok
    assert keys_of(anyone, Severity.WARNING) == ["gateway.trusted_proxies"]
    assert "trusts every peer" in anyone.warnings()[0].line()
    none = check(GOOD + "[gateway]\nproxies = 1\ntrusted_proxies = []\n")
    assert keys_of(none, Severity.WARNING) == ["gateway.trusted_proxies"]


def test_trusted_proxies_come_from_a_toml_list_or_a_comma_separated_variable() -> None:
    env = {"HOSO_GATEWAY_TRUSTED_PROXIES": "127.0.0.1/32, 10.0.1.0/24"}
    report = check(GOOD, env)
    assert report.ok, report.problems
    wrong = check(GOOD + '[gateway]\ntrusted_proxies = "10.0.0.0/8"\n')
    assert keys_of(wrong, Severity.ERROR) == ["gateway.trusted_proxies"]
    assert "must be a list of strings" in wrong.errors()[0].line()
    blamed = check(GOOD, {"HOSO_GATEWAY_TRUSTED_PROXIES": "10.0.0.0/8,bad"})
    assert blamed.errors()[0].where == "environment HOSO_GATEWAY_TRUSTED_PROXIES"


def test_a_station_secret_file_others_can_read_is_warned_about() -> None:
    def load(env: Mapping[str, str]) -> FakeStation:
        return FakeStation(gateway_url="http://127.0.0.1:8080", secret_file="/etc/hoso/s.secret")

    host = FakeHost(
        {"/dev/hoso/scanner-quay-1": (0o660, True), "/etc/hoso/s.secret": (0o644, True)}
    )
    report = check_station(Path("/etc/hoso/s.toml"), {}, load, host)
    assert [p.line() for p in report.problems] == [
        "/etc/hoso/s.toml: warning: station.secret_file /etc/hoso/s.secret has mode 0644: others"
        " can read it (0600)"
    ]


def test_the_removed_stranger_reply_key_is_ignored_with_a_warning(tmp_path: Path) -> None:
    text = GOOD + '[sms]\nstranger_reply = "status"\n'
    report = check(text)
    assert report.ok  # an upgraded file still loads: strangers get the unknown-code reply
    assert [p.line() for p in report.warnings()] == [
        f"{SOURCE}: warning: sms.stranger_reply is no longer read (0.3.0): a phone that is not "
        "the dossier's and gives no secret always gets the reply for an unknown code; delete "
        "the line"
    ]
    path = tmp_path / "hoso.toml"
    path.write_text(text, encoding="utf-8")
    settings = load_settings({"HOSO_CONFIG": str(path)})
    assert not hasattr(settings.sms, "stranger_reply")


def test_pool_ussd_codes_must_be_codes_a_modem_can_dial() -> None:
    report = check(
        GOOD + '[pool]\nussd_viettel = "*101#"\nussd_mobifone = "101"\nussd_other = ""\n'
    )
    assert keys_of(report, Severity.ERROR) == ["pool.ussd_mobifone"]
    assert 'must be a USSD code such as "*101#"' in report.problems[0].line()


def test_a_modem_office_that_is_no_office_id_is_an_error_naming_it() -> None:
    report = check(GOOD + '[[modems]]\nid = "a1"\nport = "/dev/x"\noffice = "Bến Nghé"\n')
    assert keys_of(report, Severity.ERROR) == ["modems[2].office"]
    fine = check(GOOD + '[[modems]]\nid = "a1"\nport = "/dev/x"\noffice = "ben-nghe"\n')
    assert fine.ok


def test_a_modem_id_may_not_start_like_an_office_s_queue() -> None:
    report = check(GOOD + '[[modems]]\nid = "@ben-nghe"\nport = "/dev/x"\n')
    assert keys_of(report, Severity.ERROR) == ["modems[2].id"]
