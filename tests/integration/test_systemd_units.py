"""The systemd units, sysusers/tmpfiles files, udev rules and install script in systemd/.

`systemd-analyze verify` also checks that each ExecStart= program exists, and the units run
/opt/hoso/bin/hoso, which a test machine does not have: the units are verified as copies whose
ExecStart= names this checkout's `hoso` (the same entry point, installed in .venv/bin), with the
template units instantiated (hoso-worker@1, hoso-modem@vt1, hoso-scanner@quay-1). A deliberately
broken copy shows that the harness does see what verify complains about.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SYSTEMD = ROOT / "systemd"
INSTALLED_HOSO = "/opt/hoso/bin/hoso"
SERVICES = {
    "hoso-redis.service": "hoso-redis.service",
    "hoso-gateway.service": "hoso-gateway.service",
    "hoso-worker@.service": "hoso-worker@1.service",
    "hoso-cron.service": "hoso-cron.service",
    "hoso-modem@.service": "hoso-modem@vt1.service",
    "hoso-scanner@.service": "hoso-scanner@quay-1.service",
    "hoso-smpp@.service": "hoso-smpp@brand.service",
}
MAX_EXPOSURE = 2.0  # systemd-analyze security: below 3.0 is "OK"; these units score 1.4-1.7
DEVICE_UNITS = ("hoso-modem@.service", "hoso-scanner@.service")

needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here"
)


def local_hoso() -> Path:
    path = Path(sys.executable).parent / "hoso"
    if not path.exists():
        pytest.skip(f"no hoso entry point next to {sys.executable}")
    return path


def settings_of(unit: str) -> list[tuple[str, str]]:
    """(key, value) of every assignment of a unit file, in order."""
    pairs = []
    for line in (SYSTEMD / unit).read_text(encoding="utf-8").splitlines():
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            pairs.append((key.strip(), value.strip()))
    return pairs


def values(unit: str, key: str) -> list[str]:
    return [v for k, v in settings_of(unit) if k == key]


@pytest.fixture
def unit_copies(tmp_path: Path) -> Path:
    hoso = str(local_hoso())
    for template, instance in [*SERVICES.items(), ("hoso.target", "hoso.target")]:
        text = (SYSTEMD / template).read_text(encoding="utf-8")
        (tmp_path / instance).write_text(text.replace(INSTALLED_HOSO, hoso), encoding="utf-8")
    return tmp_path


def verify(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@needs_analyze
def test_every_unit_passes_systemd_analyze_verify(unit_copies: Path) -> None:
    units = sorted(unit_copies.iterdir())
    done = verify(units)
    complaints = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if any(u.name in line for u in units)
    ]
    assert complaints == []
    assert done.returncode == 0, done.stderr


@needs_analyze
def test_the_verify_harness_sees_a_broken_unit(unit_copies: Path) -> None:
    broken = unit_copies / "hoso-cron.service"
    text = broken.read_text(encoding="utf-8").replace("ProtectSystem=strict", "ProtectSytem=strict")
    broken.write_text(text, encoding="utf-8")
    done = verify([broken])
    assert "Unknown key 'ProtectSytem'" in done.stdout + done.stderr


EXPOSURE = re.compile(r"Overall exposure level for (\S+): (\d+\.\d+)")


@needs_analyze
@pytest.mark.parametrize("instance", SERVICES.values())
def test_every_service_is_hardened_below_the_exposure_threshold(
    unit_copies: Path, instance: str
) -> None:
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(unit_copies / instance)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if "--offline" in done.stderr and "unrecognized" in done.stderr:
        pytest.skip("this systemd-analyze has no --offline (systemd < 250)")
    found = EXPOSURE.search(done.stdout)
    assert found is not None, done.stdout + done.stderr
    score = float(found.group(2))
    print(f"{instance}: exposure {score}")
    assert score <= MAX_EXPOSURE


def subcommands() -> set[str]:
    done = subprocess.run(
        [sys.executable, "-m", "hoso.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    listed = re.search(r"\{([a-z,-]+)\}", done.stdout)
    assert listed is not None
    return set(listed.group(1).split(","))


def test_every_unit_runs_an_existing_hoso_subcommand_with_existing_options() -> None:
    known = subcommands()
    for unit, instance in SERVICES.items():
        (exec_start,) = values(unit, "ExecStart")
        program, subcommand, *options = exec_start.split()
        assert program == INSTALLED_HOSO, unit
        assert subcommand in known, unit
        given = [o for o in options if o.startswith("--")]
        if given:
            done = subprocess.run(
                [sys.executable, "-m", "hoso.cli", subcommand, "--help"],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            for option in given:
                assert option in done.stdout, f"{instance}: {option}"


@pytest.mark.parametrize("unit", SERVICES)
def test_every_service_runs_as_hoso_with_the_shared_paths_and_hardening(unit: str) -> None:
    settings = dict(settings_of(unit))
    assert settings["User"] == "hoso"
    assert values(unit, "EnvironmentFile") == ["-/etc/hoso/hoso.env"]
    environment = " ".join(values(unit, "Environment"))
    if unit == "hoso-scanner@.service":
        assert "HOSO_STATION_CONFIG=/etc/hoso/station-%i.toml" in environment
    else:
        assert "HOSO_CONFIG=/etc/hoso/hoso.toml" in environment
    assert settings["StateDirectory"].split()[0] == "hoso"
    assert settings["ReadWritePaths"] == "/var/lib/hoso"
    for key, value in {
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "NoNewPrivileges": "yes",
        "ProtectHome": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectKernelLogs": "yes",
        "ProtectControlGroups": "yes",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "CapabilityBoundingSet": "",
        "Restart": "always",
    }.items():
        assert settings[key] == value, f"{unit}: {key}"
    assert "PartOf" in settings
    assert settings["WantedBy"] == "hoso.target"
    if unit in DEVICE_UNITS:
        assert settings["DevicePolicy"] == "closed"
        assert {"char-ttyUSB rw", "char-ttyACM rw"} <= set(values(unit, "DeviceAllow"))
        assert "dialout" in settings["SupplementaryGroups"].split()
    else:
        assert settings["PrivateDevices"] == "yes"
        assert "DeviceAllow" not in settings


SIZE = re.compile(r"^(\d+)([KMGT]?)$")
MIB = 1024 * 1024
UNIT_SIZES = {"": 1, "K": 1024, "M": MIB, "G": 1024 * MIB, "T": 1024 * 1024 * MIB}
# A parent that replaces a child the kernel killed (gunicorn's master, RQ's worker) keeps
# running; every other unit is restarted (Restart=always).
PARENTS = ("hoso-gateway.service", "hoso-worker@.service")


def size_of(setting: str) -> int:
    found = SIZE.fullmatch(setting)
    assert found is not None, f"{setting!r}: a size in bytes, K, M, G or T"
    return int(found.group(1)) * UNIT_SIZES[found.group(2)]


@pytest.mark.parametrize("unit", SERVICES)
def test_every_service_has_a_memory_limit_fit_for_one_process_of_its_kind(unit: str) -> None:
    (limit,) = values(unit, "MemoryMax")
    size = size_of(limit)
    assert 128 * MIB <= size <= 4096 * MIB, f"{unit}: MemoryMax={limit}"
    expected_oom = ["continue"] if unit in PARENTS else []
    assert values(unit, "OOMPolicy") == expected_oom


def test_the_gateways_limit_holds_its_default_workers_on_four_cores_each_decoding_a_photo() -> None:
    from gateway.http.photos import DECODES_AT_ONCE

    (limit,) = values("hoso-gateway.service", "MemoryMax")
    master, worker, decode = 70 * MIB, 60 * MIB, 100 * MIB  # measured; decode: tests/security
    workers = 2 * 4  # gateway.workers = 0: two a core
    assert size_of(limit) >= master + workers * (worker + DECODES_AT_ONCE * decode)


def test_the_scanner_may_read_input_devices_and_the_modem_may_not() -> None:
    assert "char-input r" in values("hoso-scanner@.service", "DeviceAllow")
    assert "input" in values("hoso-scanner@.service", "SupplementaryGroups")[0].split()
    assert "char-input r" not in values("hoso-modem@.service", "DeviceAllow")


def test_a_modem_unit_waits_for_the_part_in_flight_before_it_is_killed() -> None:
    (timeout,) = values("hoso-modem@.service", "TimeoutStopSec")
    assert int(timeout) > 90  # the service joins each owner for up to 90 s
    assert values("hoso-modem@.service", "ExecStart") == ["/opt/hoso/bin/hoso modem --modem %i"]


def test_a_carrier_link_unit_runs_one_link_waits_for_its_answers_and_has_a_memory_ceiling() -> None:
    assert values("hoso-smpp@.service", "ExecStart") == ["/opt/hoso/bin/hoso smpp --link %i"]
    (timeout,) = values("hoso-smpp@.service", "TimeoutStopSec")
    assert int(timeout) > 30  # the link waits up to response_timeout (30 s) for its answers
    (memory,) = values("hoso-smpp@.service", "MemoryMax")
    assert memory.endswith("M")
    assert int(memory[:-1]) <= 512


# -- udev -------------------------------------------------------------------------------------

MATCH_KEYS = {
    "ACTION", "DEVPATH", "KERNEL", "KERNELS", "NAME", "SYMLINK", "SUBSYSTEM", "SUBSYSTEMS",
    "DRIVER", "DRIVERS", "ATTR", "ATTRS", "SYSCTL", "ENV", "CONST", "TAG", "TAGS", "TEST",
    "PROGRAM", "RESULT",
}  # fmt: skip
ASSIGN_KEYS = {
    "NAME", "SYMLINK", "OWNER", "GROUP", "MODE", "SECLABEL", "ATTR", "SYSCTL", "ENV", "TAG",
    "RUN", "LABEL", "GOTO", "IMPORT", "OPTIONS",
}  # fmt: skip
PAIR = re.compile(r'\s*([A-Z_]+)(\{[^}]*\})?\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*(?:,|$)')


def parse_udev_line(line: str) -> list[tuple[str, str, str]]:
    """(key, operator, value) of each pair, or an AssertionError saying what is wrong."""
    pairs, at = [], 0
    while at < len(line):
        found = PAIR.match(line, at)
        assert found is not None, f"cannot parse {line[at:]!r}"
        key, _, op, value = found.groups()
        if op in ("==", "!="):
            assert key in MATCH_KEYS, f"{key} cannot be matched"
        else:
            assert key in ASSIGN_KEYS, f"{key} cannot be assigned"
        pairs.append((key, op, value))
        at = found.end()
    return pairs


def udev_lines(text: str, with_examples: bool) -> list[str]:
    lines = []
    for raw in text.splitlines():
        line = raw.strip()
        if with_examples and re.match(r"#\s[A-Z]+[={!]", line):  # a commented example rule
            line = line[1:].strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


RULES = SYSTEMD / "99-hoso-modems.rules"


def test_the_udev_rules_and_their_examples_parse() -> None:
    text = RULES.read_text(encoding="utf-8")
    rules = [parse_udev_line(line) for line in udev_lines(text, with_examples=False)]
    assert rules
    gotos = {v for rule in rules for k, _, v in rule if k == "GOTO"}
    labels = {v for rule in rules for k, _, v in rule if k == "LABEL"}
    assert gotos <= labels
    assignments = {(k, v) for rule in rules for k, op, v in rule if op == "="}
    assert ("GROUP", "dialout") in assignments
    assert any(k == "SYMLINK" and v.startswith("hoso/modem-") for rule in rules for k, _, v in rule)
    examples = [
        parse_udev_line(line)
        for line in udev_lines(text, with_examples=True)
        if line not in udev_lines(text, with_examples=False)
    ]
    wants = [v for rule in examples for k, _, v in rule if k == "ENV" and v.startswith("hoso-")]
    assert wants == ["hoso-modem@vt1.service", "hoso-modem@vn1.service"]


@pytest.mark.skipif(shutil.which("udevadm") is None, reason="udevadm is not installed here")
def test_the_udev_rules_pass_udevadm_verify_where_it_exists() -> None:
    has_verify = subprocess.run(
        ["udevadm", "verify", "--help"], capture_output=True, timeout=30, check=False
    )
    if has_verify.returncode != 0:
        pytest.skip("udevadm verify needs systemd 253 or later")
    done = subprocess.run(
        ["udevadm", "verify", str(RULES)], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


# -- sysusers, tmpfiles, install.sh ------------------------------------------------------------


@pytest.mark.skipif(shutil.which("systemd-sysusers") is None, reason="no systemd-sysusers")
def test_sysusers_and_tmpfiles_create_the_user_and_directories_in_a_scratch_root(
    tmp_path: Path,
) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n", encoding="utf-8")
    (tmp_path / "etc" / "group").write_text("root:x:0:\ndialout:x:20:\n", encoding="utf-8")
    subprocess.run(
        ["systemd-sysusers", f"--root={tmp_path}", str(SYSTEMD / "hoso.sysusers")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    passwd = (tmp_path / "etc" / "passwd").read_text(encoding="utf-8")
    group = (tmp_path / "etc" / "group").read_text(encoding="utf-8")
    assert re.search(r"^hoso:x:\d+:\d+:[^:]*:/var/lib/hoso:/usr/sbin/nologin$", passwd, re.M)
    assert "dialout:x:20:hoso" in group
    subprocess.run(
        ["systemd-tmpfiles", f"--root={tmp_path}", "--create", str(SYSTEMD / "hoso.tmpfiles")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert (tmp_path / "etc" / "hoso").stat().st_mode & 0o777 == 0o750
    assert (tmp_path / "var" / "lib" / "hoso").is_dir()


def test_install_sh_copies_every_file_into_a_root_and_keeps_edited_udev_rules(
    tmp_path: Path,
) -> None:
    def install() -> str:
        return subprocess.run(
            ["sh", str(SYSTEMD / "install.sh")],
            env={"ROOT": str(tmp_path), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout

    install()
    units = tmp_path / "etc" / "systemd" / "system"
    assert sorted(p.name for p in units.iterdir()) == sorted([*SERVICES, "hoso.target"])
    assert (tmp_path / "etc" / "sysusers.d" / "hoso.conf").is_file()
    assert (tmp_path / "etc" / "tmpfiles.d" / "hoso.conf").is_file()
    rules = tmp_path / "etc" / "udev" / "rules.d" / "99-hoso-modems.rules"
    rules.write_text(rules.read_text(encoding="utf-8") + "# my modems\n", encoding="utf-8")
    out = install()
    assert rules.read_text(encoding="utf-8").endswith("# my modems\n")
    assert (rules.parent / "99-hoso-modems.rules.new").is_file()
    assert "kept" in out
