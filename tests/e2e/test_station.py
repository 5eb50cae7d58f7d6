"""A counter station (`hoso scanner`, reading codes on stdin) against a real `hoso gateway`:
each beeped scan becomes a handoff in the dossier's record."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.conftest import Gateway
from tests.factories import registration_body


def test_scans_at_a_station_reach_the_handoff_record(gateway: Gateway, tmp_path: Path) -> None:
    tuphap = gateway.department("tuphap")
    created = tuphap.post("/api/v1/dossiers", registration_body(601)).body
    key = json.loads(gateway.hoso("keys", "create", "--station", "tp-1", "--json").stdout)
    configured = gateway.hoso(
        "stations",
        "set",
        "tp-1",
        "--desk",
        "Phòng Tư pháp",
        "--status",
        "4",
        "--allowed-hours",
        "24",
    )
    assert configured.returncode == 0, configured.stderr
    env = gateway.env | {
        "HOSO_STATION_ID": "tp-1",
        "HOSO_STATION_KEY_ID": key["key_id"],
        "HOSO_STATION_SECRET": key["secret"],
        "HOSO_STATION_GATEWAY_URL": gateway.base,
        "HOSO_STATION_SOURCE": "stdin",
        "HOSO_STATION_SPOOL_PATH": str(tmp_path / "spool.sqlite3"),
        "HOSO_STATION_STAFF": "Minh",
        "HOSO_STATION_BELL": "false",
    }
    station = subprocess.Popen(
        [sys.executable, "-m", "hoso.cli", "scanner"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert station.stdin is not None
    assert station.stdout is not None
    try:
        assert station.stdout.readline().startswith("READY")
        station.stdin.write(created["short_code"].lower() + "\n")  # as a 1D scanner reads it
        station.stdin.write("not a code\n")
        station.stdin.flush()
        assert station.stdout.readline().startswith("OK 1 ")
        assert station.stdout.readline().startswith("BAD ")
        deadline = time.monotonic() + 20
        while True:
            record = tuphap.get(f"/api/v1/dossiers/{created['code']}/handoffs").body["handoffs"]
            if record:
                break
            assert time.monotonic() < deadline, "the scan never reached the gateway"
            time.sleep(0.2)
        assert record[-1]["to_desk"] == "Phòng Tư pháp"
        assert record[-1]["received_by"] == "Minh"
        read = tuphap.get(f"/api/v1/dossiers/{created['code']}").body
        assert read["status"]["code"] == 4  # the station implies "processing"
        assert read["holder"] == "Phòng Tư pháp"
    finally:
        station.stdin.close()
        station.terminate()
        station.wait(15)
        station.stdout.close()
