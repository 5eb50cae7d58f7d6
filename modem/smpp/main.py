"""`hoso smpp --link ID`: runs one carrier link of the `[[smpp]]` tables until SIGTERM."""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType

from config.links import read_password
from config.settings import Settings
from gateway.store.connect import connect, connect_rq
from modem.smpp.link import Link

log = logging.getLogger(__name__)


def main(settings: Settings, link_id: str) -> int:
    found = [link for link in settings.smpp if link.id == link_id]
    if not found:
        ids = ", ".join(link.id for link in settings.smpp) or "none"
        print(
            f"hoso smpp: no [[smpp]] table with id {link_id!r} in {settings.source} (ids: {ids})",
            file=sys.stderr,
        )
        return 2
    link_settings = found[0]
    try:
        password = read_password(link_settings)
    except OSError as exc:
        print(
            f"hoso smpp: {link_settings.password_file}: cannot read the password: {exc.strerror}",
            file=sys.stderr,
        )
        return 2
    link = Link(link_settings, password, connect(settings.redis), connect_rq(settings.redis))

    def _stop(signum: int, _frame: FrameType | None) -> None:
        link.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    link.run()
    return 0
