"""A counter station as the clerk runs it: `hoso scanner` reading codes on stdin (a keyboard-wedge
scanner types the same), its lines read as they come; and what a scanner reads off a printed
receipt."""

from __future__ import annotations

import io
import json
import queue
import subprocess
import sys
import threading
from pathlib import Path

import zxingcpp
from PIL import Image

from tests.e2e.conftest import Gateway
from tests.signing import HttpClient

WAIT = 60.0  # seconds a line may take on a loaded machine before the test gives up


class StationProcess:
    """`hoso scanner` on stdin; its lines are read as they come."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log.open("ab")  # the station's own log, for when a line is not the one expected
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hoso.cli", "scanner"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            encoding="utf-8",
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def line(self) -> str:
        line = self.lines.get(timeout=WAIT)
        assert line is not None, "the station stopped"
        return line

    def scan(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        """End of input: the station finishes and exits."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait(15)
        self.reader.join(15)
        assert self.process.stdout is not None
        self.process.stdout.close()
        self.log.close()


def station_env(gateway: Gateway, station_id: str, spool: Path, **more: str) -> dict[str, str]:
    made = gateway.hoso("keys", "create", "--station", station_id, "--json")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)
    return gateway.env | {
        "HOSO_STATION_ID": station_id,
        "HOSO_STATION_KEY_ID": key["key_id"],
        "HOSO_STATION_SECRET": key["secret"],
        "HOSO_STATION_GATEWAY_URL": gateway.base,
        "HOSO_STATION_SOURCE": "stdin",
        "HOSO_STATION_SPOOL_PATH": str(spool),
        "HOSO_STATION_BELL": "false",
        "HOSO_STATION_HTTP_TIMEOUT": "60",  # a loaded machine answers late, not never
        **more,
    }


def barcodes(png: bytes) -> dict[str, str]:
    """What a scanner reads off a printed receipt: the text of each barcode, by format."""
    image = Image.open(io.BytesIO(png)).convert("L")
    formats = zxingcpp.BarcodeFormats(
        [zxingcpp.BarcodeFormat.Code128, zxingcpp.BarcodeFormat.QRCodeModel2]
    )
    found = zxingcpp.read_barcodes(image, formats=formats)
    return {"QR" if "QR" in b.format.name else b.format.name: str(b.text) for b in found}


def receipt_png(tuphap: HttpClient, code: str) -> bytes:
    answer = tuphap.session.get(
        tuphap.base + f"/api/v1/dossiers/{code}/receipt",
        headers=tuphap.signer.headers("GET", f"/api/v1/dossiers/{code}/receipt", b""),
        timeout=30,
    )
    assert answer.status_code == 200
    return answer.content
