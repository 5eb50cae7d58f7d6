"""The emulator driven by Debian's gammu, an independent AT client (echo on, polls storage)."""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from modem.emulator.bank import Bank

pytestmark = [
    pytest.mark.slow,  # a gammu process per test, seconds each
    pytest.mark.timeout(90),
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
