"""Settings from TOML and environment: defaults, overrides, and one clear line for a bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.loader import ConfigError, load_settings


def write(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "hoso.toml"
    path.write_text(text, encoding="utf-8")
    return {"HOSO_CONFIG": str(path)}


def test_without_a_file_the_built_in_defaults_apply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings({})
    assert s.source == "built-in defaults"
    assert s.gateway.bind == "127.0.0.1:8080"
    assert s.redis.effective_url() == f"unix://{tmp_path}/var/redis/redis.sock"
    assert s.modems == ()


def test_the_file_and_then_the_environment_set_values(tmp_path: Path) -> None:
    env = write(
        tmp_path,
        """
[gateway]
bind = "0.0.0.0:9000"
rate_per_minute = 100

[[modems]]
id = "m1"
port = "/dev/serial/by-id/usb-HUAWEI_E3372-if00"
pin = "1234"
per_day = 150

[[modems]]
id = "m2"
port = "/dev/ttyUSB4"
enabled = false
office = "ben-nghe"
""",
    )
    s = load_settings(
        env | {"HOSO_GATEWAY_RATE_PER_MINUTE": "50", "HOSO_REDIS_URL": "redis://10.0.0.5:6379/0"}
    )
    assert s.gateway.bind == "0.0.0.0:9000"
    assert s.gateway.rate_per_minute == 50
    assert s.redis.effective_url() == "redis://10.0.0.5:6379/0"
    assert [m.id for m in s.modems] == ["m1", "m2"]
    assert s.modems[0].pin == "1234"
    assert s.modems[0].per_day == 150
    assert s.modems[0].baudrate == 115200
    assert s.modems[0].office == ""  # no office: the province's shared pool
    assert s.modems[1].office == "ben-nghe"
    assert s.modems[1].enabled is False


@pytest.mark.parametrize(
    ("text", "env", "names"),
    [
        ("[gateway]\nbind = 8080\n", {}, ["gateway.bind", "hoso.toml"]),
        ("[gateway]\nworkers = -1\n", {}, ["gateway.workers"]),
        ("[gatewya]\n", {}, ["gatewya"]),
        ("[gateway]\nbnid = 'x'\n", {}, ["gateway.bnid"]),
        ("[[modems]]\nport = '/dev/ttyUSB0'\n", {}, ["modems[0].id"]),
        (
            "[[modems]]\nid = 'm1'\nport = '/dev/a'\n[[modems]]\nid = 'm1'\nport = '/dev/b'\n",
            {},
            ["modems[1].id", "twice"],
        ),
        ("[[modems]]\nid = 'm1'\nport = '/dev/a'\nbaud = 9600\n", {}, ["modems[0].baud"]),
        ("[[modems]]\nid = 'm1'\nport = '/dev/a'\nper_day = '300'\n", {}, ["modems[0].per_day"]),
        ("[[modems]]\nid = 'm1'\nport = '/dev/a'\noffice = 'Ben Nghe'\n", {}, ["modems[0].office"]),
        ("[[modems]]\nid = 'm1'\nport = '/dev/a'\noffice = 3\n", {}, ["modems[0].office"]),
        ("not toml = = =\n", {}, ["not valid TOML"]),
        ("", {"HOSO_GATEWAY_WORKERS": "many"}, ["HOSO_GATEWAY_WORKERS", "gateway.workers"]),
    ],
)
def test_a_bad_value_stops_with_one_line_naming_it(
    tmp_path: Path, text: str, env: dict[str, str], names: list[str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text) | env)
    message = str(caught.value)
    assert "\n" not in message
    for name in names:
        assert name in message


def test_a_missing_named_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings({"HOSO_CONFIG": str(tmp_path / "nope.toml")})


def test_the_shipped_example_configuration_loads(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "config" / "hoso.example.toml"
    s = load_settings({"HOSO_CONFIG": str(example)})
    assert s.modems


def test_the_calendar_defaults_to_vietnams_days_off_and_a_list_replaces_them(
    tmp_path: Path,
) -> None:
    default = load_settings(write(tmp_path, "")).calendar
    assert "2026-02-17" in default.holidays  # mùng 1 Tết Bính Ngọ
    assert "2026-01-10" in default.working_days
    env = write(tmp_path, '[calendar]\nholidays = ["2028-01-03"]\nworking_days = []\n')
    s = load_settings(env)
    assert (s.calendar.holidays, s.calendar.working_days) == (("2028-01-03",), ())
    s = load_settings({**env, "HOSO_CALENDAR_HOLIDAYS": "2028-01-03, 2028-01-04"})
    assert s.calendar.holidays == ("2028-01-03", "2028-01-04")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('holidays = "2028-01-03"', "calendar.holidays must be a list of strings"),
        ("holidays = [20280103]", "calendar.holidays must be a list of strings"),
        ('holidays = ["2028-1-3"]', "calendar.holidays entry '2028-1-3' is not a date"),
    ],
)
def test_a_bad_calendar_stops_startup_naming_the_key_and_the_file(
    tmp_path: Path, text: str, message: str
) -> None:
    env = write(tmp_path, f"[calendar]\n{text}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert str(caught.value).startswith(f"{tmp_path / 'hoso.toml'}: {message}")
