"""Keyboard-wedge scanners read from ``/dev/input/event*`` with evdev.

The scanner sends key codes, not characters: `KeyDecoder` (no I/O) turns (type, code, value)
events into codes with its own US-layout key map, Shift and Caps Lock (letters only, as a
keyboard does), ignoring chords with Ctrl/Alt and autorepeat. On ``SYN_DROPPED`` the kernel lost
events: the code being read is thrown away up to the next terminator (no beep, so the counter
scans again) and the held modifiers are read back from the device. `EvdevSource` grabs the device,
so the keystrokes do not also land in whatever window has focus, and reopens it after an unplug.
"""

from __future__ import annotations

import contextlib
import logging
import select
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import evdev

log = logging.getLogger(__name__)

# linux/input-event-codes.h
EV_SYN, EV_KEY = 0x00, 0x01
SYN_REPORT, SYN_DROPPED = 0, 3
KEY_TAB, KEY_ENTER, KEY_KPENTER = 15, 28, 96
KEY_LEFTSHIFT, KEY_RIGHTSHIFT = 42, 54
KEY_LEFTCTRL, KEY_RIGHTCTRL, KEY_LEFTALT, KEY_RIGHTALT = 29, 97, 56, 100
KEY_CAPSLOCK = 58
KEY_BACKSPACE = 14
LED_CAPSL = 1
SHIFTS = frozenset({KEY_LEFTSHIFT, KEY_RIGHTSHIFT})
CHORDS = frozenset({KEY_LEFTCTRL, KEY_RIGHTCTRL, KEY_LEFTALT, KEY_RIGHTALT})


def _row(first_code: int, plain: str, shifted: str) -> dict[int, tuple[str, str]]:
    return {first_code + i: (p, s) for i, (p, s) in enumerate(zip(plain, shifted, strict=True))}


# key code -> (character, character with Shift); letters get their case from Shift xor Caps Lock.
KEYMAP: dict[int, tuple[str, str]] = {
    **_row(2, "1234567890-=", "!@#$%^&*()_+"),
    **_row(16, "qwertyuiop[]", "QWERTYUIOP{}"),
    **_row(30, "asdfghjkl;'`", 'ASDFGHJKL:"~'),
    **_row(43, "\\zxcvbnm,./", "|ZXCVBNM<>?"),
    57: (" ", " "),
    55: ("*", "*"),  # keypad
    **_row(71, "789-456+1230.", "789-456+1230."),
    98: ("/", "/"),
}


class KeyDecoder:
    """Key events in, codes out."""

    def __init__(
        self,
        terminator: str = "cr",
        caps_lock: bool = False,
        device_state: Callable[[], tuple[Iterable[int], bool]] | None = None,
    ) -> None:
        # A keyboard wedge ends a code with Enter (cr, crlf, lf) or Tab; "none": see `flush`.
        self.enders = {KEY_TAB} if terminator == "tab" else {KEY_ENTER, KEY_KPENTER}
        if terminator == "none":
            self.enders = set()
        self.caps_lock = caps_lock
        self.device_state = device_state  # (held keys, Caps Lock LED), read after SYN_DROPPED
        self.held: set[int] = set()
        self.dropped = 0  # SYN_DROPPED seen
        self._chars: list[str] = []
        self._skipping = False  # between SYN_DROPPED and its SYN_REPORT: events are unreliable
        self._garbled = False  # the code being read lost keys: throw it away at its terminator

    def feed(self, type_: int, code: int, value: int) -> str | None:
        """A completed code, or None."""
        if type_ == EV_SYN:
            if code == SYN_DROPPED:
                self.dropped += 1
                self._skipping = True
                self._garbled = True
                self._chars.clear()
            elif code == SYN_REPORT and self._skipping:
                self._skipping = False
                if self.device_state is not None:
                    held, caps_lock = self.device_state()
                    self.resync(held, caps_lock)
            return None
        if type_ != EV_KEY or self._skipping:
            return None
        if value == 0:
            self.held.discard(code)
            return None
        if value != 1:
            return None  # autorepeat: a scanner never holds a key; a stuck key must not type
        self.held.add(code)
        if code == KEY_CAPSLOCK:
            self.caps_lock = not self.caps_lock
        elif code in self.enders:
            return self._finish()
        elif code == KEY_BACKSPACE:
            if self._chars:
                self._chars.pop()
        elif code in KEYMAP and not self.held & CHORDS:
            plain, shifted = KEYMAP[code]
            shift = bool(self.held & SHIFTS)
            if plain.isalpha():
                self._chars.append(shifted if shift != self.caps_lock else plain)
            else:
                self._chars.append(shifted if shift else plain)
        return None

    def resync(self, held_keys: Iterable[int], caps_lock: bool | None = None) -> None:
        """After SYN_DROPPED: the keys the device reports held (and its Caps Lock LED)."""
        self.held = set(held_keys)
        if caps_lock is not None:
            self.caps_lock = caps_lock

    def flush(self) -> str | None:
        """The code read so far (terminator "none", after a pause)."""
        return self._finish() if self._chars or self._garbled else None

    def pending(self) -> bool:
        return bool(self._chars)

    def _finish(self) -> str | None:
        text = "".join(self._chars)
        self._chars.clear()
        if self._garbled:
            self._garbled = False
            log.warning("scanner.evdev_dropped discarded=%r", text)
            return None
        return text.strip() or None


class EvdevSource:
    """The codes typed by a keyboard-wedge scanner, until `stop` is set; survives unplugs."""

    def __init__(
        self,
        path: str,
        *,
        terminator: str = "cr",
        idle_seconds: float = 0.3,
        stop: threading.Event | None = None,
        reconnect_seconds: float = 1.0,
        open_device: Callable[[str], Any] | None = None,
    ) -> None:
        self.path = path
        self.terminator = terminator
        self.idle_seconds = idle_seconds
        self.stop = stop or threading.Event()
        self.reconnect_seconds = reconnect_seconds
        self.open_device = open_device or _open_evdev

    def __iter__(self) -> Iterator[str]:
        while not self.stop.is_set():
            try:
                device = self.open_device(self.path)
                device.grab()
            except OSError as exc:
                log.warning("scanner.evdev_unavailable path=%s error=%s", self.path, exc)
                self.stop.wait(self.reconnect_seconds)
                continue
            log.info("scanner.evdev_open path=%s", self.path)
            try:
                yield from self._read(device)
            except OSError as exc:
                log.warning("scanner.evdev_lost path=%s error=%s", self.path, exc)
            finally:
                _close(device)
            self.stop.wait(self.reconnect_seconds)

    def _read(self, device: Any) -> Iterator[str]:
        decoder = KeyDecoder(
            self.terminator,
            caps_lock=LED_CAPSL in device.leds(),
            device_state=lambda: (device.active_keys(), LED_CAPSL in device.leds()),
        )
        timeout = min(0.2, self.idle_seconds)
        last_key = time.monotonic()
        while not self.stop.is_set():
            ready, _, _ = select.select([device.fd], [], [], timeout)
            now = time.monotonic()
            if not ready:
                if self.terminator == "none" and now - last_key >= self.idle_seconds:
                    code = decoder.flush()
                    if code:
                        yield code
                continue
            for event in device.read():
                code = decoder.feed(event.type, event.code, event.value)
                if event.type == EV_KEY:
                    last_key = now
                if code:
                    yield code


def _open_evdev(path: str) -> Any:
    return evdev.InputDevice(path)


def _close(device: Any) -> None:
    with contextlib.suppress(OSError):  # already gone with the unplug
        device.ungrab()
    try:
        device.close()
    except OSError:
        log.debug("scanner.evdev_close_failed", exc_info=True)
