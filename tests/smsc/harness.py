"""The test SMSC (tests/smsc/smsc.js, node-smpp's server) as a child process of a test or bench.

It is installed by `make setup` (`npm ci --prefix tests/smsc`, from package-lock.json). A test
starts it on free ports, commands it over its control port (an SMS from a citizen, a burst of
throttling, a failed delivery), reads its ledger (what it received and answered) and may kill and
restart it on the same ports and ledger, as a carrier's SMSC restarts.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "smsc.js"
Entry = dict[str, Any]


class SmscMissing(RuntimeError):
    """node or the SMSC's npm package is not installed (`make setup` installs them)."""


def node() -> str:
    found = shutil.which("node")
    if found is None:
        raise SmscMissing("node is not installed: the SMPP tests run node-smpp's server")
    if not (HERE / "node_modules" / "smpp").is_dir():
        raise SmscMissing(
            f"{HERE}/node_modules/smpp is missing: run `make setup` (npm ci --prefix tests/smsc)"
        )
    return found


class Smsc:
    def __init__(
        self,
        workdir: Path,
        users: Mapping[str, str],
        *,
        ids: str = "hex",
        receipts: str = "both",
        receipt_delay_ms: int = 0,
        packed: bool = False,
        max_tps: int = 0,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.ledger_path = workdir / "smsc-ledger.jsonl"
        self.log_path = workdir / "smsc.log"
        self.users = dict(users)
        self.options = {
            "ids": ids,
            "receipts": receipts,
            "receipt_delay_ms": receipt_delay_ms,
            "packed": packed,
            "max_tps": max_tps,
        }
        self.port = 0
        self.control_port = 0
        self.process: subprocess.Popen[bytes] | None = None

    # -- the process ----------------------------------------------------------------------

    def start(self) -> Smsc:
        """Starts it (on the ports of its first start, when it is a restart)."""
        args = [
            node(),
            str(SCRIPT),
            "--port",
            str(self.port),
            "--control-port",
            str(self.control_port),
            "--ledger",
            str(self.ledger_path),
            "--ids",
            str(self.options["ids"]),
            "--receipts",
            str(self.options["receipts"]),
            "--receipt-delay",
            str(self.options["receipt_delay_ms"]),
            "--max-tps",
            str(self.options["max_tps"]),
        ]
        if self.options["packed"]:
            args.append("--packed")
        for system_id, password in self.users.items():
            args += ["--user", f"{system_id}:{password}"]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL
        )
        log.close()
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(10)
            raise RuntimeError(f"the SMSC did not start: {self.log_path.read_text()[-2000:]}")
        ports = json.loads(line)
        self.port, self.control_port = int(ports["smpp"]), int(ports["control"])
        return self

    def kill(self) -> None:
        """kill -9: sessions cut, receipts and SMS not yet delivered are lost, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self._close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._close()

    def restart(self) -> None:
        self.kill()
        self.start()

    def _close(self) -> None:
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> Smsc:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- control --------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.control_port}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def ledger(self, event: str | None = None) -> list[Entry]:
        entries: list[Entry] = self._call("GET", "/ledger")
        return [e for e in entries if event is None or e["event"] == event]

    def status(self) -> dict[str, Any]:
        found: dict[str, Any] = self._call("GET", "/status")
        return found

    def mo(
        self,
        sender: str,
        to: str,
        text: str,
        *,
        coding: str = "gsm7",
        split: str | None = None,
        part_size: int | None = None,
        ref: int | None = None,
        reverse: bool = False,
        system_id: str | None = None,
        label: str | None = None,
    ) -> int:
        """A citizen's SMS to the link's number: how many deliver_sm it makes."""
        body: dict[str, Any] = {"from": sender, "to": to, "text": text, "coding": coding}
        for key, value in (
            ("split", split),
            ("part_size", part_size),
            ("ref", ref),
            ("system_id", system_id),
            ("label", label),
        ):
            if value is not None:
                body[key] = value
        if reverse:
            body["reverse"] = True
        return int(self._call("POST", "/mo", body)["queued"])

    def throttle(self, count: int, status: str = "ESME_RTHROTTLED") -> None:
        """The next `count` submit_sm are refused with `status`."""
        self._call("POST", "/throttle", {"count": count, "status": status})

    def fate(self, destination: str, stat: str) -> None:
        """Receipts for `destination` (as the link writes it) say `stat`, e.g. UNDELIV."""
        self._call("POST", "/fate", {"destination": destination, "stat": stat})

    def hold_receipts(self, hold: bool) -> None:
        """Keep receipts back (True) or let them go (False)."""
        self._call("POST", "/receipts", {"hold": hold})

    def wait(
        self, check: Callable[[list[Entry]], bool], timeout: float = 30.0, what: str = "ledger"
    ) -> list[Entry]:
        """The ledger once `check` holds for it (polled), else AssertionError."""
        deadline = time.monotonic() + timeout
        while True:
            entries = self.ledger()
            if check(entries):
                return entries
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; ledger ends {entries[-5:]}")
            time.sleep(0.05)


def submits(entries: list[Entry]) -> list[Entry]:
    """The submit_sm the SMSC accepted."""
    return [e for e in entries if e["event"] == "submit_sm" and e["status"] == 0]


def reassemble(parts: list[Entry]) -> str:
    """The text of one long message from its accepted submit_sm (UDH or SAR order)."""

    def seq(e: Entry) -> int:
        if e.get("sar"):
            return int(e["sar"]["seq"])
        if e.get("udh"):
            return int(e["udh"][-2:], 16)  # IEI 00: ref, total, seq
        return 0

    return "".join(e["text"] for e in sorted(parts, key=seq))
