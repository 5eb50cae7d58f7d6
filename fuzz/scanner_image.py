"""A frame dropped into the station's image folder, decoded without an image library
(`scanner.image_source.decode_netpbm`: binary PGM/PPM through zxing-cpp).

Documented failure: ValueError (the folder source files such an image under unreadable/).
"""

from __future__ import annotations

from scanner.image_source import decode_netpbm

MAX_LEN = 8192


def TestOneInput(data: bytes) -> None:
    try:
        texts = decode_netpbm(data)
    except ValueError:
        return
    assert all(isinstance(t, str) and t for t in texts)


def main() -> None:
    from fuzz.harness import run  # noqa: PLC0415 - atheris only when fuzzing

    run(TestOneInput)


if __name__ == "__main__":
    main()
