"""The station's spool: debounce, and no beeped scan lost when the station is killed with -9."""

from __future__ import annotations

import contextlib
import io
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.codes import looks_like_code, short_code
from gateway.core.tracking import tracking_url
from gateway.receipts import qr
from scanner.payloads import Reading, read_scan
from scanner.spool import ScanState, Spool, SpoolError
from scanner.station import CounterStation, Feedback, ScanOutcome, extract_code
from tests.conftest import Clock

ROOT = Path(__file__).resolve().parents[2]


def code(n: int) -> str:
    return f"000.00.20.H57-240423-{n:04d}"


def station_on(spool: Spool, clock: Clock, out: io.StringIO | None = None) -> CounterStation:
    return CounterStation(spool, Feedback(out or io.StringIO()), clock, debounce_seconds=1.5)


def test_double_scan_within_debounce_records_one_handoff(tmp_path: Path, clock: Clock) -> None:
    spool = Spool(tmp_path / "spool.sqlite3", "quay-1")
    out = io.StringIO()
    station = station_on(spool, clock, out)
    assert station.handle(code(1)).outcome is ScanOutcome.RECORDED
    clock.advance(0.4)
    assert station.handle(" 000.00.20.h57-240423-0001 ").outcome is ScanOutcome.REPEAT
    clock.advance(0.4)
    assert station.handle(code(2)).outcome is ScanOutcome.RECORDED  # another dossier: its own scan
    clock.advance(1.2)
    assert station.handle(code(1)).outcome is ScanOutcome.RECORDED  # 2.0 s later: a new handoff
    assert [(s.seq, s.code) for s in spool.all()] == [(1, code(1)), (2, code(2)), (3, code(1))]
    assert out.getvalue().splitlines() == [
        f"OK 1 {code(1)} đã lưu tại quầy, đang gửi lên máy chủ.",
        f"OK 1 {code(1)} quét lặp lại, chỉ tính một lần.",
        f"OK 2 {code(2)} đã lưu tại quầy, đang gửi lên máy chủ.",
        f"OK 3 {code(1)} đã lưu tại quầy, đang gửi lên máy chủ.",
    ]
    spool.close()


def test_debounce_holds_across_a_restart_of_the_station(tmp_path: Path, clock: Clock) -> None:
    spool = Spool(tmp_path / "spool.sqlite3", "quay-1")
    station_on(spool, clock).handle(code(1))
    spool.close()
    clock.advance(0.5)
    spool = Spool(tmp_path / "spool.sqlite3", "quay-1")
    assert station_on(spool, clock).handle(code(1)).outcome is ScanOutcome.REPEAT
    assert len(spool.all()) == 1
    spool.close()


def test_text_that_cannot_be_a_dossier_code_is_refused_at_once_and_not_spooled(
    tmp_path: Path, clock: Clock
) -> None:
    spool = Spool(tmp_path / "spool.sqlite3", "quay-1")
    out = io.StringIO()
    station = station_on(spool, clock, out)
    for text in ("hello", "8934567890123", "000.00.20.H57-2404"):
        assert station.handle(text).outcome is ScanOutcome.BAD
    assert spool.all() == []
    assert out.getvalue().splitlines()[0] == (
        "SAI hello: không phải mã hồ sơ. Hãy quét mã vạch hoặc mã QR trên giấy biên nhận."
    )
    spool.close()


def test_codes_are_found_in_short_form_sloppy_form_and_inside_qr_payloads() -> None:
    assert extract_code("000.00.20.h57-240423-0001") == "000.00.20.H57-240423-0001"
    assert extract_code("ooo 00 20 h57 240423 OOO1") == "0000020H572404230001"
    assert extract_code("https://hoso.example/tra-cuu/000.00.20.H57-240423-0001") == code(1)
    assert extract_code("not a code") is None


def test_every_url_a_receipt_prints_carries_its_code() -> None:
    short = short_code(42)
    assert extract_code(tracking_url("https://tracuu.example.vn", short)) == short
    assert extract_code(tracking_url("https://tracuu.example.vn/", code(1))) == code(1)
    assert extract_code(f"HTTPS://TRACUU.EXAMPLE.VN/?MA={short}") == short  # caps lock on
    assert extract_code(f"http://127.0.0.1:8080/?lang=vi&ma={short.lower()}") == short
    assert extract_code("https://tracuu.example.vn/?ma=000.00.20.h57-240423-0001") == code(1)
    assert extract_code("https://tracuu.example.vn/?ma=8935049500018") is None
    assert extract_code("https://shop.example/?q=hello") is None


def test_a_qr_payload_is_one_scan_whole_or_line_by_line() -> None:
    short = short_code(42)
    payload = qr.format_payload(
        {"MHS": code(1), "TEN": "CAP BAN SAO", "URL": f"https://t.example/?ma={short}"}
    )
    assert read_scan(payload) == Reading(code(1))
    lines = [read_scan(line) for line in payload.splitlines()]
    assert lines == [Reading(code(1)), Reading(None, qr_field=True), Reading(None, qr_field=True)]
    assert read_scan(f"URL:https://t.example/?ma={short}\nTEN:X") == Reading(short)


@given(st.text(max_size=200))
def test_any_text_read_by_a_scanner_is_a_code_or_nothing(text: str) -> None:
    reading = read_scan(text)
    assert reading.code is None or looks_like_code(reading.code)


def test_a_spool_belongs_to_one_station(tmp_path: Path) -> None:
    Spool(tmp_path / "spool.sqlite3", "quay-1").close()
    with pytest.raises(SpoolError, match="quay-1"):
        Spool(tmp_path / "spool.sqlite3", "quay-2")


def test_spool_is_wal_with_full_sync_and_replays_pending_in_seq_order(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    spool = Spool(tmp_path / "spool.sqlite3", "quay-1")
    for n in range(1, 6):
        spool.add(code(n), datetime.now(UTC))
    spool.mark_sent(2, 201)
    spool.mark_rejected(4, 404, "unknown dossier code")
    assert [s.seq for s in spool.pending()] == [1, 3, 5]
    rejected = spool.get(4)
    assert rejected is not None
    assert rejected.state is ScanState.REJECTED
    spool.mark_sent(4, 201)  # a late answer does not undo a final state
    assert spool.get(4) == rejected
    mode = spool._db.execute("PRAGMA journal_mode").fetchone()[0]
    sync = spool._db.execute("PRAGMA synchronous").fetchone()[0]
    assert (mode, sync) == ("wal", 2)
    spool.close()


# -- kill -9 ----------------------------------------------------------------------------------

SCANS = 1000
KILLS = 8


def _run_station(
    env: dict[str, str], lines: list[str], kill_after: float | None
) -> tuple[list[tuple[int, str]], bool]:
    """Feed `lines` to a station process; kill -9 it `kill_after` s after SAN_SANG (None: EOF)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "scanner.main"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    acked: list[tuple[int, str]] = []
    ready = threading.Event()

    def read(stdout: io.TextIOWrapper) -> None:
        for line in stdout:
            if line.startswith("SAN_SANG"):
                ready.set()
            elif line.startswith("OK "):
                _, seq, scanned = line.split()[:3]
                acked.append((int(seq), scanned))

    reader = threading.Thread(target=read, args=(proc.stdout,))
    reader.start()
    assert ready.wait(30)
    stop_feeding = threading.Event()

    def feed(stdin: io.TextIOWrapper) -> None:
        # A busy counter, sped up: a scan every ~4 ms.
        try:
            for i in range(0, len(lines), 5):
                if stop_feeding.is_set():
                    return
                stdin.write("".join(line + "\n" for line in lines[i : i + 5]))
                stdin.flush()
                time.sleep(0.02)
            if kill_after is None:
                stdin.close()
        except (BrokenPipeError, ValueError):
            pass  # the station was killed

    feeder = threading.Thread(target=feed, args=(proc.stdin,))
    feeder.start()
    killed = False
    if kill_after is not None:
        time.sleep(kill_after)
        os.kill(proc.pid, 9)
        killed = True
        stop_feeding.set()
    proc.wait(60)
    reader.join(10)
    feeder.join(10)
    proc.stdout.close()
    if not proc.stdin.closed:
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
    return acked, killed


@pytest.mark.slow
def test_station_killed_at_random_moments_loses_no_beeped_scan(tmp_path: Path) -> None:
    spool_path = tmp_path / "spool.sqlite3"
    env = {
        **os.environ,
        "HOSO_STATION_CONFIG": os.devnull,
        "HOSO_STATION_ID": "quay-1",
        "HOSO_STATION_KEY_ID": "st_quay1",
        "HOSO_STATION_SECRET": "not-used",
        "HOSO_STATION_GATEWAY_URL": "http://127.0.0.1:9",  # nothing listens: offline all along
        "HOSO_STATION_SPOOL_PATH": str(spool_path),
        "HOSO_STATION_BELL": "false",
    }
    codes = [code(n) for n in range(1, SCANS + 1)]
    rng = random.Random(20240423)
    acked: list[tuple[int, str]] = []
    kills = 0
    position = 0  # the counter rescans from the first code that did not beep
    rounds = 0
    while position < SCANS:
        rounds += 1
        assert rounds < 50
        kill_after = rng.uniform(0.0, 0.6) if kills < KILLS else None
        got, killed = _run_station(env, codes[position:], kill_after)
        kills += killed
        acked += got
        if got:
            position = max(position, max(codes.index(c) for _, c in got) + 1)

    spool = Spool(spool_path, "quay-1")
    rows = spool.all()
    spool.close()
    by_seq = {s.seq: s.code for s in rows}
    acked_pairs = set(acked)
    # Every beeped scan is in the spool under the seq it was announced with...
    assert all(by_seq.get(seq) == c for seq, c in acked_pairs)
    # ...every code was beeped, and each beeped scan is there exactly once.
    assert {c for _, c in acked_pairs} == set(codes)
    assert len({seq for seq, _ in acked_pairs}) == SCANS
    # seq increases with scanning order; the only extra rows are scans committed by a station
    # killed before it could beep (at most one per kill), which the counter then rescanned.
    order = [codes.index(s.code) for s in rows]
    assert order == sorted(order)
    extra = len(rows) - SCANS
    assert 0 <= extra <= kills
    assert kills == KILLS
    print(
        f"\nkill -9: scans={SCANS} kills={kills} rounds={rounds} ok_lines={len(acked)}"
        f" acknowledged={len(acked_pairs)} recorded={len(rows)} unbeeped_extra={extra}"
    )


def test_images_dropped_in_a_folder_are_decoded_into_the_spool(tmp_path: Path) -> None:
    import segno

    from scanner.image_source import ImageFolderSource, decode_netpbm

    frames = tmp_path / "frames"
    frames.mkdir()
    segno.make(code(7), error="m", micro=False).save(str(frames / "a.ppm"), kind="ppm", scale=4)
    (frames / "b.ppm").write_bytes(b"P5 2 2 255\n\x00\x00\x00\x00")  # a frame with no code
    stop = threading.Event()
    source = ImageFolderSource(frames, decode=decode_netpbm, stop=stop, poll_seconds=0.01)
    spool = Spool(tmp_path / "spool.sqlite3", "quay-1")
    station = CounterStation(spool, Feedback(io.StringIO()), time.time)
    for text in source:
        station.handle(text)
        stop.set()
    assert [s.code for s in spool.all()] == [code(7)]
    assert (frames / "done" / "a.ppm").exists()
    spool.close()
