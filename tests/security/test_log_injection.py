"""Issue 11, low: a username with a newline forged a log line. Every process logs through
`config.logs.configure_logging`, which escapes control characters in every event: whatever a
value holds, one event is one line, and no value can rewrite the operator's terminal.

Through real processes: the gateway logging a failed login, the `hoso keys` CLI logging an
unknown key id; then the formatter itself, on what else a value can hold."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.logs import OneLineFormatter, escape
from tests.e2e.conftest import Gateway, running_gateway
from tests.security.dashboard import Visitor

FORGED = "2026-01-01 00:00:00,000 info gateway.http.admin admin.login user=admin role=admin"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="module")
def gateway(home: Path) -> Iterator[Gateway]:
    with running_gateway(home, HOSO_ADMIN_SESSION_KEY_FILE=str(home / "session.key")) as running:
        yield running


def lines_of(path: Path, marker: str, timeout: float = 30) -> list[str]:
    """The lines of `path` holding `marker`, once there is one (the gateway writes its log
    from another process)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in path.read_text().splitlines() if marker in line]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


@pytest.mark.slow
def test_a_username_with_a_newline_makes_one_line_in_the_gateways_log(
    gateway: Gateway, home: Path
) -> None:
    visitor = Visitor(gateway.base)
    username = f"ghost\n{FORGED}\r\x1b[2Kdone"
    answer = visitor.log_in(username, "sai")
    assert answer.status == 401
    mentioned = lines_of(home / "gateway.log", "ghost")
    assert len(mentioned) == 1, mentioned
    assert "admin.login" in mentioned[0]
    assert "ghost\\n2026-01-01" in mentioned[0]
    assert "\\r\\x1b[2kdone" in mentioned[0]
    log = (home / "gateway.log").read_text()
    assert not [line for line in log.splitlines() if line.startswith(FORGED[:23])]
    assert "\x1b" not in log


def test_a_key_id_with_a_newline_makes_one_line_in_the_clis_log(gateway: Gateway) -> None:
    key_id = "dep_x\n2026-01-01 00:00:00,000 INFO hoso.keys keys.revoked key_id=dep_y\x1b[31m"
    revoked = gateway.hoso("keys", "revoke", key_id)
    assert revoked.returncode == 1
    lines = revoked.stderr.splitlines()
    logged = [line for line in lines if "keys.revoke_unknown" in line]
    assert len(logged) == 1, lines
    assert logged[0].endswith(
        "key_id=dep_x\\n2026-01-01 00:00:00,000 INFO hoso.keys keys.revoked key_id=dep_y\\x1b[31m"
    )
    assert not [line for line in lines if line.startswith("2026-01-01")]
    assert "\x1b" not in revoked.stderr


def record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise ValueError("bad value\nINFO forged line")
        except ValueError:
            info = sys.exc_info()
    return logging.LogRecord("hoso.test", logging.INFO, __file__, 1, message, args, info)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("a\nb", "a\\nb"),
        ("a\r\nb", "a\\r\\nb"),
        ("a\tb", "a\\tb"),
        ("\x1b[2J\x1b]0;title\x07", "\\x1b[2J\\x1b]0;title\\x07"),
        ("\x00\x7f", "\\x00\\x7f"),
        ("\x85\x9b31m", "\\x85\\x9b31m"),  # C1: NEL, CSI
        ("a\u2028b\u2029c", "a\\u2028b\\u2029c"),  # Unicode line and paragraph separators
        ("\u202eevil\u2066", "\\u202eevil\\u2066"),  # direction overrides
        ("Nguyễn Văn An đ ✓ 😀", "Nguyễn Văn An đ ✓ 😀"),  # text stays as it is
    ],
)
def test_every_control_character_in_a_value_is_written_out(value: str, shown: str) -> None:
    assert escape(value) == shown
    formatted = OneLineFormatter("%(message)s").format(record("user=%s", value))
    assert formatted == f"user={shown}"


def test_a_traceback_follows_its_event_indented_so_no_line_of_it_passes_for_an_event() -> None:
    formatted = OneLineFormatter("%(levelname)s %(message)s").format(
        record("job.failed id=%s", "7\nINFO forged", exc=True)
    )
    first, *rest = formatted.splitlines()
    assert first == "INFO job.failed id=7\\nINFO forged"
    assert rest
    assert all(line.startswith("    | ") for line in rest)
    assert rest[-2:] == ["    | ValueError: bad value", "    | INFO forged line"]


UNCAUGHT = """
import threading
from config.logs import configure_logging

configure_logging()

def fail():
    raise ValueError("in a thread\\n2026-01-01 00:00:00,000 INFO forged.thread")

worker = threading.Thread(target=fail, name="owner-m1")
worker.start()
worker.join()
raise RuntimeError("in main\\r\\n2026-01-01 00:00:00,000 INFO forged.main\\x1b[2J")
"""


def test_an_uncaught_exception_in_any_thread_is_logged_escaped_not_printed_raw() -> None:
    """Python prints what nobody catches itself; a process that configured its logging logs
    it instead, as one event with the traceback indented under it."""
    done = subprocess.run(
        [sys.executable, "-c", UNCAUGHT], check=False, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    events = [line for line in lines if not line.startswith("    | ")]
    assert len(events) == 2, lines
    assert "ERROR hoso thread.uncaught thread=owner-m1 error=ValueError" in events[0]
    assert "CRITICAL hoso process.uncaught error=RuntimeError" in events[1]
    assert not [line for line in lines if line.startswith("2026-01-01")]
    assert "\x1b" not in done.stderr
    assert "    | RuntimeError: in main" in lines
