"""python-gsmmodem-new's serial transport with the fixes we need, in one place.

We keep the library's `SerialComms`: its port handling, its request/response handshake in
`write()` (one response event, partial answers on `TimeoutException`, the `> ` prompt wait) and
its `close()`. We replace three of its methods:

- `connect`: opens the port with `exclusive=True` and without the hard-coded `rtscts`/`dsrdtr`
  (MODEM-NOTES 13) and a short read timeout so `close()` returns quickly.
- `_readLoop`: decodes each line with errors="replace" so one non-UTF-8 byte cannot kill the
  reader thread (MODEM-NOTES 8); catches and logs anything a line handler raises; accepts the
  SMS prompt as ">" with or without a trailing space (MODEM-NOTES 9).
- `_handleLineRead`: a line that arrives while no command waits is handed to `on_urc` at once,
  one line at a time; the library buffered notification lines until the input went quiet and
  then started a handler thread that replied on the port (MODEM-NOTES 1-5). The PDU line after a
  `+CMT:` / `+CDS:` handed to `on_urc` goes there too, even if a command started in between: split
  across the two, the PDU became an information line of that command and was lost.

`RESPONSE_TERM` also accepts verbose "+CMS ERROR: <text>" / "+CME ERROR: <text>" finals
(MODEM-NOTES 10), in case a modem ignores our AT+CMEE=1.

GsmModem (the high-level class) is not used at all: see modem/device.py for why.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable

import serial
from gsmmodem.serial_comms import SerialComms

log = logging.getLogger(__name__)

READ_TIMEOUT = 0.05  # seconds; bounds how long close() waits for the reader thread


PROMPT_MAX = 16  # the "> " prompt arrives on a line of its own (after "\r\n" at most)
PDU_URCS = ("+CMT:", "+CDS:")  # URCs whose next line is their PDU
LINE_MAX = 8192  # no AT answer line is this long (a PDU line: at most 2 x 176 hex digits + header)


class FixedSerialComms(SerialComms):  # type: ignore[misc]
    RESPONSE_TERM = re.compile(
        r"^(OK|ERROR|\+CM[ES] ERROR:.*|COMMAND NOT SUPPORT|NO CARRIER|TOO MANY PARAMETERS)$"
    )

    def __init__(
        self,
        port: str,
        baudrate: int,
        on_urc: Callable[[str], None],
        on_fatal: Callable[[BaseException], None],
    ) -> None:
        super().__init__(port, baudrate, notifyCallbackFunc=None, fatalErrorCallbackFunc=on_fatal)
        self._on_urc = on_urc
        self._pdu_follows = False
        self.rxThread: threading.Thread | None = None
        self.serial: serial.Serial | None = None

    def connect(self) -> None:
        self.serial = serial.Serial(
            port=self.port,
            baudrate=self.baudrate,
            timeout=READ_TIMEOUT,
            exclusive=True,
            rtscts=False,
            dsrdtr=False,
        )
        self.alive = True
        self.rxThread = threading.Thread(target=self._readLoop, name=f"rx {self.port}", daemon=True)
        self.rxThread.start()

    def close(self) -> None:
        self.alive = False
        if self.rxThread is not None and self.rxThread is not threading.current_thread():
            self.rxThread.join(2.0)
        if self.serial is not None:
            self.serial.close()

    def reader_alive(self) -> bool:
        return self.rxThread is not None and self.rxThread.is_alive()

    def _handleLineRead(self, line: str, checkForResponseTerm: bool = True) -> None:
        event = self._responseEvent
        if self._pdu_follows:  # the PDU of a +CMT / +CDS the URC stream already has
            self._pdu_follows = False
            self._on_urc(line)
        elif event is not None and not event.is_set():
            self._response.append(line)
            if not checkForResponseTerm or self.RESPONSE_TERM.match(line.strip()):
                event.set()
        else:
            self._on_urc(line)
            self._pdu_follows = line.lstrip().startswith(PDU_URCS)

    def _readLoop(self) -> None:
        assert self.serial is not None
        buffer = bytearray()
        try:
            while self.alive:
                data = self.serial.read(max(1, self.serial.in_waiting))
                for byte in data:
                    buffer.append(byte)
                    if buffer.endswith(b"\r\n"):
                        line = bytes(buffer[:-2])
                        buffer.clear()
                        if line.strip():
                            self._deliver(line, True)
                    elif (
                        self._expectResponseTermSeq
                        and len(buffer) <= PROMPT_MAX
                        and buffer.strip() == b">"
                    ):
                        buffer.clear()
                        self._deliver(b"> ", False)
                    elif len(buffer) >= LINE_MAX:  # a modem sending garbage without line ends
                        log.info("modem.line_too_long port=%s bytes=%d", self.port, len(buffer))
                        line = bytes(buffer)
                        buffer.clear()
                        self._deliver(line, True)
        except (serial.SerialException, OSError, TypeError) as exc:
            # pyserial raises TypeError/OSError when the port is closed under it
            self.alive = False
            try:
                self.serial.close()
            except (serial.SerialException, OSError):
                log.debug("modem.close_after_fatal_failed port=%s", self.port)
            log.warning("modem.reader_stopped port=%s error=%s", self.port, exc)
            self.fatalErrorCallback(exc)
            # A command waiting for its answer (AT+CMGL waits up to 30 s) would wait it all out
            # for a modem that is gone: wake it; Device._write sees the port lost.
            event = self._responseEvent
            if event is not None:
                event.set()

    def _deliver(self, raw: bytes, check_term: bool) -> None:
        text = raw.decode("utf-8", errors="replace")
        if "\ufffd" in text:
            log.info("modem.invalid_bytes port=%s line=%r", self.port, raw[:80])
        try:
            self._handleLineRead(text, check_term)
        except Exception:  # the reader thread must outlive any bad line
            log.exception("modem.line_handler_failed port=%s", self.port)
