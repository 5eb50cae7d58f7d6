"""The dossier store against a real redis-server: atomic, idempotent, append-only."""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from gateway.core.dossier import Dossier
from gateway.core.errors import InvalidTransition
from gateway.core.events import (
    MAX_EVENT_ID,
    StatusChanged,
    apply,
    fingerprint,
    parse_scan,
    parse_status_changed,
)
from gateway.core.status import SETTLED, Status, can_move
from gateway.core.times import format_time, parse_time, to_micros
from gateway.store import keys
from gateway.store.dossiers import DossierStore, Recorded
from gateway.store.errors import DossierConflict, EventConflict, UnknownDossier
from tests.factories import T0, code, event_body, registration

NOW = T0 + timedelta(days=1)


@pytest.fixture
def store(redis_client: redis.Redis) -> DossierStore:
    return DossierStore(redis_client)


def ev(event_id: str, status: int, minutes: int = 60, **extra: object) -> StatusChanged:
    return parse_status_changed(event_body(event_id, status, minutes, **extra), source="tuphap")


def in_open_index(client: redis.Redis, d: Dossier) -> None:
    """The index the overdue list and the charts read holds the dossier, by its appointment,
    exactly while it is not settled."""
    score = client.zscore(keys.open_by_due(), d.code)
    if d.status in SETTLED:
        assert score is None, (d.code, d.status)
    else:
        assert score == to_micros(d.due_at) // 1000, (d.code, d.status, score)


def test_a_registered_dossier_reads_back_whole(store: DossierStore) -> None:
    reg = registration(1)
    made = store.register(reg, "tuphap", NOW)
    assert made.created
    got = store.get(reg.code)
    assert got == made.dossier
    assert got.status == Status.RECEIVED
    assert got.phones == ("+84901234567",)
    assert len(got.secret) == 8
    assert store.history(reg.code)[0]["event_id"] == "registered"


def test_registering_the_same_dossier_twice_gives_the_same_answer(store: DossierStore) -> None:
    first = store.register(registration(2), "tuphap", NOW)
    again = store.register(registration(2), "tuphap", NOW)
    assert not again.created
    assert (again.dossier.short_code, again.dossier.secret) == (
        first.dossier.short_code,
        first.dossier.secret,
    )
    assert len(store.history(first.dossier.code)) == 1


def test_the_same_code_with_other_details_or_department_conflicts(store: DossierStore) -> None:
    store.register(registration(3), "tuphap", NOW)
    with pytest.raises(DossierConflict):
        store.register(registration(3, procedure_name="Khác"), "tuphap", NOW)
    with pytest.raises(DossierConflict):
        store.register(registration(3), "diachinh", NOW)


def test_dossiers_are_found_by_sloppy_full_code_and_by_short_code(store: DossierStore) -> None:
    d = store.register(registration(4), "tuphap", NOW).dossier
    assert store.find("ooo 00 2o h57 24O423 OOO4") == d.code
    assert store.find(d.short_code.lower()) == d.code
    assert store.find(d.short_code[:4] + "-" + d.short_code[4:]) == d.code
    assert store.find("000.00.20.H57-240423-9999") is None
    assert store.find("") is None


def test_the_phone_index_lists_a_phones_dossiers(store: DossierStore) -> None:
    a = store.register(registration(5), "tuphap", NOW).dossier
    b = store.register(registration(6, phones=["+84 90 123 4567", "0987654321"]), "tuphap", NOW)
    assert store.codes_of_phone("+84901234567") == {a.code, b.dossier.code}
    assert store.codes_of_phone("+84987654321") == {b.dossier.code}


def test_an_event_moves_the_state_and_is_idempotent_by_event_id(store: DossierStore) -> None:
    d = store.register(registration(7), "tuphap", NOW).dossier
    first = store.apply(d.code, ev("e1", 4, desk="Phòng Tư pháp"), "tuphap", NOW)
    assert (first.status, first.version, first.current, first.repeated) == (4, 2, True, False)
    again = store.apply(d.code, ev("e1", 4, desk="Phòng Tư pháp"), "tuphap", NOW)
    assert again == replace(first, repeated=True)
    got = store.get(d.code)
    assert (got.status, got.version, got.holder) == (Status.PROCESSING, 2, "Phòng Tư pháp")
    assert [e["event_id"] for e in store.history(d.code)] == ["registered", "e1"]


def test_an_event_id_reused_for_another_event_conflicts(store: DossierStore) -> None:
    d = store.register(registration(8), "tuphap", NOW).dossier
    store.apply(d.code, ev("e1", 4), "tuphap", NOW)
    with pytest.raises(EventConflict):
        store.apply(d.code, ev("e1", 5), "tuphap", NOW)


def test_an_older_event_is_kept_in_history_without_rolling_back(store: DossierStore) -> None:
    d = store.register(registration(9), "tuphap", NOW).dossier
    store.apply(d.code, ev("late-done", 9, minutes=120), "tuphap", NOW)
    stale = store.apply(d.code, ev("early-processing", 4, minutes=60), "tuphap", NOW)
    assert not stale.current
    assert stale.status == Status.DONE
    assert store.get(d.code).status == Status.DONE
    history = store.history(d.code)
    assert [(e["event_id"], e["current"]) for e in history] == [
        ("registered", True),
        ("late-done", True),
        ("early-processing", False),
    ]


def test_a_transition_the_rules_forbid_is_refused_and_not_recorded(store: DossierStore) -> None:
    d = store.register(registration(10), "tuphap", NOW).dossier
    store.apply(d.code, ev("e1", 9, minutes=10), "tuphap", NOW)
    store.apply(d.code, ev("e2", 10, minutes=20), "tuphap", NOW)
    with pytest.raises(InvalidTransition):
        store.apply(d.code, ev("e3", 4, minutes=30), "tuphap", NOW)
    assert len(store.history(d.code)) == 3


def test_another_departments_dossier_is_unknown_to_it(store: DossierStore) -> None:
    d = store.register(registration(11), "tuphap", NOW).dossier
    with pytest.raises(UnknownDossier):
        store.get(d.code, "diachinh")
    with pytest.raises(UnknownDossier):
        store.apply(d.code, ev("e1", 4), "diachinh", NOW)
    with pytest.raises(UnknownDossier):
        store.apply(code(9999), ev("e1", 4), "tuphap", NOW)
    assert store.get(d.code).status == Status.RECEIVED


def test_concurrent_events_never_lose_an_update(
    store: DossierStore, redis_client: redis.Redis
) -> None:
    d = store.register(registration(12), "tuphap", NOW).dossier
    store.apply(d.code, ev("start", 4, minutes=1), "tuphap", NOW)

    def push(worker: int) -> None:
        local = DossierStore(redis_client)
        for i in range(50):
            # 4 -> 4 is a no-op status change that still counts as a new version.
            local.apply(d.code, ev(f"w{worker}-{i}", 4, minutes=2 + i), "tuphap", NOW)

    threads = [threading.Thread(target=push, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    history = store.history(d.code)
    assert len(history) == 2 + 200
    got = store.get(d.code)
    current = [e for e in history if e["current"]]
    assert got.version == len(current)  # every current event bumped the version exactly once
    assert sorted(e["version"] for e in current) == list(range(1, got.version + 1))


def test_a_new_appointment_takes_effect_with_its_event_and_both_are_in_the_history(
    store: DossierStore, redis_client: redis.Redis
) -> None:
    d = store.register(registration(16), "tuphap", NOW).dossier
    assert store.history(d.code)[0]["due_at"] == "2024-04-26T17:00:00+07:00"
    later = "2024-05-03T17:00:00+07:00"
    answer = store.apply(
        d.code, ev("gia-han", 4, minutes=90, due_at=later, note="Chờ xác minh"), "tuphap", NOW
    )
    assert (answer.current, answer.rescheduled) == (True, True)
    assert answer.due_at == parse_time("due_at", later)
    got = store.get(d.code)
    assert got.due_at == parse_time("due_at", later)
    assert got.due_set_at == T0 + timedelta(minutes=90)
    entry = store.history(d.code)[-1]
    assert (entry["due_at"], entry["rescheduled"], entry["previous_due_at"]) == (
        later,
        True,
        "2024-04-26T17:00:00+07:00",
    )
    assert store.apply(
        d.code, ev("gia-han", 4, minutes=90, due_at=later, note="Chờ xác minh"), "tuphap", NOW
    ) == replace(answer, repeated=True)
    with pytest.raises(EventConflict):  # the same id with another appointment
        store.apply(
            d.code,
            ev("gia-han", 4, minutes=90, due_at="2024-05-06T17:00:00+07:00", note="Chờ xác minh"),
            "tuphap",
            NOW,
        )
    in_open_index(redis_client, store.get(d.code))


# The answer to an event id as the APPLY script wrote it before answers were positional: a JSON
# object with the whole fingerprint (cjson's own encoding, so also its key order and numbers).
OLD_ANSWER = """
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode({fp = ARGV[2], status = tonumber(ARGV[3]),
  version = tonumber(ARGV[4]), current = ARGV[5] == '1', due_at = ARGV[6],
  rescheduled = ARGV[7] == '1'}))
"""


@pytest.mark.parametrize("rescheduling", [False, True])
def test_an_event_id_answered_in_the_json_form_stored_before_is_answered_the_same(
    store: DossierStore, redis_client: redis.Redis, rescheduling: bool
) -> None:
    d = store.register(registration(18), "tuphap", NOW).dossier
    extra: dict[str, Any] = {"desk": "Phòng Tư pháp"}
    if rescheduling:
        extra["due_at"] = "2024-05-03T17:00:00+07:00"
    event = ev("e1", 4, **extra)
    first = store.apply(d.code, event, "tuphap", NOW)
    redis_client.eval(
        OLD_ANSWER,
        1,
        keys.event_ids(d.code),
        "e1",
        fingerprint(event),
        int(first.status),
        first.version,
        int(first.current),
        format_time(first.due_at) if first.due_at else "",
        int(first.rescheduled),
    )
    stored = str(redis_client.hget(keys.event_ids(d.code), "e1"))
    assert json.loads(stored)["fp"] == fingerprint(event)  # the old form, whole fingerprint
    assert store.apply(d.code, event, "tuphap", NOW) == replace(first, repeated=True)
    with pytest.raises(EventConflict):  # reused for another event: the whole fingerprint told
        store.apply(d.code, ev("e1", 4, desk="Phòng Tài nguyên"), "tuphap", NOW)
    assert [e["event_id"] for e in store.history(d.code)] == ["registered", "e1"]


def test_a_dossier_and_its_event_ids_stay_listpacks_under_the_shipped_config(
    store: DossierStore, redis_client: redis.Redis
) -> None:
    """config/redis.conf's limits hold a dossier with a long procedure name and events with ids
    of the longest length allowed, answers and all, as compact listpacks."""
    reg = replace(registration(19), procedure_name="Cấp giấy chứng nhận quyền sử dụng đất " * 6)
    d = store.register(reg, "tuphap", NOW).dossier
    ids = [f"{i}-".ljust(MAX_EVENT_ID, "x") for i in range(12)]
    for i, event_id in enumerate(ids):
        store.apply(d.code, ev(event_id, 4, minutes=60 + i), "tuphap", NOW)
    answers = redis_client.hgetall(keys.event_ids(d.code))
    assert sorted(answers) == sorted(ids)
    assert max(len(str(a).encode()) for a in answers.values()) <= 64
    assert redis_client.object("encoding", keys.event_ids(d.code)) == "listpack"
    assert redis_client.object("encoding", keys.dossier(d.code)) == "listpack"


def test_history_entries_read_the_same_whether_stored_compact_or_spelled_out_as_before(
    store: DossierStore, redis_client: redis.Redis
) -> None:
    reg = registration(20)
    d = store.register(reg, "tuphap", NOW).dossier
    scan = parse_scan(
        {"seq": 1, "scanned_at": "2024-04-23T09:15:00+07:00", "staff": "Lê Thị Hoa"},
        "quay-1",
        "Bộ phận một cửa",
        None,
    )
    store.apply(d.code, scan, "", NOW)  # a station: any department
    store.apply(d.code, ev("e2", 4, 90, desk="Phòng Tư pháp", note="Đã chuyển"), "tuphap", NOW)
    later = "2024-05-03T17:00:00+07:00"
    store.apply(d.code, ev("gia-han", 4, 120, due_at=later), "tuphap", NOW)
    stale = parse_status_changed(
        {"event_id": "cu", "status": 4, "at": "2024-04-23T08:59:59.123456+07:00"}, "tuphap"
    )
    store.apply(d.code, stale, "tuphap", NOW)
    recorded = format_time(NOW)
    applied = {"desk": None, "note": None, "source": "tuphap", "staff": None}
    expected: list[dict[str, Any]] = [
        {"event_id": "registered", "status": int(reg.status), "at": "2024-04-23T08:30:00+07:00",
         "due_at": "2024-04-26T17:00:00+07:00", "desk": None, "note": None, "source": "tuphap",
         "recorded_at": recorded, "current": True, "version": 1},
        {"event_id": "scan:quay-1:1", "status": int(reg.status), "at": "2024-04-23T09:15:00+07:00",
         "desk": "Bộ phận một cửa", "note": None, "source": "station:quay-1",
         "staff": "Lê Thị Hoa", "recorded_at": recorded, "current": True, "version": 2},
        applied | {"event_id": "e2", "status": 4, "at": "2024-04-23T10:00:00+07:00",
                   "desk": "Phòng Tư pháp", "note": "Đã chuyển", "recorded_at": recorded,
                   "current": True, "version": 3},
        applied | {"event_id": "gia-han", "status": 4, "at": "2024-04-23T10:30:00+07:00",
                   "due_at": later, "previous_due_at": "2024-04-26T17:00:00+07:00",
                   "rescheduled": True, "recorded_at": recorded, "current": True, "version": 4},
        applied | {"event_id": "cu", "status": 4, "at": "2024-04-23T08:59:59.123456+07:00",
                   "recorded_at": recorded, "current": False, "version": 4},
    ]  # fmt: skip
    compact = [str(e) for e in redis_client.lrange(keys.history(d.code), 0, -1)]
    assert not any("event_id" in e for e in compact)
    assert store.history(d.code) == expected
    # The same entries as written before: the registration's by Python's json, the others by
    # the APPLY script's cjson.
    redis_client.delete(keys.history(d.code))
    redis_client.rpush(keys.history(d.code), json.dumps(expected[0], ensure_ascii=False))
    for entry in expected[1:]:
        redis_client.eval(
            "redis.call('RPUSH', KEYS[1], cjson.encode(cjson.decode(ARGV[1])))",
            1,
            keys.history(d.code),
            json.dumps(entry, ensure_ascii=False),
        )
    assert all("event_id" in str(e) for e in redis_client.lrange(keys.history(d.code), 0, -1))
    assert store.history(d.code) == expected
    assert store.get_with_history(d.code)[1] == expected
    store.apply(d.code, ev("e3", 9, 150), "tuphap", NOW)  # a compact one after them
    assert store.history(d.code) == [
        *expected,
        applied | {"event_id": "e3", "status": 9, "at": "2024-04-23T11:00:00+07:00",
                   "recorded_at": recorded, "current": True, "version": 5},
    ]  # fmt: skip


def test_a_rescheduling_replayed_after_a_later_status_change_still_takes_effect(
    store: DossierStore,
) -> None:
    d = store.register(registration(17), "tuphap", NOW).dossier
    store.apply(d.code, ev("bo-sung", 5, minutes=120), "tuphap", NOW)
    late = ev("gia-han", 4, minutes=60, due_at="2024-05-03T17:00:00+07:00")
    answer = store.apply(d.code, late, "tuphap", NOW)
    assert (answer.current, answer.rescheduled, answer.status) == (False, True, 5)
    got = store.get(d.code)
    assert (got.status, got.due_at) == (Status.SUPPLEMENT_REQUESTED, late.due_at)
    older = ev("hen-cu", 4, minutes=30, due_at="2024-04-29T17:00:00+07:00")
    stale = store.apply(d.code, older, "tuphap", NOW)
    assert (stale.current, stale.rescheduled, stale.due_at) == (False, False, late.due_at)
    assert store.get(d.code).due_at == late.due_at  # an older appointment change never wins
    assert store.history(d.code)[-1]["rescheduled"] is False


def test_the_open_index_follows_the_status_and_the_appointment(
    store: DossierStore, redis_client: redis.Redis
) -> None:
    d = store.register(registration(18), "tuphap", NOW).dossier
    refused = store.register(registration(19, status=3), "tuphap", NOW).dossier
    assert redis_client.zrange(keys.open_by_due(), 0, -1) == [d.code]
    in_open_index(redis_client, refused)
    store.apply(d.code, ev("xong", 9, minutes=70), "tuphap", NOW)
    assert redis_client.zcard(keys.open_by_due()) == 0
    store.apply(d.code, ev("sua", 4, minutes=80), "tuphap", NOW)  # a correction reopens it
    in_open_index(redis_client, store.get(d.code))
    store.apply(d.code, ev("hen", 4, minutes=90, due_at="2024-05-03T17:00:00+07:00"), "tuphap", NOW)
    in_open_index(redis_client, store.get(d.code))
    assert store.get(d.code).due_at == parse_time("due_at", "2024-05-03T17:00:00+07:00")


def test_the_upgrade_step_indexes_dossiers_stored_before_the_scripts_kept_the_index(
    store: DossierStore, redis_client: redis.Redis
) -> None:
    open_one = store.register(registration(20), "tuphap", NOW).dossier
    done = store.register(registration(21), "tuphap", NOW).dossier
    store.apply(done.code, ev("xong", 9), "tuphap", NOW)
    for code_ in (open_one.code, done.code):  # as an earlier version left them
        redis_client.hdel(keys.dossier(code_), "due_ms", "due_set_us")
    redis_client.delete(keys.open_by_due())
    assert store.get(open_one.code).due_set_at is None
    assert store.index_by_due([open_one.code, done.code, code(9999)]) == 2
    assert redis_client.zrange(keys.open_by_due(), 0, -1) == [open_one.code]
    assert store.get(open_one.code) == open_one
    in_open_index(redis_client, store.get(done.code))


def test_every_change_is_published_on_the_change_stream(
    store: DossierStore, redis_client: redis.Redis
) -> None:
    d = store.register(registration(13), "tuphap", NOW).dossier
    store.apply(d.code, ev("e1", 5, minutes=5, note="Thiếu giấy khai sinh"), "tuphap", NOW)
    store.apply(d.code, ev("e1", 5, minutes=5, note="Thiếu giấy khai sinh"), "tuphap", NOW)
    entries: list[Any] = redis_client.xrange("hoso:changes")  # type: ignore[assignment]
    kinds = [(e[1]["kind"], e[1]["status"], e[1].get("previous")) for e in entries]
    assert kinds == [("registered", "2", ""), ("status", "5", "2")]


events = st.lists(
    st.tuples(
        st.integers(1, 10),
        st.integers(-120, 240),
        st.booleans(),
        st.none() | st.integers(0, 20_000),  # a new appointment, minutes after the event
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events)
def test_the_atomic_script_agrees_with_the_pure_core(
    redis_client: redis.Redis, steps: list[tuple[int, int, bool, int | None]]
) -> None:
    redis_client.flushall()
    store = DossierStore(redis_client)
    model = store.register(registration(14), "tuphap", NOW).dossier
    in_open_index(redis_client, model)
    for i, (status, minutes, repeat, due_after) in enumerate(steps):
        extra: dict[str, object] = {"desk": f"desk {i % 3}"}
        if due_after is not None:
            at = T0 + timedelta(minutes=minutes)
            extra["due_at"] = (at + timedelta(minutes=due_after)).isoformat()
        event = ev(f"e{i}", status, minutes=minutes, **extra)
        try:
            expected = apply(model, event)
        except InvalidTransition:
            with pytest.raises(InvalidTransition):
                store.apply(model.code, event, "tuphap", NOW)
            continue
        recorded = store.apply(model.code, event, "tuphap", NOW)
        if repeat:
            assert store.apply(model.code, event, "tuphap", NOW) == replace(recorded, repeated=True)
        assert recorded.current == expected.current
        assert recorded.rescheduled == expected.rescheduled
        model = expected.dossier
        assert recorded.due_at == model.due_at
        assert store.get(model.code) == model
        in_open_index(redis_client, model)


class EventSequences(RuleBasedStateMachine):
    """Random events on one dossier, delivered at least once and out of order, some reusing an
    id for another event. After every step: the history only grew at its end, each status
    change it records is an allowed one, the version counts the current events, and a
    repeated id was answered as the first time without recording anything."""

    store: DossierStore
    redis: redis.Redis

    def __init__(self) -> None:
        super().__init__()
        self.redis.flushall()
        self.code = self.store.register(registration(15), "tuphap", NOW).dossier.code
        self.model = self.store.get(self.code)
        self.history = self.store.history(self.code)
        self.sent: dict[str, tuple[StatusChanged, Recorded]] = {}
        self.n = 0

    @rule(
        status=st.none() | st.sampled_from(list(Status)),
        minutes=st.integers(-120, 600),
        desk=st.none() | st.sampled_from(["Một cửa", "Tư pháp"]),
        due_after=st.none() | st.integers(0, 20_000),
    )
    def new_event(
        self, status: Status | None, minutes: int, desk: str | None, due_after: int | None
    ) -> None:
        self.n += 1
        at = T0 + timedelta(minutes=minutes)
        due_at = None if due_after is None else at + timedelta(minutes=due_after)
        event = StatusChanged(f"e{self.n}", status, at, "tuphap", desk=desk, due_at=due_at)
        try:
            expected = apply(self.model, event)
        except InvalidTransition:
            with pytest.raises(InvalidTransition):
                self.store.apply(self.code, event, "tuphap", NOW)
            assert self.store.history(self.code) == self.history  # nothing recorded
            return
        recorded = self.store.apply(self.code, event, "tuphap", NOW)
        assert not recorded.repeated
        assert recorded.current == expected.current
        self.model = expected.dossier
        self.sent[event.event_id] = (event, recorded)
        history = self.store.history(self.code)
        assert history[: len(self.history)] == self.history  # append-only
        assert len(history) == len(self.history) + 1
        assert history[-1]["event_id"] == event.event_id
        self.history = history

    @precondition(lambda self: bool(self.sent))
    @rule(data=st.data())
    def repeat_an_event(self, data: st.DataObject) -> None:
        event_id = data.draw(st.sampled_from(sorted(self.sent)))
        event, first = self.sent[event_id]
        assert self.store.apply(self.code, event, "tuphap", NOW) == replace(first, repeated=True)
        assert self.store.history(self.code) == self.history

    @precondition(lambda self: bool(self.sent))
    @rule(data=st.data(), minutes=st.integers(1, 60))
    def reuse_an_id_for_another_event(self, data: st.DataObject, minutes: int) -> None:
        event_id = data.draw(st.sampled_from(sorted(self.sent)))
        event, _ = self.sent[event_id]
        other = replace(event, at=event.at + timedelta(minutes=minutes))
        with pytest.raises(EventConflict):
            self.store.apply(self.code, other, "tuphap", NOW)
        assert self.store.history(self.code) == self.history

    @invariant()
    def state_matches_the_pure_core_and_the_history(self) -> None:
        assert self.store.get(self.code) == self.model
        in_open_index(self.redis, self.model)
        current = [e for e in self.history if e["current"]]
        assert [e["version"] for e in current] == list(range(1, self.model.version + 1))
        statuses = [int(e["status"]) for e in current]
        for before, after in itertools.pairwise(statuses):
            assert can_move(Status(before), Status(after)), (before, after)
        assert statuses[-1] == self.model.status


@pytest.mark.slow
def test_random_event_sequences_keep_the_history_append_only_and_ids_idempotent(
    redis_client: redis.Redis,
) -> None:
    EventSequences.store = DossierStore(redis_client)
    EventSequences.redis = redis_client
    run_state_machine_as_test(
        EventSequences,
        settings=settings(max_examples=40, stateful_step_count=25, deadline=None),
    )
