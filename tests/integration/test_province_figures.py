"""The service index's figures the dossier scripts keep agree with a recount from the dossiers:
for any sequence of registrations (some already settled), department events (some out of order,
some with a new appointment), counter scans at desks, a wipe back to data stored before the
figures, and rebuilds (counting what is not counted, or from scratch), every office's, procedure's
and desk's figures and open indexes are what `service_index.share_of` gives for each dossier's
current state and history. Against a real Redis, through the store's own functions."""

from __future__ import annotations

import contextlib
import itertools
import os
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.core.errors import InvalidTransition
from gateway.core.events import StatusChanged
from gateway.core.service_index import Figures, Share, settled_at_ms, share_of
from gateway.core.status import Status
from gateway.store import keys
from gateway.store.dossiers import ANY_DEPARTMENT, DossierStore
from gateway.store.province import DESK, OFFICE, PROCEDURE, ProvinceFigures
from hoso import cli
from hoso.redis_server import RedisServer
from tests.factories import registration

START = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
OFFICES = ("phuong-a", "xa-b")
PROCEDURES = ("1.001776", "2.000123")
DESKS = ("Phòng Tư pháp", "Bộ phận trả kết quả")


@dataclass(frozen=True)
class Register:
    office: int
    procedure: int
    status: Status
    due_hours: int


@dataclass(frozen=True)
class Event:
    dossier: int
    status: Status | None  # None: a handoff (scan) only
    hours: int  # from START; not before the registration
    desk: int | None
    due_after: int | None  # a new appointment, hours after the event


@dataclass(frozen=True)
class Wipe:
    """Back to data stored before the figures: none kept, no dossier counted."""


@dataclass(frozen=True)
class Rebuild:
    from_scratch: bool


# Whole half days: a dossier is often settled exactly at its appointment (on time).
hours = st.integers(0, 40).map(lambda n: 12 * n)
steps = st.lists(
    st.one_of(
        st.builds(
            Register,
            st.integers(0, len(OFFICES) - 1),
            st.integers(0, len(PROCEDURES) - 1),
            st.sampled_from([Status.RECEIVED, Status.REGISTERED, Status.DONE, Status.REFUSED]),
            hours,
        ),
        st.builds(
            Event,
            st.integers(0, 5),
            st.none() | st.sampled_from(list(Status)),
            hours,
            st.none() | st.integers(0, len(DESKS) - 1),
            st.none() | hours,
        ),
        st.builds(Wipe),
        st.builds(Rebuild, st.booleans()),
    ),
    max_size=30,
)


def recount(store: DossierStore, codes: list[str]) -> list[Share]:
    shares = []
    for code in codes:
        dossier, history = store.get_with_history(code)
        shares.append(share_of(dossier, settled_at_ms(history)))
    return shares


def rebuild(store: DossierStore, figures: ProvinceFigures, from_scratch: bool) -> None:
    codes = [c for batch in store.all_codes() for c in batch]
    if from_scratch:
        figures.clear()
        figures.forget(codes)
    figures.count(codes)


def figures_agree(
    client: redis.Redis, store: DossierStore, figures: ProvinceFigures, codes: list[str]
) -> None:
    shares = recount(store, codes)
    for code, share in zip(codes, shares, strict=True):
        stored = client.hget(keys.dossier(code), "settled_ms")
        assert (None if stored is None else int(stored)) == (
            settled_at_ms(store.history(code)) if share.finished else None
        ), code
    groups: dict[tuple[str, str, str], list[tuple[str, Share]]] = defaultdict(list)
    for code, share in zip(codes, shares, strict=True):
        groups[(OFFICE, share.office, "")].append((code, share))
        groups[(PROCEDURE, share.office, share.procedure)].append((code, share))
        groups[(DESK, share.office, share.desk)].append((code, share))
    assert figures.offices() == {s.office for s in shares}
    for office in OFFICES:
        assert figures.procedures(office).keys() == {
            s.procedure for s in shares if s.office == office
        }
        # A desk once waited at stays listed (its figures may be zero).
        assert figures.desks(office) >= {s.desk for s in shares if s.office == office}
    far = 10**14
    for (kind, office, name), members in groups.items():
        (row,) = figures.rows(kind, [(office, name)], far)
        assert row.figures == Figures.of_shares(s for _, s in members), (kind, office, name)
        opened = {c: s.due_ms for c, s in members if s.open}
        assert row.open == len(opened) == row.overdue
        stored_open = cast(
            list[tuple[str, float]],
            client.zrange(keys.province_open(kind, office, name), 0, -1, withscores=True),
        )
        assert {str(c): int(ms) for c, ms in stored_open} == opened
    for office in OFFICES:
        for desk in figures.desks(office):
            if (DESK, office, desk) not in groups:
                (row,) = figures.rows(DESK, [(office, desk)], far)
                assert row.figures.finished == row.open == 0


def nothing_counted(client: redis.Redis) -> None:
    assert list(client.scan_iter(match=keys.province_prefix() + "*")) == []


@pytest.mark.slow
@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps)
def test_the_figures_the_scripts_keep_agree_with_a_recount_from_the_dossiers(
    redis_client: redis.Redis, steps: list[Register | Event | Wipe | Rebuild]
) -> None:
    redis_client.flushall()
    store = DossierStore(redis_client)
    figures = ProvinceFigures(redis_client)
    codes: list[str] = []
    numbers = itertools.count(300)
    wiped = False
    for i, step in enumerate(steps):
        if isinstance(step, Register):
            due = START + timedelta(hours=step.due_hours)
            reg = registration(
                next(numbers),
                received_at=START.isoformat(),
                due_at=due.isoformat(),
                status=int(step.status),
                procedure_code=PROCEDURES[step.procedure],
            )
            codes.append(store.register(reg, "tuphap", START, OFFICES[step.office]).dossier.code)
        elif isinstance(step, Event):
            if not codes:
                continue
            code = codes[step.dossier % len(codes)]
            at = START + timedelta(hours=step.hours)
            due_at = None if step.due_after is None else at + timedelta(hours=step.due_after)
            desk = None if step.desk is None else DESKS[step.desk]
            event = StatusChanged(f"e{i}", step.status, at, "tuphap", desk=desk, due_at=due_at)
            with contextlib.suppress(InvalidTransition):
                store.apply(code, event, ANY_DEPARTMENT, START)
        elif isinstance(step, Wipe):
            figures.clear()
            figures.forget(codes)
            wiped = True
        else:
            rebuild(store, figures, step.from_scratch)
            wiped = False
        if wiped:
            # Registered since: counted; the others count nowhere until the rebuild.
            counted = [c for c in codes if redis_client.hexists(keys.dossier(c), "received_ms")]
            if counted:
                figures_agree(redis_client, store, figures, counted)
            else:
                nothing_counted(redis_client)
        else:
            figures_agree(redis_client, store, figures, codes)
    rebuild(store, figures, from_scratch=False)
    figures_agree(redis_client, store, figures, codes)
    rebuild(store, figures, from_scratch=True)
    figures_agree(redis_client, store, figures, codes)


def test_a_dossier_finished_late_counts_once_returned_and_on_time_with_a_new_appointment(
    redis_client: redis.Redis,
) -> None:
    store = DossierStore(redis_client)
    figures = ProvinceFigures(redis_client)
    due = START + timedelta(hours=48)
    reg = registration(1, received_at=START.isoformat(), due_at=due.isoformat())
    code = store.register(reg, "tuphap", START, "phuong-a").dossier.code

    def office_row() -> tuple[int, int, int, int]:
        (row,) = figures.rows(OFFICE, [("phuong-a", "")], int(due.timestamp() * 1000) + 1)
        return row.figures.finished, row.figures.on_time, row.open, row.overdue

    assert office_row() == (0, 0, 1, 1)
    due_ms = int(due.timestamp() * 1000)
    assert figures.open_by_due("phuong-a", due_ms, 10) == ([code], False)
    assert figures.open_by_due("phuong-a", due_ms - 1, 10) == ([], False)
    assert figures.open_by_due("xa-b", None, 10) == ([], False)
    late = START + timedelta(hours=50)
    store.apply(code, StatusChanged("xong", Status.DONE, late, "tuphap"), "tuphap", late)
    assert office_row() == (1, 0, 0, 0)
    (row,) = figures.rows(OFFICE, [("phuong-a", "")], 0)
    assert row.figures.seconds == 50 * 3600
    store.apply(code, StatusChanged("tra", Status.RETURNED, late, "tuphap"), "tuphap", late)
    assert office_row() == (1, 0, 0, 0), "returning the result does not move the settled time"
    again = StatusChanged("lai", Status.PROCESSING, late, "tuphap")
    with pytest.raises(InvalidTransition):
        store.apply(code, again, "tuphap", late)
    # A new appointment for the finished dossier makes it on time.
    later = StatusChanged("hen", None, late, "tuphap", due_at=late)  # settled at it: on time
    store.apply(code, later, "tuphap", late)
    assert office_row()[:2] == (1, 1)


def test_a_dossier_registered_finished_and_then_returned_moves_no_second_of_processing(
    redis_client: redis.Redis,
) -> None:
    """Its share of processing time is 0 seconds: taking it away must not write "-0" (an integer
    Redis 7.0 refuses, failing the department's event)."""
    store = DossierStore(redis_client)
    figures = ProvinceFigures(redis_client)
    reg = registration(
        7, received_at=START.isoformat(), due_at=START.isoformat(), status=int(Status.DONE)
    )
    code = store.register(reg, "tuphap", START, "phuong-a").dossier.code
    returned = StatusChanged("tra", Status.RETURNED, START + timedelta(hours=1), "tuphap")
    store.apply(code, returned, "tuphap", START)
    (row,) = figures.rows(OFFICE, [("phuong-a", "")], 0)
    assert (row.figures.finished, row.figures.on_time, row.figures.seconds) == (1, 1, 0)
    figures_agree(redis_client, store, figures, [code])


def test_hoso_province_rebuild_counts_once_and_check_finds_a_figure_gone_wrong(
    redis_client: redis.Redis,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HOSO_CONFIG", os.devnull)
    monkeypatch.setenv("HOSO_REDIS_URL", redis_server.url)
    store = DossierStore(redis_client)
    figures = ProvinceFigures(redis_client)
    codes = []
    for n in range(3):
        reg = registration(n, received_at=START.isoformat(), due_at=START.isoformat())
        codes.append(store.register(reg, "tuphap", START, OFFICES[n % 2]).dossier.code)
    done = StatusChanged("xong", Status.DONE, START + timedelta(hours=5), "tuphap")
    store.apply(codes[0], done, "tuphap", START)
    figures.clear()
    figures.forget(codes)  # as a release without the figures left them
    assert cli.main(["province", "rebuild"]) == 0
    assert "3 dossier(s) counted, 0 counted before" in capsys.readouterr().out
    assert cli.main(["province", "rebuild"]) == 0
    assert "0 dossier(s) counted, 3 counted before" in capsys.readouterr().out
    assert cli.main(["province", "check"]) == 0
    assert "0 differ" in capsys.readouterr().out
    figures_agree(redis_client, store, figures, codes)
    redis_client.hincrby(keys.province_figures(OFFICE, OFFICES[0]), "f", 1)
    assert cli.main(["province", "check"]) == 1
    assert f"o {OFFICES[0]} : stored 2 finished" in capsys.readouterr().out
    assert cli.main(["province", "rebuild", "--from-scratch"]) == 0
    assert "3 dossier(s) counted" in capsys.readouterr().out
    assert cli.main(["province", "check"]) == 0
