"""How every hoso process logs: configured once, in its `main()`, by `configure_logging`.

One event is one line on stderr (journald stamps and rotates it). Logged values come from
outside (a username typed at the login page, a key id in a header, a phone number, an SMS): a
value with a newline would forge a second event, an ANSI escape would rewrite the operator's
terminal. So every message is escaped after its values are put in — CR, LF, TAB and every other
C0 or C1 control character, DEL, and the Unicode line and paragraph separators and direction
overrides become ``\\n``, ``\\r``, ``\\t``, ``\\x1b``, ``\\u2028``... — and the lines of a
traceback that follows are indented, so that none of them can pass for an event of its own.

Libraries whose routine chatter would drown the events are held at WARNING (`QUIET`): RQ logs
every job it runs and every 5-second tick of the cron scheduler.
"""

from __future__ import annotations

import logging
import sys
import threading
from types import TracebackType

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
QUIET = ("rq",)  # loggers whose INFO lines are routine: their warnings and errors still show

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_CONTROLS = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]
_UNICODE = [0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
ESCAPES: dict[int, str] = {
    **{c: _NAMED.get(chr(c), f"\\x{c:02x}") for c in _CONTROLS},
    **{c: f"\\u{c:04x}" for c in _UNICODE},
}
CONTINUATION = "    | "  # starts every line of a traceback under its event


def escape(text: str) -> str:
    """`text` on one line, control characters written out."""
    return text.translate(ESCAPES)


class OneLineFormatter(logging.Formatter):
    """Formats an event as one line, whatever its values hold; tracebacks follow indented."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: object) -> str:
        return _indented(super().formatException(ei))  # type: ignore[arg-type]

    def formatStack(self, stack_info: str) -> str:
        return _indented(super().formatStack(stack_info))


def _indented(text: str) -> str:
    return "\n".join(CONTINUATION + escape(line) for line in text.splitlines())


def configure_logging(level: int | str = logging.INFO, fmt: str = FORMAT) -> None:
    """Root logging to stderr through `OneLineFormatter`. Like `logging.basicConfig`, it adds
    no handler where the root logger has one already (a process's `main()` called by the `hoso`
    command's, or by a test): the first configuration stands."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(OneLineFormatter(fmt))
        root.addHandler(handler)
        root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    # Python prints an uncaught exception's traceback to stderr itself, unescaped (a value in
    # its message could forge events): it goes through the log instead, in the main thread and
    # in every other (the modem owners', the carrier links').
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def _log_uncaught(
    kind: type[BaseException], error: BaseException, tb: TracebackType | None
) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, tb)
        return
    logging.getLogger("hoso").critical(
        "process.uncaught error=%s", kind.__name__, exc_info=(kind, error, tb)
    )


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return  # as Python's own hook: a thread that exits is no error
    name = args.thread.name if args.thread is not None else "?"
    logging.getLogger("hoso").error(
        "thread.uncaught thread=%s error=%s",
        name,
        args.exc_type.__name__,
        exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback),
    )
