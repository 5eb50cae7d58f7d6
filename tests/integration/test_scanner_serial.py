"""A serial scanner on a pseudo-terminal, read by pyserial, end to end into the station's spool."""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import serial
from hypothesis import given
from hypothesis import strategies as st

from scanner.serial_source import LineSplitter, SerialSource
from scanner.spool import Spool
from scanner.station import CounterStation, Feedback

CODES = [f"000.00.20.H57-240423-{n:04d}" for n in range(1, 6)]


class Scanner:
    """The device side of a pty, behind a stable name like /dev/serial/by-id/... ."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master = -1
        self.plug()

    def plug(self) -> None:
        master, slave = os.openpty()
        name = os.ttyname(slave)
        os.close(slave)
        self.master = master
        tmp = self.link.with_suffix(".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(name)
        tmp.replace(self.link)

    def unplug(self) -> None:
        os.close(self.master)
        self.link.unlink()
        self.master = -1

    def send(self, data: bytes, chunk: int = 0, pause: float = 0.0) -> None:
        step = chunk or len(data)
        for i in range(0, len(data), step):
            os.write(self.master, data[i : i + step])
            if pause:
                time.sleep(pause)


@dataclass
class Running:
    scanner: Scanner
    source: SerialSource
    spool: Spool
    out: io.StringIO

    def codes(self) -> list[str]:
        return [s.code for s in self.spool.all()]


@pytest.fixture
def station(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    stops: list[tuple[threading.Event, threading.Thread, Scanner, Spool]] = []

    def start(terminator: str = "cr", idle_seconds: float = 0.3) -> Running:
        scanner = Scanner(tmp_path / "scanner")
        stop = threading.Event()
        source = SerialSource(
            str(scanner.link),
            terminator=terminator,
            idle_seconds=idle_seconds,
            stop=stop,
            reconnect_seconds=0.1,
        )
        spool = Spool(tmp_path / "spool.sqlite3", "quay-1")
        out = io.StringIO()
        station = CounterStation(spool, Feedback(out), time.time, debounce_seconds=1.5)
        thread = threading.Thread(target=station.run, args=(source,), daemon=True)
        thread.start()
        assert source.connected.wait(5)
        stops.append((stop, thread, scanner, spool))
        return Running(scanner, source, spool, out)

    yield start
    for stop, thread, scanner, spool in stops:
        stop.set()
        thread.join(5)
        if scanner.master >= 0:
            os.close(scanner.master)
        spool.close()


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("terminator", "end"), [("cr", b"\r"), ("crlf", b"\r\n"), ("lf", b"\n"), ("tab", b"\t")]
)
def test_codes_split_on_the_terminator_whatever_the_read_boundaries(
    station: Callable[..., Running], terminator: str, end: bytes
) -> None:
    running = station(terminator)
    stream = b"".join(c.encode() + end for c in CODES)
    running.scanner.send(stream, chunk=7, pause=0.01)  # codes cut across reads
    wait_for(lambda: len(running.codes()) == len(CODES))
    assert running.codes() == CODES
    assert running.out.getvalue().splitlines() == [
        f"OK {n} {c} đã lưu tại quầy, đang gửi lên máy chủ." for n, c in enumerate(CODES, 1)
    ]


@pytest.mark.slow
def test_without_terminator_a_pause_ends_a_code(station: Callable[..., Running]) -> None:
    running = station("none", idle_seconds=0.25)
    for code in CODES[:3]:
        running.scanner.send(code.encode(), chunk=5, pause=0.01)
        time.sleep(0.5)
    wait_for(lambda: len(running.codes()) == 3)
    assert running.codes() == CODES[:3]


def test_a_cr_scanner_sending_cr_lf_still_reads_clean_codes(
    station: Callable[..., Running],
) -> None:
    running = station("cr")
    running.scanner.send(b"".join(c.encode() + b"\r\n" for c in CODES[:2]))
    wait_for(lambda: len(running.codes()) == 2)
    assert running.codes() == CODES[:2]


def test_unplugged_scanner_is_reopened_and_a_half_read_code_is_dropped(
    station: Callable[..., Running],
) -> None:
    running = station("cr")
    running.scanner.send(CODES[0].encode() + b"\r")
    wait_for(lambda: len(running.codes()) == 1)
    running.scanner.send(CODES[1].encode()[:12])  # the cable comes out in the middle of a code
    time.sleep(0.1)
    running.scanner.unplug()
    wait_for(lambda: not running.source.connected.is_set())
    time.sleep(0.3)  # a few failed reopen attempts while the device is gone
    running.scanner.plug()
    wait_for(lambda: running.source.opened == 2)
    running.scanner.send(CODES[2].encode() + b"\r")
    wait_for(lambda: len(running.codes()) == 2)
    assert running.codes() == [CODES[0], CODES[2]]


def test_the_port_is_opened_exclusively(station: Callable[..., Running]) -> None:
    running = station("cr")
    with pytest.raises(serial.SerialException):
        serial.Serial(str(running.scanner.link), exclusive=True)


def test_line_noise_and_non_codes_are_refused_without_a_record(
    station: Callable[..., Running],
) -> None:
    running = station("cr")
    running.scanner.send(b"\x00\x00hello\r" + CODES[0].encode() + b"\r")
    wait_for(lambda: len(running.codes()) == 1)
    assert running.out.getvalue().splitlines() == [
        "SAI hello: không phải mã hồ sơ. Hãy quét mã vạch hoặc mã QR trên giấy biên nhận.",
        f"OK 1 {CODES[0]} đã lưu tại quầy, đang gửi lên máy chủ.",
    ]


@given(
    st.lists(st.sampled_from(CODES), min_size=1, max_size=6),
    st.lists(st.integers(min_value=1, max_value=30), min_size=1, max_size=20),
    st.sampled_from([("cr", b"\r"), ("crlf", b"\r\n"), ("tab", b"\t")]),
)
def test_splitting_never_depends_on_read_boundaries(
    codes: list[str], cuts: list[int], terminator: tuple[str, bytes]
) -> None:
    name, end = terminator
    stream = b"".join(c.encode() + end for c in codes)
    splitter = LineSplitter(name)
    found: list[str] = []
    pos = 0
    for cut in cuts * (len(stream) // sum(cuts) + 1):
        found += splitter.feed(stream[pos : pos + cut], 0.0)
        pos += cut
    assert found == codes
