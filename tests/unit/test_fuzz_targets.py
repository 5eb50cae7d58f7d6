"""The fuzz targets run on their seed corpora without atheris, so they cannot rot; and what
fuzzing found stays fixed, each input it crashed on kept here as a regression case."""

from __future__ import annotations

import importlib
import io
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from fuzz.run import TARGETS
from modem.device_parse import parse_cmgl
from modem.emulator import pdu, userdata
from modem.emulator.device import EmulatedModem
from modem.emulator.schedule import ManualScheduler
from modem.emulator.state import DeviceConfig, Quirks
from modem.sms_pdu import Deliver, decode_pdu
from scanner.image_source import decode_netpbm
from scanner.line_source import LineSource
from scanner.serial_source import LineSplitter

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "fuzz" / "corpus"
NOW = datetime(2024, 4, 23, 8, 30, tzinfo=timezone(timedelta(hours=7)))


@pytest.mark.parametrize("target", TARGETS)
def test_each_target_passes_its_seed_corpus(target: str) -> None:
    module = importlib.import_module(f"fuzz.{target}")
    seeds = sorted((CORPUS / target).iterdir())
    assert seeds, f"no seeds for {target}"
    for seed in seeds:
        module.TestOneInput(seed.read_bytes())


def test_every_target_module_is_run_by_fuzz_run() -> None:
    modules = {p.stem for p in (ROOT / "fuzz").glob("*.py")} - {
        "__init__",
        "harness",
        "run",
        "seeds",
    }
    assert modules == set(TARGETS)
    assert {p.name for p in CORPUS.iterdir()} == set(TARGETS)


def test_the_targets_import_atheris_only_in_main() -> None:
    imports = "; ".join(f"import fuzz.{t}" for t in TARGETS)
    check = f"import sys; {imports}; assert 'atheris' not in sys.modules, 'atheris imported'"
    subprocess.run([sys.executable, "-c", check], cwd=ROOT, check=True)


# ------------------------------------------------------------------ what fuzzing found


def _send(after: bytes = b"") -> bytes:
    """AT+CMGS of a message asking for a status report (whose PDU carries the SMSC)."""
    [ud] = userdata.split_text("HS 1")
    hex_pdu, length = pdu.encode_submit(
        pdu.SmsSubmit("+84912345678", ud, status_report_request=True)
    )
    return after + b"AT+CMGS=%d\r%s\x1a" % (length, hex_pdu.encode())


# (target, input) pairs each target crashed on before its fix, minimised by hand.
REGRESSIONS = {
    "ucs2 half surrogate pair": (
        "sms_pdu",
        b"\x01" + bytes.fromhex("00040481103200084240328003008204D83D0041"),
    ),
    "superscript digit in ATE": ("emulator", b"\x00ATE\xb2\r"),
    "superscript digit in a parameter": ("emulator", b"\x00AT+CMEE=\xb2\rATS0=\xb9\rAT+FOO=\xb3\r"),
    "bad hex in a UCS2 number": ("emulator", b'\x00AT+CMGF=1;+CSCS="UCS2";+CMGS="0G"\r'),
    "bad hex in a HEX service centre": ("emulator", b'\x00AT+CSCS="HEX";+CSCA="zz"\r'),
    "unencodable service centre": ("emulator", b'\x00AT+CSCA="x y"\r' + _send(b"\xff")),
    "non-UTF-8 byte on stdin": ("scanner_line", b"000.00.20.H57-240423-0001\n\xff\xfeP\n"),
    "NUL then space around a code": ("scanner_serial", b"\x04\x05\x00 PAZC-GM6 \x00\x00"),
    "short P6 frame": ("scanner_image", b"P6 2 1 255 \x00\x00\x00\x00"),
    "zero-sized frame": ("scanner_image", b"P5 0 0 255 "),
}


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_inputs_that_crashed_a_target_pass_now(name: str) -> None:
    target, data = REGRESSIONS[name]
    importlib.import_module(f"fuzz.{target}").TestOneInput(data)


def test_a_lone_surrogate_in_ucs2_user_data_decodes_to_a_replacement_character() -> None:
    _, data = REGRESSIONS["ucs2 half surrogate pair"]
    decoded = decode_pdu(data[1:].hex())
    assert isinstance(decoded, Deliver)
    assert decoded.text == "\ufffdA"


class Terminal:
    def __init__(self) -> None:
        self.out = bytearray()
        self.clock = ManualScheduler()
        config = DeviceConfig(quirks=Quirks(boot_urcs=False), status_report_delay=1.0)
        self.dev = EmulatedModem("m1", config, self.out.extend, self.clock, wall=lambda: NOW)
        self.dev.boot()
        self.at("ATE0")

    def at(self, line: str) -> str:
        start = len(self.out)
        self.dev.feed(line.encode("latin-1") + b"\r")
        return self.out[start:].decode("latin-1")


@pytest.mark.parametrize(
    "line", ["ATE\xb2", "AT+CMEE=\xb2", "ATS0=\xb9", "AT+FOO=\xb3", "ATS\xb2?"]
)
def test_the_emulator_answers_error_to_digits_that_are_not_ascii(line: str) -> None:
    assert Terminal().at(line).endswith("ERROR\r\n")


@pytest.mark.parametrize(
    "line",
    [
        'AT+CSCS="UCS2";+CMGF=1;+CMGS="0G"',
        'AT+CSCS="HEX";+CSCA="zz"',
        'AT+CSCA="x y"',
        'AT+CMGF=1;+CMGS="+8491ª"',
    ],
)
def test_the_emulator_refuses_numbers_it_could_not_put_in_a_pdu(line: str) -> None:
    term = Terminal()
    term.at("AT+CMEE=1")
    assert term.at(line).endswith("+CMS ERROR: 305\r\n")
    term.dev.inject_sms("+84912345678", "HS 1")  # the service centre is still encodable


def test_a_status_report_keeps_an_alphanumeric_recipient_that_starts_with_a_plus() -> None:
    term = Terminal()
    [ud] = userdata.split_text("hi")
    submit = pdu.SmsSubmit("+x", ud, status_report_request=True, destination_toa=0xD0)
    hex_pdu, length = pdu.encode_submit(submit)
    term.at("AT+CNMI=2,1,0,1,0")
    term.at(f"AT+CMGS={length}")
    term.dev.feed(hex_pdu.encode() + b"\x1a")
    term.clock.advance(2.0)  # raised ValueError in the timer before
    report_hex = term.out.decode("latin-1").split("+CDS: ")[1].split("\r\n")[1]
    assert pdu.decode_status_report(report_hex).recipient == "+x"


def test_a_byte_that_is_not_utf8_does_not_stop_the_line_source() -> None:
    stream = io.TextIOWrapper(io.BytesIO(b"ABC\n\xff\xfeP\nPAZC-GM6\n"), encoding="utf-8")
    assert list(LineSource(stream)) == ["ABC", "\ufffd\ufffdP", "PAZC-GM6"]


def test_nuls_never_leave_spaces_around_a_serial_code() -> None:
    splitter = LineSplitter("cr")
    assert splitter.feed(b"\x00 PAZC-GM6 \x00\r\x00\x00\r \x00P\x00AZ\r", 0.0) == [
        "PAZC-GM6",
        "PAZ",
    ]


@pytest.mark.parametrize(
    "data", [b"P6 2 1 255 \x00\x00\x00\x00", b"P5 0 0 255 ", b"P5 0 4 255 ", b"P6 1 0 255 x"]
)
def test_short_and_empty_netpbm_frames_are_value_errors(data: bytes) -> None:
    with pytest.raises(ValueError, match=r"truncated|size"):
        decode_netpbm(data)


@pytest.mark.parametrize(
    "line",
    [
        # ~14 s before (extrapolated): the spaces backtracked quadratically
        "+CMGL: 1,1," + " " * 100_000 + "x",
        "+CMGL: 1,1" + " " * 100_000 + "x",
        "0" * 100_000 + "x",  # as a PDU line: the hex-tail search retried at every position
    ],
)
def test_cmgl_parsing_stays_linear_in_the_line_length(line: str) -> None:
    started = time.perf_counter()
    parse_cmgl(["+CMGL: 1,0,,5", line])
    assert time.perf_counter() - started < 1.0
