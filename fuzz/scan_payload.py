"""A counter station's scan as the gateway receives it: the request body is parsed and checked
against the OpenAPI schema (`gateway.http.bodies.json_body("Scan")`), turned into an event
(`gateway.core.events.parse_scan`), and prepared for the store as `DossierStore.apply` does
(fingerprint, times, the folded code it is looked up by).

Documented failures: `Problem` (4xx) for the body, `CoreError` (InvalidDossier, InvalidTime)
for the event. Everything else is a crash.
"""

from __future__ import annotations

import json

from flask import Flask

from gateway.core.codes import fold, looks_like_code
from gateway.core.errors import CoreError
from gateway.core.events import fingerprint, parse_scan
from gateway.core.status import Status
from gateway.core.times import format_time, to_micros
from gateway.http.bodies import json_body
from gateway.http.problems import Problem

MAX_LEN = 2048
_APP = Flask("fuzz")
DESKS = ("Một cửa", "Tư pháp - hộ tịch", "")


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    status = None if data[0] % 11 == 0 else Status(data[0] % 11)
    desk = DESKS[data[0] % len(DESKS)]
    with _APP.test_request_context(
        "/api/v1/scans", method="POST", data=data[1:], content_type="application/json"
    ):
        try:
            body = json_body("Scan")
        except Problem:
            return
    try:
        event = parse_scan(body, body["station_id"], desk, status)
    except CoreError:
        return
    fingerprint(event)
    format_time(event.at)
    to_micros(event.at)
    json.dumps({"desk": event.desk, "staff": event.staff}, ensure_ascii=False).encode()
    looks_like_code(body["code"])
    fold(body["code"])


def main() -> None:
    from fuzz.harness import run  # noqa: PLC0415 - atheris only when fuzzing

    run(TestOneInput)


if __name__ == "__main__":
    main()
