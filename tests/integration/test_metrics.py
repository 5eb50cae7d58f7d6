"""GET /metrics against a real Redis: what the processes' recorders count, the queues' depths and
the modems' published health, scraped through the app and parsed as Prometheus parses it."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from rq import Queue, SimpleWorker

from config.settings import Settings, SmsSettings
from gateway.core.messages import Priority, RetryWhere
from gateway.core.stations import Station
from gateway.store import metrics
from gateway.store.credentials import ClientKind
from gateway.store.dossiers import DossierStore
from gateway.store.inbox import InboundPart, Inbox
from gateway.store.modems import ModemRegistry
from gateway.store.outbox import Outbox
from gateway.store.queues import INBOUND_QUEUE, NOTIFY_QUEUE
from gateway.store.stations import Stations
from hoso.redis_server import RedisServer
from modem.emulator.bank import Bank
from modem.service import ModemService
from tests.conftest import Clock
from tests.factories import registration, registration_body
from tests.integration.conftest import _client
from tests.integration.test_modem_service import HIGH_CAPS, eventually, quick_device
from tests.signing import AppClient
from worker.context import configure
from worker.jobs import answer_sms
from worker.notifier import Notifier

Labels = tuple[tuple[str, str], ...]
Samples = dict[tuple[str, Labels], float]

# A Wednesday, 10:00 in Vietnam: no quiet hours.
WEDNESDAY = datetime(2024, 4, 24, 3, 0, tzinfo=UTC)


def scrape(app: Flask) -> Samples:
    answer = app.test_client().get("/metrics")
    assert answer.status_code == 200
    assert answer.content_type.startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.get_data(as_text=True)):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_the_scrape_is_text_format_with_hoso_names_even_when_nothing_was_counted(
    app: Flask,
) -> None:
    samples = scrape(app)
    assert all(name.startswith("hoso_") for name, _ in samples)
    assert value(samples, "hoso_outbox_depth", queue="shared", modem="") == 0
    assert value(samples, "hoso_notifications_sent_total") == 0
    assert value(samples, "hoso_jobs_queued", queue=INBOUND_QUEUE) == 0


def test_a_modems_sends_errors_receipts_and_latencies_are_counted_across_processes(
    app: Flask, redis_client: redis.Redis, redis_server: RedisServer
) -> None:
    other_process = redis_server.client()  # the modem service's own connection
    for seconds in (0.05, 0.3, 0.3, 7.0, 75.0):
        metrics.part_sent(other_process, "m1", seconds)
    metrics.part_sent(redis_client, "m2", 0.2)
    metrics.send_failed(other_process, "m1", "quarantine", 8)
    metrics.send_failed(other_process, "m1", "quarantine", 41)
    metrics.send_failed(other_process, "m1", "retry_here", None)  # no code: a timeout
    metrics.send_failed(other_process, "m1", "never", 1)
    metrics.send_failed(other_process, "m1", metrics.NO_CREDIT, 21)  # refused: the SIM is dry
    metrics.modem_lost(other_process, "m1")
    metrics.sms_received(other_process, "m1")
    metrics.sms_received(other_process, "m1")

    s = scrape(app)

    assert value(s, "hoso_modem_sms_sent_total", modem="m1") == 5
    assert value(s, "hoso_modem_sms_sent_total", modem="m2") == 1
    assert value(s, "hoso_modem_received_total", modem="m1") == 2
    assert value(s, "hoso_modem_received_total", modem="m2") == 0
    errors = {
        dict(labels)["class"]: v
        for (name, labels), v in s.items()
        if name == "hoso_modem_send_errors_total" and dict(labels)["modem"] == "m1"
    }
    assert errors == {
        "quarantine": 2,
        "timeout": 1,
        "never": 1,
        "unavailable": 1,
        "no_credit": 1,
        "retry_here": 0,  # every class is there from the start, so rate() sees the first error
        "retry_elsewhere": 0,
    }

    buckets = {
        dict(labels)["le"]: v
        for (name, labels), v in s.items()
        if name == "hoso_modem_cmgs_seconds_bucket" and dict(labels)["modem"] == "m1"
    }
    assert buckets == {
        "0.1": 1,
        "0.25": 1,
        "0.5": 3,
        "1.0": 3,
        "2.5": 3,
        "5.0": 3,
        "10.0": 4,
        "20.0": 4,
        "30.0": 4,
        "60.0": 4,
        "+Inf": 5,
    }
    ordered = [buckets[le] for le in sorted(buckets, key=float)]
    assert ordered == sorted(ordered)  # cumulative
    assert value(s, "hoso_modem_cmgs_seconds_count", modem="m1") == buckets["+Inf"]
    assert math.isclose(value(s, "hoso_modem_cmgs_seconds_sum", modem="m1") or 0, 82.65)
    assert value(s, "hoso_modem_cmgs_seconds_bucket", modem="m2", le="0.25") == 1
    assert value(s, "hoso_modem_cmgs_seconds_bucket", modem="m2", le="0.1") == 0


def test_up_and_signal_come_from_the_health_the_owners_publish(
    app: Flask, redis_client: redis.Redis
) -> None:
    registry = ModemRegistry(redis_client)
    registry.publish_health("m1", {"state": "up", "signal_dbm": -71, "registered": 1})
    registry.publish_health("m2", {"state": "down", "signal_dbm": None})
    registry.change("m3", port="/dev/ttyUSB9")  # configured live, never driven
    registry.publish_health("m4", {"state": "up", "registered": 0})  # up, off the network

    s = scrape(app)

    assert value(s, "hoso_modem_up", modem="m1") == 1
    assert value(s, "hoso_modem_up", modem="m2") == 0
    assert value(s, "hoso_modem_up", modem="m3") == 0
    assert value(s, "hoso_modem_signal_dbm", modem="m1") == -71
    assert value(s, "hoso_modem_signal_dbm", modem="m2") is None
    states = {"m1": "up", "m2": "down", "m3": "unknown", "m4": "up"}
    for modem, current in states.items():
        for name in ("up", "down", "disabled", "quarantined", "unknown"):
            expected = 1 if name == current else 0
            assert value(s, "hoso_modem_state", modem=modem, state=name) == expected
    assert value(s, "hoso_modem_registered", modem="m1") == 1
    assert value(s, "hoso_modem_registered", modem="m4") == 0
    assert value(s, "hoso_modem_registered", modem="m3") is None
    redis_client.delete("hoso:modem:m1:health")  # its owner died: the health expired
    after = scrape(app)
    assert value(after, "hoso_modem_up", modem="m1") == 0
    assert value(after, "hoso_modem_state", modem="m1", state="unknown") == 1


def test_queue_depths_follow_the_outbox_the_inbox_and_rq(
    app: Flask, redis_client: redis.Redis, redis_server: RedisServer, clock: Clock
) -> None:
    outbox = Outbox(redis_client)
    now_ms = int(clock() * 1000)
    for n in range(3):
        outbox.enqueue(f"+8490000000{n}", "thong bao", Priority.NOTIFICATION, now_ms + n)
    for n in range(2):
        outbox.enqueue(f"+8491000000{n}", "tra loi", Priority.REPLY, now_ms + n, via="m1")
    ModemRegistry(redis_client).publish_health("m1", {"state": "up"})
    ModemRegistry(redis_client).publish_health("m2", {"state": "up"})
    claimed = outbox.claim("m2", "", now_ms)  # from the shared queue
    assert claimed is not None
    retried = outbox.claim("m2", "", now_ms)
    assert retried is not None
    outbox.failed_attempt(retried, RetryWhere.HERE, "+CMS ERROR: 42", now_ms)
    inbox = Inbox(redis_client)
    for n in range(2):
        part = InboundPart("m1", "+84901234567", f"HS {n}", WEDNESDAY, f"digest-{n}")
        assert inbox.take(part, WEDNESDAY) is not None
    rq_connection = redis.Redis(unix_socket_path=str(redis_server.socket))
    inbound = Queue(INBOUND_QUEUE, connection=rq_connection)
    inbound.enqueue("math.sqrt", -1)  # fails: math domain error
    SimpleWorker([inbound], connection=rq_connection).work(burst=True)
    notify = Queue(NOTIFY_QUEUE, connection=rq_connection)
    notify.enqueue("math.sqrt", 4)
    notify.enqueue("math.sqrt", 9)

    s = scrape(app)

    assert value(s, "hoso_outbox_depth", queue="shared", modem="") == 1
    assert value(s, "hoso_outbox_depth", queue="pinned", modem="m1") == 2
    assert value(s, "hoso_outbox_depth", queue="pinned", modem="m2") == 0
    assert value(s, "hoso_outbox_depth", queue="delayed", modem="") == 1
    assert value(s, "hoso_outbox_inflight", modem="m2") == 1
    assert value(s, "hoso_inbound_pending") == 2
    assert value(s, "hoso_jobs_queued", queue=INBOUND_QUEUE) == 0
    assert value(s, "hoso_jobs_failed", queue=INBOUND_QUEUE) == 1
    assert value(s, "hoso_jobs_queued", queue=NOTIFY_QUEUE) == 2
    assert value(s, "hoso_jobs_failed", queue=NOTIFY_QUEUE) == 0


def test_replies_are_counted_by_template_once_however_often_the_job_runs(
    app: Flask, redis_client: redis.Redis
) -> None:
    ctx = configure(Settings(), redis_client, lambda: WEDNESDAY)
    outbox = Outbox(redis_client)
    kinds = []
    for n, text in enumerate(["HD", "HS 999.99.99.X99-000000-0000", "HELP"]):
        part = InboundPart("m1", "+84901234567", text, WEDNESDAY, f"reply-{n}")
        message = ctx.inbox.take(part, WEDNESDAY)
        assert message is not None
        answer_sms(message)
        answer_sms(message)  # RQ runs a job again when its worker died
        sms_id = redis_client.get(f"hoso:sms-dedupe:reply:{message}")
        sms = outbox.get(str(sms_id))
        assert sms is not None
        kinds.append(sms.fields["kind"])

    s = scrape(app)

    for kind in set(kinds):
        assert value(s, "hoso_sms_replies_total", template=kind) == kinds.count(kind)
    total = sum(v for (name, _), v in s.items() if name == "hoso_sms_replies_total")
    assert total == 3


def test_notifications_are_held_through_the_window_then_counted_per_phone(
    app: Flask, redis_client: redis.Redis, clock: Clock
) -> None:
    now = [WEDNESDAY]
    clock.now = WEDNESDAY.timestamp()
    dossiers = DossierStore(redis_client)
    notifier = Notifier(redis_client, Outbox(redis_client), dossiers, SmsSettings(), lambda: now[0])
    dossiers.register(registration(1, phones=["0901234567", "0987654321"]), "tuphap", now[0])
    dossiers.register(registration(2), "tuphap", now[0])
    assert notifier.take_changes() == 2

    held = scrape(app)
    assert value(held, "hoso_notifications_held") == 2
    assert value(held, "hoso_notifications_due") == 0
    assert value(held, "hoso_notifications_sent_total") == 0

    now[0] += timedelta(seconds=121)
    clock.now = now[0].timestamp()
    assert scrape(app)[("hoso_notifications_due", ())] == 2
    assert notifier.release_due() == 3

    s = scrape(app)
    assert value(s, "hoso_notifications_held") == 0
    assert value(s, "hoso_notifications_due") == 0
    assert value(s, "hoso_notifications_sent_total") == 3


@pytest.fixture
def station(app: Flask, redis_client: redis.Redis, clock: Clock) -> AppClient:
    Stations(redis_client).save(Station("quay-1", "Bộ phận một cửa", "Quầy 1", allowed_hours=2))
    return _client(app, redis_client, clock, ClientKind.STATION, "quay-1")


def test_scans_are_counted_per_station_and_a_repeated_upload_is_not(
    app: Flask, station: AppClient, tuphap: AppClient
) -> None:
    registered = tuphap.post("/api/v1/dossiers", registration_body(1)).body
    at = datetime(2024, 4, 23, 3, 0, tzinfo=UTC)
    statuses = []
    for seq in (1, 1, 2):
        body = {
            "station_id": "quay-1",
            "seq": seq,
            "code": registered["short_code"],
            "scanned_at": (at + timedelta(minutes=seq)).isoformat(),
        }
        statuses.append(station.post("/api/v1/scans", body).status)
    assert statuses == [201, 200, 201]

    assert value(scrape(app), "hoso_scans_total", station="quay-1") == 2


@pytest.fixture
def modems(tmp_path: Path, redis_server: RedisServer, redis_client: redis.Redis) -> Iterator[Bank]:
    """Two emulated modems driven by the real modem service (its owner threads)."""
    with Bank(tmp_path / "sim", ["m1", "m2"], fresh_ledger=True) as bank:
        registry = ModemRegistry(redis_client)
        for modem in bank.ids:
            registry.change(modem, **HIGH_CAPS)
        svc = ModemService(
            Settings(),
            redis_server.client(),
            redis.Redis(unix_socket_path=str(redis_server.socket)),
            sim_dir=bank.dir,
            make_device=quick_device,
        )
        thread = threading.Thread(target=svc.run, daemon=True)
        thread.start()
        yield bank
        svc.stop()
        thread.join(30)


def test_the_modem_owner_counts_what_goes_out_and_comes_in(
    app: Flask, redis_client: redis.Redis, modems: Bank
) -> None:
    outbox = Outbox(redis_client)
    now_ms = int(time.time() * 1000)
    outbox.enqueue("+84901000001", "Ho so da xu ly xong.", Priority.REPLY, now_ms, via="m1")
    outbox.enqueue(
        "+84901000002", "Thong bao: " + "can bo sung. " * 20, Priority.REPLY, now_ms, via="m1"
    )  # two parts
    modems.inject_sms("m2", "0901234567", "HD")
    eventually(lambda: len(modems.sent()) == 2, what="two messages on the air")

    def counted() -> Samples | None:
        s = scrape(app)
        done = (
            value(s, "hoso_modem_sms_sent_total", modem="m1") == 3
            and value(s, "hoso_modem_received_total", modem="m2") == 1
            and value(s, "hoso_modem_up", modem="m1") == 1
        )
        return s if done else None

    s = eventually(counted, what="the owner's counts")
    assert s is not None
    assert value(s, "hoso_modem_cmgs_seconds_count", modem="m1") == 3
    assert value(s, "hoso_modem_cmgs_seconds_bucket", modem="m1", le="+Inf") == 3
    assert 0 < (value(s, "hoso_modem_cmgs_seconds_sum", modem="m1") or 0) < 3 * 60
    assert value(s, "hoso_modem_sms_sent_total", modem="m2") == 0
    assert (value(s, "hoso_modem_signal_dbm", modem="m1") or 0) < 0


def test_every_metric_the_operator_docs_and_alert_rules_name_is_exported(
    app: Flask, redis_client: redis.Redis
) -> None:
    registry = ModemRegistry(redis_client)
    registry.publish_health(
        "m1", {"state": "up", "signal_dbm": -71, "registered": 1, "limits": "no_cmee"}
    )
    registry.publish_balance(
        "m1", {"vnd": 19900, "low": 1, "valid_days": 3, "validity_low": 1, "read_ms": 1}
    )
    text = app.test_client().get("/metrics").get_data(as_text=True)
    exported = set()
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    for family in text_string_to_metric_families(text):
        exported |= {family.name} | {family.name + x for x in suffixes.get(family.type, ())}
    docs = Path(__file__).resolve().parents[2] / "docs"
    named = set()
    for page in ("alerts.yml", "watching.md"):
        named |= set(re.findall(r"\bhoso_[a-z_]+[a-z]", (docs / page).read_text(encoding="utf-8")))
    assert named  # the pages do name metrics
    assert named - exported == set()


@pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool not installed (Debian: apt-get install prometheus)",
)
def test_the_alert_rules_pass_promtool() -> None:
    rules = Path(__file__).resolve().parents[2] / "docs" / "alerts.yml"
    done = subprocess.run(
        ["promtool", "check", "rules", str(rules)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
