"""What leaders see agrees whatever happens: for any sequence of department events (some with a new
appointment), counter scans and notifier runs, with times up to the clock-skew allowance ahead of
the clock, a dossier is marked overdue in the dossier search exactly when it is on the overdue
list, and the charts count every dossier not finished, the late ones included, whatever SMS went
out. Against a real Redis, through the admin API, with one injected clock for the gateway and the
notifier."""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.settings import AdminSettings, GatewaySettings, Settings, SmsSettings
from gateway.core.errors import InvalidTransition
from gateway.core.events import StatusChanged, parse_scan
from gateway.core.stations import Station
from gateway.core.status import SETTLED, Status
from gateway.core.times import VIETNAM, refuse_future_time
from gateway.http.app import create_app
from gateway.store.dossiers import ANY_DEPARTMENT, DossierStore
from gateway.store.outbox import Outbox
from gateway.store.stations import Stations
from gateway.store.users import AdminUsers, Role
from tests.conftest import MASTER_KEY, Clock
from tests.factories import registration
from tests.integration.test_admin_records import PASSWORD, login
from worker.notifier import Notifier

SKEW = timedelta(seconds=300)
START = datetime(2026, 3, 10, 9, 0, tzinfo=VIETNAM)  # a Tuesday
DOSSIERS = 3
STATIONS = {
    "quay-1": Station("quay-1", desk="Phòng Tư pháp"),
    "quay-tra": Station("quay-tra", desk="Bộ phận trả kết quả", status=int(Status.DONE)),
}


@dataclass(frozen=True)
class Event:
    dossier: int
    status: Status
    offset: int  # seconds from the clock (up to the skew allowance ahead)
    due_after: int | None  # a new appointment, seconds after the event


@dataclass(frozen=True)
class Scan:
    dossier: int
    station: str
    offset: int


@dataclass(frozen=True)
class Tick:
    seconds: int


@dataclass(frozen=True)
class NotifierRun:
    pass


offsets = st.integers(-6 * 3600, int(SKEW.total_seconds()))
steps = st.lists(
    st.one_of(
        st.builds(
            Event,
            st.integers(0, DOSSIERS - 1),
            st.sampled_from(list(Status)),
            offsets,
            st.none() | st.integers(0, 4 * 86400),
        ),
        st.builds(Scan, st.integers(0, DOSSIERS - 1), st.sampled_from(sorted(STATIONS)), offsets),
        st.builds(Tick, st.integers(0, 36 * 3600)),
        st.just(NotifierRun()),
    ),
    max_size=20,
)


@pytest.fixture
def app(tmp_path: Path, redis_client: redis.Redis) -> tuple[Flask, Clock]:
    settings = Settings(
        gateway=replace(GatewaySettings(), rate_per_minute=100_000),
        admin=AdminSettings(session_key_file=str(tmp_path / "session.key")),
    )
    clock = Clock(START.timestamp())
    return create_app(settings, redis_client, MASTER_KEY, clock), clock


def leader(app: Flask, client: redis.Redis) -> FlaskClient:
    AdminUsers(client).create("lanhdao", PASSWORD, Role.VIEWER)
    browser = app.test_client()
    login(browser, "lanhdao")
    return browser


def get(browser: FlaskClient, path: str) -> Any:
    answer = browser.get(path)
    assert answer.status_code == 200, (path, answer.get_data(as_text=True))
    return answer.get_json()


def what_leaders_see_agrees(
    browser: FlaskClient, store: DossierStore, codes: list[str], now: datetime
) -> None:
    flagged = {c for c in codes if get(browser, f"/admin/api/dossiers/{c}")["overdue"]}
    dossiers = [store.get(c) for c in codes]
    assert flagged == {d.code for d in dossiers if d.is_overdue(now)}
    listed = [r["code"] for r in get(browser, "/admin/api/overdue")["overdue"]]
    assert sorted(listed) == sorted(flagged), "the overdue list is the dossiers marked overdue"
    figures = get(browser, "/admin/api/charts")["desks"]
    unfinished = [d for d in dossiers if d.status not in SETTLED]
    assert figures["open_dossiers"] == len(unfinished), "the charts count every unfinished one"
    assert sum(row["dossiers"] for row in figures["desks"]) == len(unfinished)
    at_risk = [d for d in unfinished if now <= d.due_at <= now + timedelta(hours=24)]
    assert sum(figures["at_risk_by_desk"].values()) == len(at_risk)


@pytest.mark.slow
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps, st.lists(st.integers(-3 * 86400, 5 * 86400), min_size=DOSSIERS, max_size=DOSSIERS))
def test_the_overdue_flag_the_overdue_list_and_the_charts_agree(
    app: tuple[Flask, Clock],
    redis_client: redis.Redis,
    steps: list[Event | Scan | Tick | NotifierRun],
    dues: list[int],
) -> None:
    flask_app, clock = app
    clock.now = START.timestamp()
    redis_client.flushall()
    browser = leader(flask_app, redis_client)

    def now() -> datetime:
        return datetime.fromtimestamp(clock(), UTC)

    store = DossierStore(redis_client)
    stations = Stations(redis_client)
    for station in STATIONS.values():
        stations.save(station)
    notifier = Notifier(
        redis_client, Outbox(redis_client), store, SmsSettings(hotline="0203 3825 111"), now
    )
    received = START - timedelta(days=4)
    codes = []
    for n, due in enumerate(dues):
        body = {
            "received_at": received.isoformat(),
            "due_at": (START + timedelta(seconds=due)).isoformat(),
        }
        codes.append(store.register(registration(100 + n, **body), "tuphap", now()).dossier.code)
    seq = itertools.count()
    what_leaders_see_agrees(browser, store, codes, now())
    for i, step in enumerate(steps):
        if isinstance(step, Tick):
            clock.advance(step.seconds)
        elif isinstance(step, NotifierRun):
            notifier.take_changes()
            notifier.release_due()
            notifier.scan_due_dates()
        elif isinstance(step, Event):
            at = refuse_future_time("at", now() + timedelta(seconds=step.offset), now(), SKEW)
            due_at = None if step.due_after is None else at + timedelta(seconds=step.due_after)
            event = StatusChanged(f"e{i}", step.status, at, "tuphap", due_at=due_at)
            with contextlib.suppress(InvalidTransition):  # answered 409; nothing recorded
                store.apply(codes[step.dossier], event, "tuphap", now())
        else:
            station = stations.get(step.station)
            scanned = refuse_future_time(
                "scanned_at", now() + timedelta(seconds=step.offset), now(), SKEW
            )
            scan_body: dict[str, Any] = {"seq": next(seq), "scanned_at": scanned.isoformat()}
            scan = parse_scan(scan_body, station.id, station.desk, station.implied_status())
            typed = store.get(codes[step.dossier]).short_code  # what the scanner reads
            code = store.find(typed)
            assert code == codes[step.dossier]
            with contextlib.suppress(InvalidTransition):  # the station says why
                store.apply(code, scan, ANY_DEPARTMENT, now())
        what_leaders_see_agrees(browser, store, codes, now())


def test_an_apologised_late_dossier_is_listed_and_counted_until_its_result_is_ready(
    app: tuple[Flask, Clock], redis_client: redis.Redis
) -> None:
    flask_app, clock = app
    browser = leader(flask_app, redis_client)

    def now() -> datetime:
        return datetime.fromtimestamp(clock(), UTC)

    store = DossierStore(redis_client)
    outbox = Outbox(redis_client)
    notifier = Notifier(redis_client, outbox, store, SmsSettings(hotline="0203 3825 111"), now)
    due = START - timedelta(days=1)
    body = {"received_at": (due - timedelta(days=3)).isoformat(), "due_at": due.isoformat()}
    code = store.register(registration(200, **body), "tuphap", now()).dossier.code
    notifier.take_changes()
    assert notifier.scan_due_dates() == 1
    texts = []
    while (sms := outbox.claim("m1", "", 10**14)) is not None:
        texts.append(sms.text)
    assert any("chua co ket qua dung hen ngay 09/03/2026" in t for t in texts)
    assert [r["code"] for r in get(browser, "/admin/api/overdue")["overdue"]] == [code]
    assert get(browser, "/admin/api/charts")["desks"]["open_dossiers"] == 1
    for status in (Status.PROCESSING, Status.SUPPLEMENT_REQUESTED, Status.PROCESSING):
        clock.advance(3600)
        store.apply(code, StatusChanged(f"s{clock()}", status, now(), "tuphap"), "tuphap", now())
        notifier.take_changes()
        notifier.scan_due_dates()
        assert [r["code"] for r in get(browser, "/admin/api/overdue")["overdue"]] == [code]
        assert get(browser, "/admin/api/charts")["desks"]["open_dossiers"] == 1
        what_leaders_see_agrees(browser, store, [code], now())
    clock.advance(3600)
    store.apply(code, StatusChanged("xong", Status.DONE, now(), "tuphap"), "tuphap", now())
    assert get(browser, "/admin/api/overdue")["overdue"] == []
    assert get(browser, "/admin/api/charts")["desks"]["open_dossiers"] == 0
    what_leaders_see_agrees(browser, store, [code], now())
