"""An uploaded receipt photo (`gateway.receipts.decode.decode_image`): arbitrary bytes must give
`NotAnImage` or a (possibly empty) list of checked codes, never another exception.

Pillow and zxing-cpp are C code atheris does not see into; the coverage is our checks around
them. Invariant: every code returned is one of ours (pattern or short-code check).
"""

from __future__ import annotations

from gateway.core.codes import CODE_PATTERN, is_short_code
from gateway.receipts.decode import NotAnImage, decode_image

MAX_LEN = 16384


def TestOneInput(data: bytes) -> None:
    try:
        found = decode_image(data)
    except NotAnImage:
        return
    for code in found:
        if code.kind == "full":
            assert CODE_PATTERN.fullmatch(code.text), code
        else:
            assert is_short_code(code.text), code


def main() -> None:
    from fuzz.harness import run  # noqa: PLC0415 - atheris only when fuzzing

    run(TestOneInput)


if __name__ == "__main__":
    main()
