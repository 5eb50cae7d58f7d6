"""Control channel of a running bank: JSON lines over the Unix socket DIR/control.sock.

Requests: {"op": "ping"} | {"op": "modems"} |
{"op": "sms", "modem": id, "from": number, "text": text} |
{"op": "sent", "modem": id or null, "parts": bool} |
{"op": "fault", "modem": id, "fault": name, "args": [str, ...]}.
Answers: {"ok": true, ...} or {"ok": false, "error": "..."}.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import socketserver
import threading
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modem.emulator.bank import Bank

log = logging.getLogger(__name__)

FAULTS = (
    "errors SHARE [CODE...]",
    "hang on|off",
    "network lost|ok",
    "unplug",
    "replug",
    "noise SHARE",
    "garbage [HEX]",
    "latency SECONDS",
    "urc-mode polite|realistic",
    "echo-stuck on|off",
    "cpin-no-ok on|off",
    "boot-busy SECONDS",
    "vendor-urcs SECONDS",
    "urc-in-response on|off",
    "capacity N [SM|ME]",
    "balance VND|none [PRICE]",
    "ussd TEXT|usual",
    "clear",
)


class BadRequest(ValueError):
    """A control request that cannot be carried out."""


def _on(args: list[str]) -> bool:
    if not args or args[0] not in ("on", "off", "lost", "ok"):
        raise BadRequest("expected on|off")
    return args[0] in ("on", "lost")


def _number(args: list[str]) -> float:
    try:
        return float(args[0])
    except (IndexError, ValueError) as exc:
        raise BadRequest("expected a number") from exc


def apply_fault(bank: Bank, modem_id: str, fault: str, args: list[str]) -> None:
    bank.device(modem_id)
    if fault == "errors":
        codes = [int(a) for a in args[1:]] or [500]
        bank.fail_sends(modem_id, _number(args), codes)
    elif fault == "hang":
        bank.hang(modem_id, _on(args))
    elif fault in ("network", "network-loss"):
        bank.lose_network(modem_id, _on(args))
    elif fault == "unplug":
        bank.unplug(modem_id)
    elif fault == "replug":
        bank.replug(modem_id)
    elif fault == "noise":
        bank.add_noise(modem_id, _number(args))
    elif fault == "garbage":
        bank.inject_bytes(modem_id, bytes.fromhex(args[0]) if args else b"\r\n\xff\xfe\xc3(\r\n")
    elif fault == "latency":
        bank.set_latency(_number(args), modem_id)
    elif fault == "urc-mode":
        bank.set_urc_mode(args[0] if args else "", modem_id)
    elif fault == "echo-stuck":
        bank.set_quirks(modem_id, echo_stuck=_on(args))
    elif fault == "cpin-no-ok":
        bank.set_quirks(modem_id, cpin_without_ok=_on(args))
    elif fault == "urc-in-response":
        bank.set_quirks(modem_id, urc_in_response=_on(args))
    elif fault == "boot-busy":
        bank.set_quirks(modem_id, boot_busy_seconds=_number(args))
    elif fault == "vendor-urcs":
        bank.set_quirks(modem_id, vendor_urc_interval=_number(args))
    elif fault == "capacity":
        bank.set_storage_capacity(modem_id, int(_number(args)), args[1] if len(args) > 1 else "SM")
    elif fault == "balance":
        vnd = None if args and args[0] == "none" else int(_number(args))
        bank.set_balance(modem_id, vnd, int(args[1]) if len(args) > 1 else None)
    elif fault == "ussd":
        text = " ".join(args)
        bank.set_ussd_answer(modem_id, None if text in ("", "usual") else text)
    elif fault == "clear":
        bank.clear_faults(modem_id)
    else:
        raise BadRequest(f"unknown fault {fault!r}; known: {'; '.join(FAULTS)}")


def handle(bank: Bank, request: dict[str, Any]) -> dict[str, Any]:
    op = request.get("op")
    if op == "ping":
        return {"ok": True}
    if op == "modems":
        return {"ok": True, "modems": {m: str(bank.port(m)) for m in bank.ids}}
    if op == "sms":
        indexes = bank.inject_sms(str(request["modem"]), str(request["from"]), str(request["text"]))
        return {"ok": True, "indexes": indexes}
    if op == "sent":
        records = bank.sent(request.get("modem"), bool(request.get("parts")))
        return {"ok": True, "sent": [asdict(r) for r in records]}
    if op == "fault":
        args = [str(a) for a in request.get("args", [])]
        apply_fault(bank, str(request["modem"]), str(request["fault"]), args)
        return {"ok": True}
    raise BadRequest(f"unknown op {op!r}")


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        for raw in self.rfile:
            try:
                answer = handle(self.server.bank, json.loads(raw))
            except (BadRequest, KeyError, ValueError, TypeError) as exc:
                answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            self.wfile.write((json.dumps(answer, ensure_ascii=False) + "\n").encode())
            self.wfile.flush()


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    bank: Bank


class ControlServer:
    def __init__(self, bank: Bank, path: Path) -> None:
        self.path = path
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self._server = _Server(str(path), _Handler)
        self._server.bank = bank
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class ControlError(RuntimeError):
    """The running emulator could not be reached or refused the request."""


def request(directory: Path, payload: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
    """Send one request to the bank running in `directory`."""
    path = directory / "control.sock"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall((json.dumps(payload, ensure_ascii=False) + "\n").encode())
            with sock.makefile("rb") as fh:
                line = fh.readline()
    except OSError as exc:
        raise ControlError(f"no emulator answering on {path}: {exc}") from exc
    answer: dict[str, Any] = json.loads(line)
    if not answer.get("ok"):
        raise ControlError(str(answer.get("error")))
    return answer


class Connection:
    """One lasting connection to the bank running in `directory` (JSON lines both ways), for
    load generators that send many requests; `request` is the one-off form."""

    def __init__(self, directory: Path, timeout: float = 10.0) -> None:
        self.path = directory / "control.sock"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(str(self.path))
        except OSError as exc:
            self._sock.close()
            raise ControlError(f"no emulator answering on {self.path}: {exc}") from exc
        self._reader = self._sock.makefile("rb")

    def request(self, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            self._sock.sendall((json.dumps(payload, ensure_ascii=False) + "\n").encode())
            line = self._reader.readline()
        except OSError as exc:
            raise ControlError(f"the emulator on {self.path} went away: {exc}") from exc
        if not line:
            raise ControlError(f"the emulator on {self.path} closed the connection")
        answer: dict[str, Any] = json.loads(line)
        if not answer.get("ok"):
            raise ControlError(str(answer.get("error")))
        return answer

    def sms(self, modem: str, sender: str, text: str) -> dict[str, Any]:
        """A citizen's SMS arriving at `modem`; the answer's `indexes` are where its parts were
        stored (None for a part the full SIM refused)."""
        return self.request({"op": "sms", "modem": modem, "from": sender, "text": text})

    def close(self) -> None:
        self._reader.close()
        self._sock.close()
