"""A keyboard-wedge scanner's key events (`scanner.evdev_source.KeyDecoder`): every three bytes
are one (type, code, value) input event; SYN_DROPPED makes the decoder read the held keys back
from the device (here: from the input too). Codes go to the station as in `scanner_serial`.

Documented failures: none. Invariant: a code is made only of characters of the key map.
"""

from __future__ import annotations

from collections.abc import Iterable

from fuzz.scanner_serial import seen_by_station
from scanner.evdev_source import EV_KEY, EV_SYN, KEYMAP, KeyDecoder

MAX_LEN = 3000
TERMINATORS = ("cr", "tab", "none")
TYPED = frozenset(ch for pair in KEYMAP.values() for ch in pair)


def TestOneInput(data: bytes) -> None:
    if len(data) < 2:
        return
    held = {data[1]}

    def device_state() -> tuple[Iterable[int], bool]:
        return held, bool(data[1] & 1)

    decoder = KeyDecoder(TERMINATORS[data[0] % 3], bool(data[0] & 4), device_state)
    codes: list[str] = []
    for i in range(2, len(data) - 2, 3):
        kind, code, value = data[i], data[i + 1], data[i + 2]
        type_ = (EV_SYN, EV_KEY, EV_KEY, 4)[kind % 4]  # 4: EV_MSC, as scanners also send
        if type_ == EV_SYN:
            code %= 4
        found = decoder.feed(type_, code, value % 3 if kind < 128 else value)
        if found is not None:
            codes.append(found)
    last = decoder.flush()
    if last is not None:
        codes.append(last)
    for found in codes:
        assert found, codes
        assert set(found) <= TYPED, found
        seen_by_station(found)


def main() -> None:
    from fuzz.harness import run  # noqa: PLC0415 - atheris only when fuzzing

    run(TestOneInput)


if __name__ == "__main__":
    main()
