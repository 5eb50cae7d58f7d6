"""The emulator driven by Debian's gammu, an independent AT client (echo on, polls storage)."""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from modem.emulator.bank import Bank
from modem.emulator.profiles import PROFILES

pytestmark = [
    pytest.mark.slow,  # a gammu process per test, seconds each
    pytest.mark.timeout(120),
    pytest.mark.skipif(
        shutil.which("gammu") is None,
        reason="gammu binary not installed (sh systemd/install-debian-packages.sh test)",
    ),
]

VIETNAMESE = unicodedata.normalize("NFC", "Hồ sơ của bạn đã được tiếp nhận")

Gammu = Callable[..., str]


@pytest.fixture
def bank(tmp_path: Path) -> Iterator[Bank]:
    with Bank(tmp_path / "sim", modems=1, status_report_delay=None) as b:
        yield b


@pytest.fixture
def gammu(bank: Bank, tmp_path: Path) -> Gammu:
    rc = tmp_path / "gammurc"
    rc.write_text(f"[gammu]\ndevice = {bank.port('m1')}\nconnection = at115200\n")

    def run(*args: str) -> str:
        done = subprocess.run(
            ["gammu", "-c", str(rc), *args], check=False, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    return run


def test_gammu_identifies_the_modem(gammu: Gammu) -> None:
    out = gammu("identify")
    assert "Manufacturer         : Quectel" in out
    assert "UC20" in out
    assert "IMEI                 : 861234567890123" in out
    assert "SIM IMSI             : 452040123456789" in out


def test_gammu_sends_vietnamese_as_one_ucs2_message(bank: Bank, gammu: Gammu) -> None:
    gammu("sendsms", "TEXT", "+84912345678", "-unicode", "-text", VIETNAMESE)
    [sent] = bank.sent("m1")
    assert (sent.to, sent.text, sent.encoding, sent.parts) == (
        "+84912345678",
        VIETNAMESE,
        "ucs2",
        1,
    )


def test_gammu_sends_a_long_text_in_parts(bank: Bank, gammu: Gammu) -> None:
    text = " ".join(f"Ho so {n:03d} da duoc tiep nhan." for n in range(13))
    assert 300 < len(text) < 400
    gammu("sendsms", "TEXT", "0912345678", "-len", "400", "-text", text)
    [whole] = bank.sent("m1")
    assert (whole.to, whole.text, whole.parts) == ("0912345678", text, 3)
    assert whole.refs == (0, 1, 2)
    assert len(bank.sent("m1", parts=True)) == 3


def test_gammu_reads_injected_messages(bank: Bank, gammu: Gammu) -> None:
    bank.inject_sms("m1", "+84987654321", VIETNAMESE)
    bank.inject_sms("m1", "0901234567", "TRA 123 abc")
    bank.inject_sms("m1", "+84911111111", "x" * 200)
    out = gammu("getallsms")
    assert VIETNAMESE in out
    assert "TRA 123 abc" in out
    assert '"+84987654321"' in out
    assert '"0901234567"' in out
    assert "4 SMS parts in 4 SMS sequences" in out  # getallsms lists parts unlinked
    assert "Concatenated (linked) message, ID (8 bit)" in out
    assert "part 1 of 2" in out
    assert "part 2 of 2" in out
    assert "x" * 153 in out
    assert "Status               : UnRead" in out


# -- every model profile (modem/emulator/profiles.py) --------------------------------------------
# gammu runs against all of them at once (one process per profile): each run takes ~4 s of
# gammu's own pacing. Vendor URCs are switched off: gammu, an independent client, proves the
# profiles' answers; surviving URC storms is the modem service's job (test_modem_profiles.py).

PROFILE_NAMES = sorted(PROFILES)


@pytest.fixture
def family_bank(tmp_path: Path) -> Iterator[Bank]:
    names = PROFILE_NAMES
    with Bank(tmp_path / "sim", names, profiles=dict(zip(names, names, strict=True))) as b:
        for name in names:
            b.set_quirks(name, vendor_urc_interval=0.0)
        yield b


def gammu_all(
    bank: Bank, tmp_path: Path, *args: str
) -> dict[str, subprocess.CompletedProcess[str]]:
    def one(name: str) -> subprocess.CompletedProcess[str]:
        rc = tmp_path / f"gammurc-{name}"
        rc.write_text(f"[gammu]\ndevice = {bank.port(name)}\nconnection = at115200\n")
        return subprocess.run(
            ["gammu", "-c", str(rc), *args], check=False, capture_output=True, text=True, timeout=80
        )

    with ThreadPoolExecutor(len(PROFILE_NAMES)) as pool:
        return dict(zip(PROFILE_NAMES, pool.map(one, PROFILE_NAMES), strict=True))


def test_gammu_identifies_every_family(family_bank: Bank, tmp_path: Path) -> None:
    done = gammu_all(family_bank, tmp_path, "identify")
    wrong = {}
    for name, run in done.items():
        profile = PROFILES[name]
        maker = profile.manufacturer.split()[0].split("_")[0].lower()  # gammu renames makers
        shown = run.stdout.lower()
        if run.returncode or profile.model.strip().lower() not in shown or maker not in shown:
            wrong[name] = run.stdout[-300:] + run.stderr[-300:]
    assert wrong == {}


def test_gammu_sends_vietnamese_through_every_family(family_bank: Bank, tmp_path: Path) -> None:
    done = gammu_all(
        family_bank, tmp_path, "sendsms", "TEXT", "+84912345678", "-unicode", "-text", VIETNAMESE
    )
    wrong = {n: r.stdout[-300:] + r.stderr[-300:] for n, r in done.items() if r.returncode}
    assert wrong == {}
    for name in PROFILE_NAMES:
        [sent] = family_bank.sent(name)
        assert (sent.to, sent.text, sent.encoding) == ("+84912345678", VIETNAMESE, "ucs2"), name


def test_gammu_reads_what_every_family_stored(family_bank: Bank, tmp_path: Path) -> None:
    for name in PROFILE_NAMES:
        family_bank.inject_sms(name, "+84987654321", VIETNAMESE)
    done = gammu_all(family_bank, tmp_path, "getallsms")
    wrong = {
        n: r.stdout[-300:] + r.stderr[-300:]
        for n, r in done.items()
        if r.returncode or VIETNAMESE not in r.stdout or '"+84987654321"' not in r.stdout
    }
    assert wrong == {}
