"""A whole installation as `hoso up` runs it, for the tests that follow a person through it: a
real redis-server, `hoso gateway` under gunicorn, `hoso worker`, `hoso cron`, the GSM modem
emulator (`hoso sim start`) and the modem service driving its two modems (`hoso modem`), each a
process of its own. Citizens' phones text the emulated modems and read what came back over the
air from the emulator's ledger, as `hoso sim sent` shows it.

Nothing here waits for a duration: every wait is for something a person could observe (an SMS on
the ledger, a modem reported up, a page answering), with a deadline generous enough for a
loaded two-core machine.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.core.phones import normalise_phone
from gateway.store.modems import ModemRegistry
from tests.e2e.conftest import Gateway, running_gateway
from tests.signing import HttpClient

WAIT = 90.0  # seconds something a person waits for may take on a loaded machine
MODEMS = ("m1", "m2")
# Caps high enough that no journey waits for a modem's per-minute allowance.
HIGH_CAPS = {"per_minute": 1000, "per_hour": 10_000, "per_day": 100_000}
# What the stack runs with unless a journey says otherwise: notices coalesce for a second (not
# two minutes), and there are no quiet hours (a journey may run at any hour).
SETTINGS = {
    "HOSO_SMS_COALESCE_SECONDS": "1",
    "HOSO_SMS_QUIET_START": "00:00",
    "HOSO_SMS_QUIET_END": "00:00",
}


def eventually(check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Waits until `check()` is true (polled), failing with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not seen within {timeout:.0f} s: {what}"
        time.sleep(0.1)


@dataclass
class Stack:
    gateway: Gateway
    sim: Path
    home: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    modems: tuple[str, ...] = MODEMS

    @property
    def base(self) -> str:
        return self.gateway.base

    @property
    def env(self) -> dict[str, str]:
        return self.gateway.env

    def hoso(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """`hoso ...` as an operator types it on the installation's host."""
        return subprocess.run(
            [sys.executable, "-m", "hoso.cli", *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def department(self, name: str) -> HttpClient:
        """A department's system, with the key an administrator made for it."""
        return self.gateway.department(name)

    def phone(self, number: str) -> Phone:
        return Phone(self, number)

    def sim_command(self, *args: str) -> None:
        """`hoso sim ...` against the running emulator (inject an SMS, switch a fault)."""
        done = self.hoso("sim", args[0], "--dir", str(self.sim), *args[1:])
        assert done.returncode == 0, done.stderr

    def sent(self) -> list[dict[str, Any]]:
        """Every whole SMS that went over the air, in the order it went (`hoso sim sent`)."""
        path = self.sim / "ledger.jsonl"
        if not path.exists():
            return []
        lines = path.read_text(encoding="utf-8").splitlines()
        records = []
        for line in lines:
            with contextlib.suppress(json.JSONDecodeError):  # a line being written
                records.append(json.loads(line))
        return [r for r in records if r["kind"] == "message"]

    def modems_up(self) -> bool:
        registry = ModemRegistry(self.gateway.redis.client())
        return all(registry.health(m).get("state") == "up" for m in self.modems)


class Phone:
    """A citizen's phone: it texts the office's modems and reads, one by one, the SMS that reach
    it (the emulator's ledger is the air)."""

    def __init__(self, stack: Stack, number: str) -> None:
        self.stack = stack
        self.number = number
        self.e164 = normalise_phone(number)
        self.read = 0  # SMS read so far

    def send(self, text: str, modem: str = "m1") -> None:
        self.stack.sim_command("sms", "--modem", modem, "--from", self.number, text)

    def _arrived(self) -> list[dict[str, Any]]:
        return [r for r in self.stack.sent() if r["to"] == self.e164]

    def receive(self, timeout: float = WAIT) -> dict[str, Any]:
        """The next SMS to this phone (its `text` and the `modem` it left from)."""
        return self.receive_several(1, timeout)[0]

    def receive_several(self, count: int, timeout: float = WAIT) -> list[dict[str, Any]]:
        """The next `count` SMS to this phone, in the order they arrived."""
        wanted = self.read + count
        eventually(
            lambda: len(self._arrived()) >= wanted,
            f"{count} more SMS to {self.number} (read {self.read})",
            timeout,
        )
        got = self._arrived()[self.read : wanted]
        self.read = wanted
        return got

    def reads(self, text: str, modem: str | None = None) -> None:
        """The next SMS to this phone says exactly `text` (from `modem`, if given)."""
        sms = self.receive()
        assert sms["text"] == text
        if modem is not None:
            assert sms["modem"] == modem, sms

    def reads_together(self, *texts: str) -> None:
        """The next SMS say exactly these texts, in whichever order the modems sent them (SMS
        queued at the same moment leave through two modems at once)."""
        got = [sms["text"] for sms in self.receive_several(len(texts))]
        assert Counter(got) == Counter(texts), got

    def unread(self) -> list[str]:
        """What reached the phone and was not read yet (no wait)."""
        return [r["text"] for r in self._arrived()[self.read :]]


@contextlib.contextmanager
def running_stack(
    home: Path, high_caps: bool = True, modems: tuple[str, ...] = MODEMS, **settings: str
) -> Iterator[Stack]:
    """Everything `hoso up` runs, each process on its own, on a Redis of its own; `settings`
    are HOSO_<SECTION>_<KEY> variables over `SETTINGS`. `high_caps`: the modems' sending caps
    raised live (as `hoso modems set` does) so that nothing waits for an allowance; without,
    the modems are as `make run` leaves them. `modems`: the emulated modems' ids (m1..mN)."""
    with running_gateway(home, **(SETTINGS | settings)) as gateway:
        sim = home / "sim"
        stack = Stack(gateway, sim, home, modems=modems)
        log = (home / "processes.log").open("ab")
        commands = {
            "sim": [
                *("sim", "start", "--modems", str(len(modems)), "--dir", str(sim)),
                *("--fresh", "--status-report-delay", "0.5"),
            ],
            "modem": ["modem", "--sim-dir", str(sim)],
            "worker": ["worker"],
            "cron": ["cron"],
        }
        registry = ModemRegistry(gateway.redis.client())
        for modem in modems if high_caps else ():
            registry.change(modem, **HIGH_CAPS)
        try:
            for name, argv in commands.items():
                stack.processes[name] = subprocess.Popen(
                    [sys.executable, "-m", "hoso.cli", *argv],
                    env=gateway.env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                )
                if name == "sim":
                    eventually(
                        lambda: all((sim / m).is_symlink() for m in modems),
                        "the emulated modems' devices",
                    )
            eventually(stack.modems_up, "every modem reported up by the modem service")
            yield stack
        finally:
            for process in reversed(stack.processes.values()):
                process.terminate()
            for process in stack.processes.values():
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            log.close()
