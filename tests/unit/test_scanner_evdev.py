"""Keyboard-wedge decoding from synthetic evdev events (this machine has no /dev/input)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from scanner.evdev_source import (
    EV_KEY,
    EV_SYN,
    KEY_CAPSLOCK,
    KEY_ENTER,
    KEY_LEFTSHIFT,
    KEY_TAB,
    SYN_DROPPED,
    SYN_REPORT,
    EvdevSource,
    KeyDecoder,
)

# US layout key codes, as a scanner sends them
KEYS = {
    **{c: 2 + i for i, c in enumerate("1234567890")},
    "-": 12,
    ".": 52,
    ";": 39,
    **{c: 16 + i for i, c in enumerate("qwertyuiop")},
    **{c: 30 + i for i, c in enumerate("asdfghjkl")},
    **{c: 44 + i for i, c in enumerate("zxcvbnm")},
}
SHIFTED = {"_": "-", ":": ";"}


def keystrokes(text: str, shift_letters: bool = True) -> Iterator[tuple[int, int, int]]:
    """Events a scanner sends for `text`: Shift around capitals, a SYN_REPORT after each event."""
    for ch in text:
        shifted = (ch.isupper() and shift_letters) or ch in SHIFTED
        key = KEYS[SHIFTED.get(ch, ch).lower()]
        if shifted:
            yield from [(EV_KEY, KEY_LEFTSHIFT, 1), (EV_SYN, SYN_REPORT, 0)]
        yield from [(EV_KEY, key, 1), (EV_SYN, SYN_REPORT, 0)]
        yield from [(EV_KEY, key, 0), (EV_SYN, SYN_REPORT, 0)]
        if shifted:
            yield from [(EV_KEY, KEY_LEFTSHIFT, 0), (EV_SYN, SYN_REPORT, 0)]


def press(key: int) -> list[tuple[int, int, int]]:
    return [(EV_KEY, key, 1), (EV_SYN, SYN_REPORT, 0), (EV_KEY, key, 0), (EV_SYN, SYN_REPORT, 0)]


def decode(decoder: KeyDecoder, events: Iterable[tuple[int, int, int]]) -> list[str]:
    return [c for c in (decoder.feed(*e) for e in events) if c is not None]


def test_keystrokes_with_shift_become_the_code() -> None:
    code = "000.00.20.H57-240423-0001"
    assert decode(KeyDecoder(), [*keystrokes(code), *press(KEY_ENTER)]) == [code]


def test_shifted_symbols_follow_the_us_layout() -> None:
    assert decode(KeyDecoder(), [*keystrokes("Ab_:"), *press(KEY_ENTER)]) == ["Ab_:"]


def test_caps_lock_flips_the_case_of_letters_only() -> None:
    events = [*press(KEY_CAPSLOCK), *keystrokes("h57-Ab", shift_letters=True), *press(KEY_ENTER)]
    assert decode(KeyDecoder(), events) == ["H57-aB"]


def test_caps_lock_already_on_at_start_is_taken_from_the_device() -> None:
    events = [*keystrokes("k7m2qx4"), *press(KEY_ENTER)]
    assert decode(KeyDecoder(caps_lock=True), events) == ["K7M2QX4"]


def test_tab_ends_a_code_when_configured() -> None:
    events = [*keystrokes("abc"), *press(KEY_TAB), *keystrokes("def"), *press(KEY_ENTER)]
    assert decode(KeyDecoder("tab"), events) == ["abc"]


def test_autorepeat_and_ctrl_chords_type_nothing() -> None:
    events = [
        *keystrokes("a"),
        (EV_KEY, KEYS["b"], 1),
        (EV_KEY, KEYS["b"], 2),  # autorepeat
        (EV_KEY, KEYS["b"], 2),
        (EV_KEY, KEYS["b"], 0),
        (EV_KEY, 29, 1),  # left ctrl
        (EV_KEY, KEYS["c"], 1),
        (EV_KEY, KEYS["c"], 0),
        (EV_KEY, 29, 0),
        *press(KEY_ENTER),
    ]
    assert decode(KeyDecoder(), events) == ["ab"]


def test_syn_dropped_discards_the_code_being_read_and_the_next_one_reads_clean() -> None:
    first = list(keystrokes("000.00.20.H57-240423-0001"))
    events = [
        *first[:20],
        (EV_SYN, SYN_DROPPED, 0),
        (EV_KEY, KEYS["9"], 1),  # unreliable until the next SYN_REPORT
        (EV_SYN, SYN_REPORT, 0),
        *first[40:],
        *press(KEY_ENTER),
        *keystrokes("000.00.20.H57-240423-0002"),
        *press(KEY_ENTER),
    ]
    decoder = KeyDecoder()
    assert decode(decoder, events) == ["000.00.20.H57-240423-0002"]
    assert decoder.dropped == 1


def test_after_syn_dropped_the_held_shift_is_read_back_from_the_device() -> None:
    # The release of Shift was among the lost events: the device says no key is held.
    decoder = KeyDecoder(device_state=lambda: ((), False))
    events = [
        (EV_KEY, KEY_LEFTSHIFT, 1),
        (EV_SYN, SYN_DROPPED, 0),
        (EV_SYN, SYN_REPORT, 0),
        *press(KEY_ENTER),  # ends (and discards) the damaged code
        *keystrokes("abc", shift_letters=False),
        *press(KEY_ENTER),
    ]
    assert decode(decoder, events) == ["abc"]


def test_without_terminator_flush_gives_the_code_read_so_far() -> None:
    decoder = KeyDecoder("none")
    assert decode(decoder, keystrokes("K7M2QX4")) == []
    assert decoder.flush() == "K7M2QX4"
    assert decoder.flush() is None


@dataclass
class Event:
    type: int
    code: int
    value: int


class FakeDevice:
    """The part of evdev.InputDevice the source uses, over a pipe so select() works."""

    def __init__(self, events: list[tuple[int, int, int]]) -> None:
        self._r, self._w = os.pipe()
        os.write(self._w, b"x")
        self.events = [Event(*e) for e in events]
        self.fd = self._r
        self.grabbed = False

    def grab(self) -> None:
        self.grabbed = True

    def ungrab(self) -> None:
        self.grabbed = False

    def leds(self) -> list[int]:
        return []

    def active_keys(self) -> list[int]:
        return []

    def read(self) -> Iterator[Event]:
        if not self.events:
            raise OSError(19, "No such device")  # unplugged
        events, self.events = self.events, []
        return iter(events)

    def close(self) -> None:
        os.close(self._r)
        os.close(self._w)


def test_the_source_grabs_the_device_and_reopens_it_after_an_unplug() -> None:
    stop = threading.Event()
    opened: list[FakeDevice] = []
    batches = [
        [*keystrokes("K7M2QX4"), *press(KEY_ENTER)],
        [*keystrokes("000.00.20.H57-240423-0001"), *press(KEY_ENTER)],
    ]

    def open_device(path: str) -> FakeDevice:
        if not batches:
            stop.set()
            raise OSError(2, "No such file")
        device = FakeDevice(batches.pop(0))
        opened.append(device)
        return device

    source = EvdevSource("/dev/input/by-id/x", stop=stop, open_device=open_device)
    source.reconnect_seconds = 0.01
    assert list(source) == ["K7M2QX4", "000.00.20.H57-240423-0001"]
    assert len(opened) == 2
    assert not any(d.grabbed for d in opened)  # released when the device went away
