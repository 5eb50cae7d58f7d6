"""Proactive notifications against a real redis-server, with a clock the tests move."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from config.settings import Settings, SmsSettings
from gateway.core.events import StatusChanged
from gateway.core.messages import Priority
from gateway.core.sms_text import DEFAULT_TEMPLATES, Template
from gateway.core.status import Status
from gateway.core.times import VIETNAM
from gateway.core.workdays import parse_calendar
from gateway.store import keys
from gateway.store.dossiers import DossierStore
from gateway.store.notices import GROUP
from gateway.store.outbox import Outbound, Outbox
from gateway.store.templates import Templates
from tests.factories import registration
from worker.notifier import Notifier

PHONE = "+84901234567"
OTHER = "+84987654321"


def vn(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A moment of April 2024 given in Vietnam's wall-clock time, as a UTC datetime."""
    return datetime(2024, 4, day, hour, minute, second, tzinfo=VIETNAM).astimezone(UTC)


class DateClock:
    """A clock tests can set and move, giving aware datetimes."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> DateClock:
    return DateClock(vn(24, 10))  # a Wednesday morning; the dossiers are due Friday 17:00


@pytest.fixture
def dossiers(redis_client: redis.Redis) -> DossierStore:
    return DossierStore(redis_client)


@pytest.fixture
def outbox(redis_client: redis.Redis) -> Outbox:
    return Outbox(redis_client)


MakeNotifier = Callable[..., Notifier]


@pytest.fixture
def make_notifier(
    redis_client: redis.Redis, outbox: Outbox, dossiers: DossierStore, clock: DateClock
) -> MakeNotifier:
    def make(sms: SmsSettings | None = None, **options: Any) -> Notifier:
        return Notifier(redis_client, outbox, dossiers, sms or SmsSettings(), clock, **options)

    return make


@pytest.fixture
def notifier(make_notifier: MakeNotifier) -> Notifier:
    return make_notifier()


def register(dossiers: DossierStore, clock: DateClock, n: int, **overrides: Any) -> str:
    reg = registration(n, **overrides)
    dossiers.register(reg, "tuphap", clock())
    return reg.code


def move(dossiers: DossierStore, clock: DateClock, code: str, status: Status, **extra: Any) -> None:
    """The department says the dossier is now in `status`, at the clock's time."""
    event_id = f"ev-{status}-{clock().timestamp()}"
    ev = StatusChanged(event_id, status, clock(), source="tuphap", **extra)
    dossiers.apply(code, ev, "tuphap", clock())


def queued(outbox: Outbox, clock: DateClock) -> list[Outbound]:
    """Every SMS waiting in the outbox, in the order a modem takes them."""
    out: list[Outbound] = []
    now_ms = int(clock().timestamp() * 1000)
    while (sms := outbox.claim("m1", "", now_ms)) is not None:
        out.append(sms)
    return out


def settle(notifier: Notifier, clock: DateClock, outbox: Outbox) -> list[Outbound]:
    """Takes the changes, lets the window pass, releases; returns what was queued."""
    notifier.take_changes()
    clock.advance(121)
    notifier.release_due()
    return queued(outbox, clock)


# -- status notices ------------------------------------------------------------------------------


def test_a_registered_dossier_is_announced_once_the_window_has_passed(
    dossiers: DossierStore, notifier: Notifier, outbox: Outbox, clock: DateClock
) -> None:
    code = register(dossiers, clock, 1)
    assert notifier.take_changes() == 1
    clock.advance(119)
    assert notifier.release_due() == 0
    clock.advance(1)
    assert notifier.release_due() == 1
    [sms] = queued(outbox, clock)
    assert sms.to == PHONE
    assert sms.priority is Priority.NOTIFICATION
    assert "da tiep nhan ho so " + code in sms.text
    assert "Hen tra ket qua: 26/04/2024" in sms.text
    assert (sms.fields["kind"], sms.fields["dossier"], sms.fields["carrier"]) == (
        "notice",
        code,
        "mobifone",
    )
    assert notifier.release_due() == 0


def test_changes_within_the_window_become_one_sms_with_the_latest_state(
    dossiers: DossierStore, notifier: Notifier, outbox: Outbox, clock: DateClock
) -> None:
    # 4 -> 5 -> 9 as the issue tells it; 5 cannot go to 9 directly, so it passes through 4.
    code = register(dossiers, clock, 2)
    settle(notifier, clock, outbox)  # the "received" notice
    for status in (Status.PROCESSING, Status.SUPPLEMENT_REQUESTED, Status.PROCESSING, Status.DONE):
        move(dossiers, clock, code, status, desk="Quầy 3")
        notifier.take_changes()
        clock.advance(20)
    assert notifier.release_due() == 0  # 60 s after the first change that notifies (to 5)
    clock.advance(59)
    assert notifier.release_due() == 0
    clock.advance(1)  # 120 s after it
    assert notifier.release_due() == 1
    [sms] = queued(outbox, clock)
    assert sms.text == (
        f"Ho so {code} da co ket qua. Moi ong/ba mang giay bien nhan den Quay 3 de nhan."
    )
    clock.advance(3600)
    assert notifier.release_due() == 0


def test_the_same_status_twice_is_announced_once(
    dossiers: DossierStore, notifier: Notifier, outbox: Outbox, clock: DateClock
) -> None:
    code = register(dossiers, clock, 3)
    settle(notifier, clock, outbox)
    move(dossiers, clock, code, Status.SUPPLEMENT_REQUESTED, note="Bản sao CCCD")
    [first] = settle(notifier, clock, outbox)
    assert "can bo sung: Ban sao CCCD" in first.text
    move(dossiers, clock, code, Status.PROCESSING)
    move(dossiers, clock, code, Status.SUPPLEMENT_REQUESTED, note="Bản sao CCCD")
    assert settle(notifier, clock, outbox) == []


def test_taking_the_changes_twice_sends_one_sms(
    dossiers: DossierStore, make_notifier: MakeNotifier, outbox: Outbox, clock: DateClock
) -> None:
    register(dossiers, clock, 4)
    one, two = make_notifier(consumer="a"), make_notifier(consumer="b")
    assert one.take_changes() == 1
    assert one.take_changes() == 0
    assert two.take_changes() == 0
    clock.advance(120)
    assert one.release_due() + two.release_due() == 1
    assert len(queued(outbox, clock)) == 1


def test_changes_a_dead_consumer_read_are_taken_over_and_sent_once(
    dossiers: DossierStore,
    make_notifier: MakeNotifier,
    redis_client: redis.Redis,
    outbox: Outbox,
    clock: DateClock,
) -> None:
    patient = make_notifier(consumer="patient")  # waits 60 s before taking over
    eager = make_notifier(consumer="eager", reclaim_after=timedelta(0))
    patient.take_changes()  # the group exists from here on
    register(dossiers, clock, 5)
    read: Any = redis_client.xreadgroup(GROUP, "dead", {keys.changes(): ">"}, count=10)
    assert len(read[0][1]) == 1  # ... and the consumer dies before recording it
    assert patient.take_changes() == 0  # not idle long enough yet
    assert eager.take_changes() == 1
    assert eager.take_changes() == 0  # acknowledged with the record
    assert redis_client.xpending(keys.changes(), GROUP)["pending"] == 0
    clock.advance(120)
    assert eager.release_due() == 1
    assert len(queued(outbox, clock)) == 1


def test_a_release_interrupted_after_enqueueing_sends_nothing_twice(
    dossiers: DossierStore,
    notifier: Notifier,
    redis_client: redis.Redis,
    outbox: Outbox,
    clock: DateClock,
) -> None:
    code = register(dossiers, clock, 6, phones=[PHONE, OTHER])
    notifier.take_changes()
    pending: dict[Any, Any] = dict(redis_client.hgetall(keys.notice(code)))
    clock.advance(120)
    assert notifier.release_due() == 2
    # The state a worker leaves when it dies after its enqueues, before the finishing script:
    redis_client.hset(keys.notice(code), mapping=pending)
    redis_client.zadd(keys.notices_due(), {code: 0})
    redis_client.hdel(keys.notified(code), str(int(Status.RECEIVED)))
    clock.advance(60)
    assert notifier.release_due() == 2  # enqueued again: the outbox answers with the same SMS
    assert sorted(s.to for s in queued(outbox, clock)) == [PHONE, OTHER]
    assert redis_client.zcard(keys.notices_due()) == 0


def test_statuses_not_in_the_setting_send_nothing(
    dossiers: DossierStore, make_notifier: MakeNotifier, outbox: Outbox, clock: DateClock
) -> None:
    notifier = make_notifier()
    code = register(dossiers, clock, 7)
    settle(notifier, clock, outbox)
    move(dossiers, clock, code, Status.PROCESSING)
    assert settle(notifier, clock, outbox) == []
    only_results = make_notifier(SmsSettings(notify_statuses="9"), consumer="other")
    register(dossiers, clock, 8)
    assert settle(only_results, clock, outbox) == []


def test_a_dossier_moved_on_to_processing_within_the_window_still_tells_its_lookup_code(
    dossiers: DossierStore, notifier: Notifier, outbox: Outbox, clock: DateClock
) -> None:
    """Registered, then taken up (4, which notifies nobody) a minute later: the citizen still
    gets the reception's SMS, the one with the lookup code, once."""
    code = register(dossiers, clock, 28)
    notifier.take_changes()
    clock.advance(60)
    move(dossiers, clock, code, Status.PROCESSING, desk="Phòng Tư pháp")
    [sms] = settle(notifier, clock, outbox)
    assert sms.text.startswith(f"Bo phan mot cua da tiep nhan ho so {code}. Hen tra ket qua:")
    assert "Tra cuu: soan HS " in sms.text
    move(dossiers, clock, code, Status.PROCESSING, desk="Phòng Tài chính")
    assert settle(notifier, clock, outbox) == []  # announced once


def test_a_dossier_registered_and_withdrawn_within_the_window_is_not_told_it_was_received(
    dossiers: DossierStore, notifier: Notifier, outbox: Outbox, clock: DateClock
) -> None:
    code = register(dossiers, clock, 29)
    notifier.take_changes()
    move(dossiers, clock, code, Status.WITHDRAWN)
    assert settle(notifier, clock, outbox) == []


def test_a_notice_for_a_dossier_that_moved_on_sends_the_latest_state_only(
    dossiers: DossierStore, notifier: Notifier, outbox: Outbox, clock: DateClock
) -> None:
    code = register(dossiers, clock, 9)
    settle(notifier, clock, outbox)
    move(dossiers, clock, code, Status.SUPPLEMENT_REQUESTED)
    notifier.take_changes()
    clock.advance(300)  # the window is over, no release has run yet
    move(dossiers, clock, code, Status.PROCESSING)
    move(dossiers, clock, code, Status.DONE)
    notifier.take_changes()
    assert notifier.release_due() == 1
    [sms] = queued(outbox, clock)
    assert "da co ket qua" in sms.text
    clock.advance(300)
    assert notifier.release_due() == 0


# -- quiet hours and opt-outs -------------------------------------------------------------------


def test_a_change_in_quiet_hours_is_held_until_07_00_and_released_in_order_of_change(
    dossiers: DossierStore, notifier: Notifier, outbox: Outbox, clock: DateClock
) -> None:
    clock.set(vn(23, 22, 30))
    later = register(dossiers, clock, 11)  # announced second although its code sorts first
    notifier.take_changes()
    clock.set(vn(23, 23, 10))
    first = register(dossiers, clock, 10)
    notifier.take_changes()
    clock.set(vn(23, 23, 12, 1))
    assert notifier.release_due() == 0
    clock.set(vn(24, 6, 59, 59))
    assert notifier.release_due() == 0
    assert queued(outbox, clock) == []
    clock.set(vn(24, 7, 0))
    assert notifier.release_due() == 2
    assert [s.fields["dossier"] for s in queued(outbox, clock)] == [later, first]


def test_a_notice_due_just_before_22_00_and_released_late_waits_for_the_morning(
    dossiers: DossierStore, notifier: Notifier, outbox: Outbox, clock: DateClock
) -> None:
    clock.set(vn(23, 21, 55))
    register(dossiers, clock, 12)
    notifier.take_changes()
    clock.set(vn(23, 22, 5))  # the worker was late: now it is quiet
    assert notifier.release_due() == 0
    clock.set(vn(24, 7, 0))
    assert notifier.release_due() == 1


def test_an_urgent_template_is_not_held_by_quiet_hours(
    dossiers: DossierStore, make_notifier: MakeNotifier, outbox: Outbox, clock: DateClock
) -> None:
    body = DEFAULT_TEMPLATES["notify_result_ready"].body
    urgent = {
        **DEFAULT_TEMPLATES,
        "notify_result_ready": Template("notify_result_ready", body, True),
    }
    notifier = make_notifier(templates=urgent)
    code = register(dossiers, clock, 13)
    settle(notifier, clock, outbox)
    clock.set(vn(24, 23, 10))
    move(dossiers, clock, code, Status.DONE)
    notifier.take_changes()
    clock.advance(120)
    assert notifier.release_due() == 1
    [sms] = queued(outbox, clock)
    assert sms.priority is Priority.URGENT
    assert "da co ket qua" in sms.text


def test_a_phone_that_opts_out_while_its_notice_is_held_gets_nothing(
    dossiers: DossierStore,
    notifier: Notifier,
    redis_client: redis.Redis,
    outbox: Outbox,
    clock: DateClock,
) -> None:
    clock.set(vn(23, 23, 10))
    register(dossiers, clock, 14, phones=[PHONE, OTHER])
    notifier.take_changes()
    redis_client.sadd(keys.opted_out(), PHONE)  # "HUY" at 23:30
    clock.set(vn(24, 7, 0))
    assert notifier.release_due() == 1
    assert [s.to for s in queued(outbox, clock)] == [OTHER]


# -- appointment dates ----------------------------------------------------------------------------


def test_the_due_date_warning_goes_once_and_not_to_a_dossier_already_done(
    dossiers: DossierStore,
    notifier: Notifier,
    redis_client: redis.Redis,
    outbox: Outbox,
    clock: DateClock,
) -> None:
    waiting = register(dossiers, clock, 15)  # due 26/04 17:00
    done = register(dossiers, clock, 16)
    move(dossiers, clock, done, Status.DONE)
    settle(notifier, clock, outbox)
    assert redis_client.zrange(keys.open_by_due(), 0, -1) == [waiting]
    clock.set(vn(25, 16, 59))
    assert notifier.scan_due_dates() == 0
    clock.set(vn(25, 17, 0))
    assert notifier.scan_due_dates() == 1
    [sms] = queued(outbox, clock)
    assert sms.fields["dossier"] == waiting
    assert "co hen tra ket qua ngay 26/04/2024" in sms.text
    clock.advance(300)
    assert notifier.scan_due_dates() == 0


def test_a_dossier_done_before_its_change_is_taken_gets_no_warning(
    dossiers: DossierStore, notifier: Notifier, outbox: Outbox, clock: DateClock
) -> None:
    code = register(dossiers, clock, 17)
    settle(notifier, clock, outbox)
    move(dossiers, clock, code, Status.DONE)  # not taken yet
    clock.set(vn(26, 9, 0))
    assert notifier.scan_due_dates() == 0
    assert queued(outbox, clock) == []


def test_date_notices_wait_out_quiet_hours_and_skip_opted_out_phones(
    dossiers: DossierStore,
    notifier: Notifier,
    redis_client: redis.Redis,
    outbox: Outbox,
    clock: DateClock,
) -> None:
    register(dossiers, clock, 18, phones=[PHONE, OTHER], due_at="2024-04-26T07:30:00+07:00")
    settle(notifier, clock, outbox)
    redis_client.sadd(keys.opted_out(), OTHER)
    clock.set(vn(25, 23, 0))
    assert notifier.scan_due_dates() == 0
    clock.set(vn(26, 7, 0))
    assert notifier.scan_due_dates() == 1
    assert [s.to for s in queued(outbox, clock)] == [PHONE]


def test_the_overdue_apology_goes_once_with_the_hotline_and_invents_no_date(
    dossiers: DossierStore,
    make_notifier: MakeNotifier,
    redis_client: redis.Redis,
    outbox: Outbox,
    clock: DateClock,
) -> None:
    notifier = make_notifier(SmsSettings(hotline="0203 3825 111"))
    code = register(dossiers, clock, 19)
    settle(notifier, clock, outbox)
    clock.set(vn(26, 17, 1))
    assert notifier.scan_due_dates() == 1  # the warning was never sent: too late for it now
    [sms] = queued(outbox, clock)
    assert sms.text == (
        f"Bo phan mot cua xin loi ong/ba: ho so {code} chua co ket qua dung hen ngay "
        "26/04/2024. Moi thac mac xin lien he 0203 3825 111."
    )
    clock.advance(600)
    assert notifier.scan_due_dates() == 0
    assert redis_client.zrange(keys.open_by_due(), 0, -1) == [code]  # still overdue, still listed


def test_a_late_dossier_stays_in_the_overdue_index_after_its_apology_until_its_result_is_ready(
    dossiers: DossierStore,
    notifier: Notifier,
    redis_client: redis.Redis,
    outbox: Outbox,
    clock: DateClock,
) -> None:
    code = register(dossiers, clock, 26)
    settle(notifier, clock, outbox)
    clock.set(vn(26, 18, 0))
    assert notifier.scan_due_dates() == 1  # the apology
    due_ms = int(vn(26, 17).timestamp() * 1000)
    for status in (Status.PROCESSING, Status.SUPPLEMENT_REQUESTED, Status.PROCESSING):
        move(dossiers, clock, code, status)
        notifier.take_changes()
        clock.advance(3600)
        notifier.release_due()
        assert notifier.scan_due_dates() == 0  # nothing more to say about this appointment
        assert redis_client.zscore(keys.open_by_due(), code) == due_ms
        assert dossiers.get(code).is_overdue(clock())
    move(dossiers, clock, code, Status.DONE)  # the result is ready: lateness ends here
    assert redis_client.zcard(keys.open_by_due()) == 0
    assert not dossiers.get(code).is_overdue(clock())
    notifier.take_changes()
    clock.set(vn(27, 7, 0))  # after the quiet hours
    assert notifier.release_due() == 1  # "result ready"
    assert notifier.scan_due_dates() == 0
    assert redis_client.zcard(keys.date_notices_due()) == 0


def test_a_postponement_tells_the_departments_date_and_reason_and_a_missed_one_is_apologised_for(
    dossiers: DossierStore,
    make_notifier: MakeNotifier,
    redis_client: redis.Redis,
    outbox: Outbox,
    clock: DateClock,
) -> None:
    notifier = make_notifier(SmsSettings(hotline="0203 3825 111", due_warning_hours=0))
    code = register(dossiers, clock, 27)
    settle(notifier, clock, outbox)
    clock.set(vn(25, 9, 0))
    move(
        dossiers,
        clock,
        code,
        Status.PROCESSING,
        due_at=vn(30, 17, 0),
        note="Chờ kết quả xác minh của UBND xã",
    )
    assert notifier.take_changes() == 1
    clock.advance(60)
    assert notifier.scan_due_dates() == 1
    [sms] = queued(outbox, clock)
    assert sms.text == (
        f"Bo phan mot cua xin loi ong/ba: ho so {code} chua the tra ket qua nhu da hen. "
        "Xin hen lai ngay 30/04/2024. Ly do: Cho ket qua xac minh cua UBND xa. "
        "Mong ong/ba thong cam."
    )
    clock.set(vn(27, 9, 0))  # the first appointment has passed: it is not the one in force
    assert notifier.scan_due_dates() == 0
    assert not dossiers.get(code).is_overdue(clock())
    clock.set(vn(30, 17, 1))  # the new appointment is missed as well
    assert notifier.scan_due_dates() == 1
    [late] = queued(outbox, clock)
    assert late.text == (
        f"Bo phan mot cua xin loi ong/ba: ho so {code} chua co ket qua dung hen ngay "
        "30/04/2024. Moi thac mac xin lien he 0203 3825 111."
    )
    assert redis_client.zrange(keys.open_by_due(), 0, -1) == [code]
    clock.advance(86400)
    assert notifier.scan_due_dates() == 0


def test_an_apology_then_a_new_date_then_nothing_twice(
    dossiers: DossierStore, notifier: Notifier, outbox: Outbox, clock: DateClock
) -> None:
    code = register(dossiers, clock, 28)
    settle(notifier, clock, outbox)
    clock.set(vn(26, 17, 30))
    assert notifier.scan_due_dates() == 1
    assert "chua co ket qua dung hen ngay 26/04/2024" in queued(outbox, clock)[0].text
    clock.set(vn(27, 8, 0))  # the department gives the late dossier a new appointment
    move(dossiers, clock, code, Status.PROCESSING, due_at=datetime(2024, 5, 3, 17, tzinfo=VIETNAM))
    notifier.take_changes()
    assert notifier.scan_due_dates() == 1
    [new_date] = queued(outbox, clock)
    assert "Xin hen lai ngay 03/05/2024. Ly do: xem tai bo phan mot cua." in new_date.text
    clock.advance(3600)
    move(dossiers, clock, code, Status.PROCESSING)  # later events do not announce it again
    notifier.take_changes()
    clock.advance(3600)
    assert notifier.scan_due_dates() == 0
    assert [s.text for s in queued(outbox, clock)] == []


def test_an_appointment_brought_forward_gets_no_apology_but_its_warning(
    dossiers: DossierStore, notifier: Notifier, outbox: Outbox, clock: DateClock
) -> None:
    code = register(dossiers, clock, 29)
    settle(notifier, clock, outbox)
    move(dossiers, clock, code, Status.PROCESSING, due_at=vn(25, 17, 0))
    notifier.take_changes()
    assert notifier.scan_due_dates() == 0
    clock.set(vn(24, 17, 0))
    assert notifier.scan_due_dates() == 1
    [warning] = queued(outbox, clock)
    assert "co hen tra ket qua ngay 25/04/2024" in warning.text


def test_the_warning_counts_working_days_and_skips_holidays(
    dossiers: DossierStore, make_notifier: MakeNotifier, outbox: Outbox, clock: DateClock
) -> None:
    # 2024: 29/04 swapped off (worked on Saturday 04/05), 30/04 and 01/05 public holidays.
    calendar = parse_calendar(["2024-04-29", "2024-04-30", "2024-05-01"], ["2024-05-04"])
    notifier = make_notifier(calendar=calendar)
    register(dossiers, clock, 30, due_at="2024-05-02T08:00:00+07:00")
    settle(notifier, clock, outbox)
    clock.set(vn(26, 7, 59))  # Friday: 24 working hours before Thursday 08:00 is 08:00 today
    assert notifier.scan_due_dates() == 0
    clock.set(vn(26, 8, 0))
    assert notifier.scan_due_dates() == 1
    [warning] = queued(outbox, clock)
    assert "co hen tra ket qua ngay 02/05/2024" in warning.text


def test_an_apology_template_edited_to_state_a_new_date_is_not_used_for_one_there_is_not(
    dossiers: DossierStore, make_notifier: MakeNotifier, outbox: Outbox, clock: DateClock
) -> None:
    old_edit = Template(
        "notify_overdue_apology", "Xin loi, ho so {code} tre hen. Hen lai ngay {new_due}."
    )
    notifier = make_notifier(templates={**DEFAULT_TEMPLATES, "notify_overdue_apology": old_edit})
    register(dossiers, clock, 31)
    settle(notifier, clock, outbox)
    clock.set(vn(27, 9, 0))
    assert notifier.scan_due_dates() == 1
    [sms] = queued(outbox, clock)
    assert "Hen lai" not in sms.text
    assert "chua co ket qua dung hen ngay 26/04/2024" in sms.text


def test_an_apology_sent_by_an_earlier_version_is_not_sent_again(
    dossiers: DossierStore,
    notifier: Notifier,
    redis_client: redis.Redis,
    outbox: Outbox,
    clock: DateClock,
) -> None:
    code = register(dossiers, clock, 32)
    settle(notifier, clock, outbox)
    redis_client.hset(keys.notified(code), mapping={"due_warning": 1, "overdue": 2})
    clock.set(vn(27, 9, 0))
    assert notifier.scan_due_dates() == 0
    assert queued(outbox, clock) == []


def test_no_apology_when_the_setting_turns_it_off(
    dossiers: DossierStore, make_notifier: MakeNotifier, outbox: Outbox, clock: DateClock
) -> None:
    notifier = make_notifier(SmsSettings(overdue_apology=False, due_warning_hours=0))
    register(dossiers, clock, 20)
    settle(notifier, clock, outbox)
    clock.set(vn(27, 9, 0))
    assert notifier.scan_due_dates() == 0
    assert queued(outbox, clock) == []


def test_indexing_existing_dossiers_covers_the_past_without_announcing_it(
    dossiers: DossierStore,
    make_notifier: MakeNotifier,
    redis_client: redis.Redis,
    outbox: Outbox,
    clock: DateClock,
) -> None:
    open_one = register(dossiers, clock, 21)
    closed = register(dossiers, clock, 22)
    move(dossiers, clock, closed, Status.DONE)
    notifier = make_notifier()
    assert notifier.index_existing() == 2
    assert redis_client.zrange(keys.open_by_due(), 0, -1) == [open_one]
    assert settle(notifier, clock, outbox) == []  # the group starts after the past
    register(dossiers, clock, 23)
    assert len(settle(notifier, clock, outbox)) == 1


# -- the worker's jobs ------------------------------------------------------------------------


def test_the_worker_jobs_take_release_and_scan_with_the_injected_clock(
    dossiers: DossierStore, redis_client: redis.Redis, outbox: Outbox, clock: DateClock
) -> None:
    from worker import context, notifications

    context.configure(Settings(), redis_client, clock)
    Templates(redis_client).save("notify_received", "Da nhan ho so {short_code}. {office}")
    register(dossiers, clock, 24)
    assert notifications.tick() == {"changes": 1, "sent": 0}
    clock.advance(120)
    assert notifications.tick() == {"changes": 0, "sent": 1}
    clock.set(vn(25, 17, 0))
    assert notifications.scan() == {"sent": 1}
    received, warning = queued(outbox, clock)
    assert received.text.startswith("Da nhan ho so ")  # the administrator's edit
    assert "co hen tra ket qua ngay 26/04/2024" in warning.text


def test_the_date_notices_of_a_change_go_with_the_next_tick_not_the_next_scan(
    dossiers: DossierStore, redis_client: redis.Redis, outbox: Outbox, clock: DateClock
) -> None:
    from worker import context, notifications

    context.configure(Settings(), redis_client, clock)
    code = register(dossiers, clock, 26)
    notifications.tick()
    clock.advance(120)
    notifications.tick()  # the reception's notice
    move(dossiers, clock, code, Status.PROCESSING, due_at=vn(30, 17), note="Chờ xác minh")
    assert notifications.tick() == {"changes": 1, "sent": 0}
    assert notifications.dates() == {"sent": 1}  # the department's new date
    late = register(dossiers, clock, 27, due_at="2024-04-23T17:00:00+07:00")
    assert notifications.tick() == {"changes": 1, "sent": 0}
    assert notifications.dates() == {"sent": 1}  # the apology
    assert notifications.dates() == {"sent": 0}
    received, rescheduled, apology = queued(outbox, clock)
    assert "da tiep nhan ho so " + code in received.text
    assert rescheduled.text == (
        f"Bo phan mot cua xin loi ong/ba: ho so {code} chua the tra ket qua nhu da hen. Xin hen"
        " lai ngay 30/04/2024. Ly do: Cho xac minh. Mong ong/ba thong cam."
    )
    assert apology.text.startswith(f"Bo phan mot cua xin loi ong/ba: ho so {late} chua co ket")


def test_a_dossier_reopened_after_done_comes_back_into_the_date_index(
    dossiers: DossierStore,
    notifier: Notifier,
    redis_client: redis.Redis,
    outbox: Outbox,
    clock: DateClock,
) -> None:
    code = register(dossiers, clock, 25)
    move(dossiers, clock, code, Status.DONE)
    settle(notifier, clock, outbox)
    assert redis_client.zcard(keys.open_by_due()) == 0
    move(dossiers, clock, code, Status.PROCESSING)
    settle(notifier, clock, outbox)
    assert redis_client.zrange(keys.open_by_due(), 0, -1) == [code]
