"""What every target's `main()` does: instrument the project's code and hand over to atheris."""

from __future__ import annotations

import gc
import logging
import sys
import types
from collections.abc import Callable

# Coverage is collected from our own code only: the standard library and the C extensions
# (Pillow, zxing-cpp) would only slow every run down.
PACKAGES = frozenset({"modem", "gateway", "scanner", "fuzz"})


def _ours(obj: object) -> bool:
    if not isinstance(obj, types.FunctionType):
        return False
    module = obj.__module__ or ""
    return module.split(".", 1)[0] in PACKAGES and obj.__module__ in sys.modules


def run(test_one_input: Callable[[bytes], None], argv: list[str] | None = None) -> None:
    """libFuzzer's command line in `argv` (corpus directories, -max_total_time=, -runs= ...)."""
    import atheris  # noqa: PLC0415 - an optional extra (`pip install .[fuzz]`), never needed by tests

    logging.disable(logging.CRITICAL)  # the parsers log what they skip: millions of lines here
    atheris.Setup(list(sys.argv if argv is None else argv), test_one_input)
    functions = [obj for obj in gc.get_objects() if _ours(obj)]
    for fn in functions:
        atheris.instrument_func(fn)
    print(f"INFO: instrumented {len(functions)} project functions", file=sys.stderr)
    atheris.Fuzz()
