"""`hoso check-config` as an operator runs it: every shipped example passes, broken files fail with
one line per problem naming the key and the file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "config" / "examples").glob("*.toml"))
SETTINGS_EXAMPLES = [p for p in EXAMPLES if not p.name.startswith("station")] + [
    ROOT / "config" / "hoso.example.toml"
]
STATION_EXAMPLES = [p for p in EXAMPLES if p.name.startswith("station")] + [
    ROOT / "config" / "station.example.toml"
]


def check_config(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HOSO_")}
    return subprocess.run(
        [sys.executable, "-m", "hoso.cli", "check-config", *args],
        env=clean | (env or {}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_there_are_examples_for_an_office_and_a_province() -> None:
    names = {p.name for p in EXAMPLES}
    assert {"office.toml", "province-central.toml", "province-modem-host.toml"} <= names


@pytest.mark.slow
@pytest.mark.parametrize("path", SETTINGS_EXAMPLES, ids=lambda p: p.name)
def test_every_shipped_example_passes(path: Path) -> None:
    done = check_config(str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{path}: OK" in done.stdout
    assert "modems" in done.stdout
    assert "redis" in done.stdout


@pytest.mark.parametrize("path", STATION_EXAMPLES, ids=lambda p: p.name)
def test_every_shipped_station_example_passes_once_its_key_is_in_place(
    path: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "station.secret"
    secret.write_text("s3cret\n", encoding="utf-8")
    env = {"HOSO_STATION_SECRET_FILE": str(secret), "HOSO_STATION_KEY_ID": "sta_test"}
    done = check_config("--station", str(path), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{path}: OK" in done.stdout


def test_the_file_named_by_hoso_config_is_the_default(tmp_path: Path) -> None:
    path = tmp_path / "hoso.toml"
    path.write_text('[gateway]\nbind = "0.0.0.0:8080"\n', encoding="utf-8")
    done = check_config(env={"HOSO_CONFIG": str(path)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0.0.0.0:8080 (reachable from the network)" in done.stdout


def test_a_broken_file_fails_with_one_line_per_problem(tmp_path: Path) -> None:
    path = tmp_path / "hoso.toml"
    path.write_text(
        """
[redis]
url = "redis://:hunter22@10.0.0.5:notaport"
[gateway]
bind = "8080"
color = "blue"
[sms]
quiet_start = "10 pm"
[[modems]]
id = "vt1"
port = "/dev/hoso/vt1"
[[modems]]
id = "vt1"
port = "/dev/hoso/vt1"
per_hour = 500
""",
        encoding="utf-8",
    )
    done = check_config(str(path))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert f"{path}: unknown key gateway.color" in lines
    assert lines[-1] == f"{path}: 1 error(s), 0 warning(s)"
    path.write_text(
        path.read_text(encoding="utf-8").replace('color = "blue"\n', ""), encoding="utf-8"
    )
    done = check_config(str(path))
    assert done.returncode == 1
    out = done.stdout
    assert f"{path}: redis.url port 'notaport' is not a port number" in out
    assert f"{path}: gateway.bind must be HOST:PORT, not '8080'" in out
    assert f"{path}: sms.quiet_start must be a time of day HH:MM, not '10 pm'" in out
    assert f"{path}: modems[1].id 'vt1' is also modems[0].id (ids are unique)" in out
    assert f"{path}: modems[1].port /dev/hoso/vt1 is also modems[0].port" in out
    assert f"{path}: warning: modems[1].per_hour 500 is above per_day 300" in out
    assert "hunter22" not in out


def test_a_file_that_is_not_there_fails(tmp_path: Path) -> None:
    done = check_config(str(tmp_path / "nope.toml"))
    assert done.returncode == 1
    assert "cannot read" in done.stdout


@pytest.mark.slow
def test_a_station_secret_file_that_is_missing_is_an_error_naming_the_key_and_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "station.toml"
    secret = tmp_path / "quay-1.secret"
    table = f'[station]\nid = "quay-1"\nkey_id = "sta_test"\nsecret_file = "{secret}"\n'
    path.write_text(table + 'secret = "s3cret"\n', encoding="utf-8")  # a secret beside it
    done = check_config("--station", str(path))
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"{path}: station.secret_file {secret}: cannot read: No such file or directory",
        f"{path}: 1 error(s), 0 warning(s)",
    ]
    secret.write_text("s3cret\n", encoding="utf-8")
    secret.chmod(0o600)
    done = check_config("--station", str(path))
    assert done.returncode == 1
    assert done.stdout.splitlines()[0] == (
        f"{path}: station.secret and station.secret_file are both set: keep the secret in"
        f" {secret} only"
    )
    path.write_text(table, encoding="utf-8")  # the secret in its own file only
    done = check_config("--station", str(path))
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines()[0] == f"{path}: OK"
    secret.write_text("", encoding="utf-8")
    done = check_config("--station", str(path))
    assert done.stdout.splitlines()[0] == f"{path}: station.secret_file {secret} is empty"


def test_a_station_secret_written_in_its_file_and_an_old_desk_key_are_warned_about(
    tmp_path: Path,
) -> None:
    path = tmp_path / "station.toml"
    path.write_text(
        '[station]\nid = "quay-1"\nkey_id = "sta_test"\nsecret = "s3cret"\ndesk = "Quay 1"\n',
        encoding="utf-8",
    )
    done = check_config("--station", str(path))
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines()[:3] == [
        f"{path}: warning: station.secret is written in this file: move the secret to a file of"
        " its own (mode 0600) named by station.secret_file",
        f"{path}: warning: station.desk is no longer used: the station shows the desk the"
        " gateway assigns (hoso stations set)",
        f"{path}: OK (2 warning(s))",
    ]
