"""`hoso scanner`: the counter station daemon, wired from its settings.

The CLI calls ``main(load_station_settings())``; ``python -m scanner.main`` does the same (tests
run the station that way). Feedback goes to stdout, logs to stderr.

At start the station asks the gateway which desk it stands for (``GET /api/v1/stations/me``)
and shows it; offline, it shows the desk the gateway said last time, and says so.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from types import FrameType

from config.loader import ConfigError
from config.logs import configure_logging
from scanner import messages
from scanner.config import StationSettings, load_station_settings
from scanner.evdev_source import EvdevSource
from scanner.image_source import ImageFolderSource
from scanner.line_source import LineSource
from scanner.serial_source import SerialSource
from scanner.spool import Spool, SpoolError
from scanner.station import CounterStation, Feedback
from scanner.uploader import Uploader, UrllibTransport

log = logging.getLogger(__name__)


def open_source(settings: StationSettings, stop: threading.Event) -> Iterable[str]:
    kind, target = settings.source_kind(), settings.source_target()
    if kind == "serial":
        return SerialSource(
            target,
            baudrate=settings.baudrate,
            terminator=settings.terminator,
            idle_seconds=settings.idle_seconds,
            stop=stop,
        )
    if kind == "evdev":
        return EvdevSource(
            target, terminator=settings.terminator, idle_seconds=settings.idle_seconds, stop=stop
        )
    if kind == "images":
        return ImageFolderSource(target, stop=stop)
    return LineSource(sys.stdin)


def main(settings: StationSettings) -> int:
    configure_logging(fmt="%(levelname)s %(name)s %(message)s")
    try:
        spool = Spool(settings.spool_path, settings.id)
    except SpoolError as exc:
        print(f"hoso scanner: {exc}", file=sys.stderr)
        return 2
    feedback = Feedback(sys.stdout, bell=settings.bell)
    uploader = Uploader(
        spool,
        settings.gateway_url,
        settings.key_id,
        settings.secret,
        time.time,
        transport=UrllibTransport(settings.http_timeout),
        events=feedback,
        retry_max=settings.retry_max_seconds,
    )
    station = CounterStation(
        spool,
        feedback,
        time.time,
        debounce_seconds=settings.debounce_seconds,
        staff=settings.staff,
        on_recorded=uploader.wake,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, _interrupt)
    info = uploader.fetch_station()  # waits at most http_timeout, like an upload
    if info.desk is not None:
        spool.remember_desk(info.desk, datetime.now(UTC))
    feedback.show(
        messages.ready(
            settings.id,
            settings.source,
            spool.count_pending(),
            info.desk,
            spool.last_desk(),
            key_refused=info.refused,
        )
    )
    upload_thread = threading.Thread(
        target=uploader.run, args=(stop,), name="uploader", daemon=True
    )
    upload_thread.start()
    try:
        station.run(open_source(settings, stop))
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        uploader.wake()
        upload_thread.join(timeout=5)
        spool.close()
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    try:
        station_settings = load_station_settings()
    except ConfigError as exc:
        print(f"hoso scanner: {exc}", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(station_settings))
