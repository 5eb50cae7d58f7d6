"""Serial (USB CDC ACM) scanners: codes ended by a terminator, read with pyserial.

`LineSplitter` does no I/O: it cuts a byte stream into codes at the configured terminator (CR,
CR LF, LF, Tab, or none: a pause of ``idle_seconds``), whatever the read boundaries. `SerialSource`
opens the port with ``exclusive=True`` (a second reader, e.g. ModemManager or another station,
gets an error instead of half the bytes), and after an unplug reopens it in a loop until the
scanner is back (its ``/dev/serial/by-id/...`` name comes back with it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import serial

log = logging.getLogger(__name__)

MAX_CODE_BYTES = 4096  # a longer run without terminator is line noise: dropped
_SEPARATORS = {"cr": b"\r", "crlf": b"\r\n", "lf": b"\n", "tab": b"\t"}


class LineSplitter:
    """Cuts a scanner's byte stream into codes."""

    def __init__(self, terminator: str = "cr", idle_seconds: float = 0.3) -> None:
        if terminator not in (*_SEPARATORS, "none"):
            raise ValueError(f"unknown terminator {terminator!r}")
        self.separator = _SEPARATORS.get(terminator)
        self.idle_seconds = idle_seconds
        self._buffer = bytearray()
        self._last_byte_at = 0.0

    def feed(self, data: bytes, now: float) -> list[str]:
        """Codes completed by `data` (received at `now`)."""
        codes: list[str] = []
        if (
            self.separator is None
            and self._buffer
            and now - self._last_byte_at >= self.idle_seconds
        ):
            codes += self.flush()
        if data:
            self._buffer += data
            self._last_byte_at = now
        if self.separator is not None:
            *complete, rest = bytes(self._buffer).split(self.separator)
            self._buffer = bytearray(rest)
            codes += [c for c in (_text(piece) for piece in complete) if c]
        if len(self._buffer) > MAX_CODE_BYTES:
            log.warning("scanner.noise bytes=%s", len(self._buffer))
            self._buffer.clear()
        return codes

    def poll(self, now: float) -> list[str]:
        """With no terminator, the code that a pause has completed."""
        if (
            self.separator is None
            and self._buffer
            and now - self._last_byte_at >= self.idle_seconds
        ):
            return self.flush()
        return []

    def flush(self) -> list[str]:
        code = _text(bytes(self._buffer))
        self._buffer.clear()
        return [code] if code else []

    def discard(self) -> None:
        """Forget a partial code (the scanner went away in the middle of it)."""
        self._buffer.clear()


def _text(piece: bytes) -> str:
    # Stray CR/LF around a code (a CR LF scanner configured as CR) and NULs are not part of it;
    # NULs go first, wherever they are, so that "\x00 CODE" is not left with its space.
    return piece.decode("utf-8", errors="replace").replace("\x00", "").strip()


class SerialSource:
    """The codes read from a serial scanner, until `stop` is set; survives unplugs."""

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 9600,
        terminator: str = "cr",
        idle_seconds: float = 0.3,
        stop: threading.Event | None = None,
        reconnect_seconds: float = 1.0,
        clock: Callable[[], float] | None = None,
        open_port: Callable[..., Any] | None = None,
    ) -> None:
        self.port = port
        self.baudrate = baudrate
        self.splitter = LineSplitter(terminator, idle_seconds)
        self.stop = stop or threading.Event()
        self.reconnect_seconds = reconnect_seconds
        self.clock = clock or time.monotonic
        self.open_port = open_port or serial.Serial
        self.connected = threading.Event()  # set while the port is open (tests wait on it)
        self.opened = 0  # how many times the port was opened

    def __iter__(self) -> Iterator[str]:
        while not self.stop.is_set():
            try:
                port = self.open_port(
                    self.port, baudrate=self.baudrate, timeout=0.05, exclusive=True
                )
            except (serial.SerialException, OSError) as exc:
                log.warning("scanner.serial_unavailable port=%s error=%s", self.port, exc)
                self.stop.wait(self.reconnect_seconds)
                continue
            self.opened += 1
            log.info("scanner.serial_open port=%s", self.port)
            self.connected.set()
            try:
                yield from self._read(port)
            except (serial.SerialException, OSError) as exc:
                log.warning("scanner.serial_lost port=%s error=%s", self.port, exc)
            finally:
                self.connected.clear()
                self.splitter.discard()
                try:
                    port.close()
                except (serial.SerialException, OSError):
                    log.debug("scanner.serial_close_failed", exc_info=True)
            self.stop.wait(self.reconnect_seconds)

    def _read(self, port: Any) -> Iterator[str]:
        while not self.stop.is_set():
            data = port.read(max(1, port.in_waiting))
            now = self.clock()
            codes = self.splitter.feed(data, now) if data else self.splitter.poll(now)
            yield from codes
