"""Notification policy (pure): which statuses notify, quiet hours, coalescing, template values."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.dossier import Dossier, open_dossier
from gateway.core.notify import (
    DateNotice,
    DatePlan,
    NotifySettingError,
    check_templates,
    date_notice_dedupe,
    date_notice_field,
    in_quiet_hours,
    note_of_status,
    notice_time,
    notifying_statuses,
    plan_date_notices,
    release_time,
    send_after,
    sent_for,
    status_to_announce,
    template_for,
    template_values,
)
from gateway.core.sms_text import DEFAULT_TEMPLATES, PLACEHOLDERS, fill, render
from gateway.core.status import Status
from gateway.core.times import VIETNAM, shown_date
from tests.factories import registration


def vn(hour: int, minute: int = 0, day: int = 23) -> datetime:
    """A moment given in Vietnam's wall-clock time, expressed in UTC (as the clock gives it)."""
    return datetime(2024, 4, day, hour, minute, tzinfo=VIETNAM).astimezone(UTC)


def test_the_default_setting_notifies_the_six_statuses_citizens_care_about() -> None:
    assert notifying_statuses("2,3,5,6,8,9") == {
        Status.RECEIVED,
        Status.REFUSED,
        Status.SUPPLEMENT_REQUESTED,
        Status.FEES_DUE,
        Status.STOPPED,
        Status.DONE,
    }
    assert notifying_statuses(" 9 , ,5") == {Status.DONE, Status.SUPPLEMENT_REQUESTED}
    assert notifying_statuses("") == frozenset()


@pytest.mark.parametrize("setting", ["4", "2,x", "11"])
def test_a_status_without_a_template_or_not_a_status_is_refused(setting: str) -> None:
    with pytest.raises(NotifySettingError, match="notify_statuses"):
        notifying_statuses(setting)


def test_each_notifying_status_has_its_own_template() -> None:
    assert template_for(Status.DONE) == "notify_result_ready"
    assert template_for(Status.SUPPLEMENT_REQUESTED) == "notify_supplement_requested"
    assert template_for(Status.PROCESSING) is None
    check_templates(DEFAULT_TEMPLATES, notifying_statuses("2,3,5,6,8,9"))
    with pytest.raises(NotifySettingError, match="notify_result_ready"):
        check_templates({}, {Status.DONE})


@pytest.mark.parametrize(
    ("hour", "minute", "quiet"),
    [(21, 59, False), (22, 0, True), (23, 10, True), (0, 0, True), (6, 59, True), (7, 0, False)],
)
def test_quiet_hours_run_from_22_00_to_07_00_vietnam_time(
    hour: int, minute: int, quiet: bool
) -> None:
    assert in_quiet_hours(vn(hour, minute), "22:00", "07:00") is quiet
    assert in_quiet_hours(vn(hour, minute), time(22), time(7)) is quiet


def test_quiet_hours_that_do_not_cross_midnight_and_empty_ones() -> None:
    assert in_quiet_hours(vn(12, 30), "12:00", "13:30")
    assert not in_quiet_hours(vn(13, 30), "12:00", "13:30")
    assert not in_quiet_hours(vn(23, 0), "07:00", "07:00")


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        in_quiet_hours(datetime(2024, 4, 23, 23, 0), "22:00", "07:00")


def test_release_time_is_the_next_07_00_across_midnight() -> None:
    assert release_time(vn(23, 10), "22:00", "07:00") == vn(7, 0, day=24)
    assert release_time(vn(0, 30, day=24), "22:00", "07:00") == vn(7, 0, day=24)
    assert release_time(vn(6, 59, day=24), "22:00", "07:00") == vn(7, 0, day=24)
    assert release_time(vn(7, 0), "22:00", "07:00") == vn(7, 0)
    assert release_time(vn(15, 0), "22:00", "07:00") == vn(15, 0)
    assert release_time(vn(23, 10), "22:00", "07:00").tzinfo == UTC


def test_a_notice_waits_for_its_window_and_then_for_the_morning_unless_urgent() -> None:
    assert send_after(vn(10, 0), 120) == vn(10, 2)
    assert send_after(vn(10, 0), timedelta(minutes=5)) == vn(10, 5)
    assert notice_time(vn(10, 0), 120, "22:00", "07:00", urgent=False) == vn(10, 2)
    assert notice_time(vn(21, 59), 120, "22:00", "07:00", urgent=False) == vn(7, 0, day=24)
    assert notice_time(vn(21, 59), 120, "22:00", "07:00", urgent=True) == vn(22, 1)


WARN = timedelta(hours=24)
DUE = vn(17, 0, day=26)  # Friday 26/04/2024 17:00
WARNING_AT = vn(17, 0, day=25)


def plan(
    now: datetime,
    *,
    status: Status = Status.PROCESSING,
    postponed: bool = False,
    warning_at: datetime | None = WARNING_AT,
    apology: bool = True,
    sent: frozenset[DateNotice] = frozenset(),
) -> DatePlan:
    return plan_date_notices(status, DUE, postponed, now, warning_at, apology, sent)


def test_the_warning_comes_from_its_time_until_the_appointment_once() -> None:
    assert plan(vn(16, 59, day=25)) == DatePlan(None, frozenset(), WARNING_AT)
    warned = plan(vn(17, 0, day=25))
    assert warned.notice is DateNotice.DUE_WARNING
    assert warned.covers == {DateNotice.DUE_WARNING}
    assert warned.next_at == DUE + timedelta(microseconds=1)  # then the apology, if late
    assert plan(vn(9, 0, day=26), sent=frozenset({DateNotice.DUE_WARNING})).notice is None
    assert plan(vn(9, 0, day=26), warning_at=None).notice is None


def test_a_settled_dossier_gets_no_date_notice_and_needs_no_look() -> None:
    for status in (Status.DONE, Status.RETURNED, Status.REFUSED, Status.STOPPED, Status.WITHDRAWN):
        for now in (vn(9, 0, day=20), vn(9, 0, day=26), vn(9, 0, day=27)):
            assert plan(now, status=status, postponed=True) == DatePlan(None, frozenset(), None)


def test_the_overdue_apology_comes_once_after_the_appointment_and_then_nothing() -> None:
    after = vn(17, 1, day=26)
    late = plan(after)
    assert late == DatePlan(DateNotice.OVERDUE, frozenset({DateNotice.OVERDUE}), None)
    assert plan(DUE).notice is DateNotice.DUE_WARNING  # at the appointment it is not late yet
    assert plan(after, sent=frozenset({DateNotice.OVERDUE})) == DatePlan(None, frozenset(), None)
    assert plan(after, apology=False) == DatePlan(None, frozenset(), None)
    assert plan(after, postponed=True).notice is DateNotice.OVERDUE  # too late for a new date


def test_a_postponement_is_announced_at_once_and_stands_for_a_warning_already_due() -> None:
    early = plan(vn(9, 0, day=23), postponed=True)
    assert early == DatePlan(
        DateNotice.RESCHEDULED, frozenset({DateNotice.RESCHEDULED}), WARNING_AT
    )
    close = plan(vn(9, 0, day=26), postponed=True)
    assert close.covers == {DateNotice.RESCHEDULED, DateNotice.DUE_WARNING}
    assert close.next_at == DUE + timedelta(microseconds=1)
    assert plan(vn(9, 0, day=23), postponed=True, apology=False).notice is None
    announced = frozenset({DateNotice.RESCHEDULED})
    assert plan(vn(9, 0, day=23), postponed=True, sent=announced).notice is None


def test_with_no_warning_and_no_apology_nothing_is_ever_left_to_look_at() -> None:
    assert plan(vn(9, 0, day=23), warning_at=None, apology=False) == DatePlan(
        None, frozenset(), None
    )


def test_what_was_sent_is_recorded_per_appointment() -> None:
    later = vn(17, 0, day=30)
    fields = [date_notice_field(DateNotice.OVERDUE, DUE), "2", "9"]
    assert fields[0] == f"overdue@{int(DUE.timestamp() * 1000)}"
    assert sent_for(fields, DUE, registered=False) == {DateNotice.OVERDUE}
    assert sent_for(fields, later, registered=False) == frozenset()
    # Fields from before appointments could change count for the registration's appointment.
    legacy = ["due_warning", "overdue", "2"]
    assert sent_for(legacy, DUE, registered=True) == {DateNotice.DUE_WARNING, DateNotice.OVERDUE}
    assert sent_for(legacy, later, registered=False) == frozenset()


def test_date_notices_are_deduplicated_per_appointment() -> None:
    code, phone = "000.00.20.H57-240423-0007", "+84901234567"
    ms = int(DUE.timestamp() * 1000)
    assert (
        date_notice_dedupe(code, DateNotice.OVERDUE, DUE, phone) == f"overdue:{code}:{ms}:{phone}"
    )
    assert date_notice_dedupe(code, DateNotice.DUE_WARNING, DUE, phone).startswith("due-warning:")
    other = date_notice_dedupe(code, DateNotice.OVERDUE, vn(17, 0, day=30), phone)
    assert other != date_notice_dedupe(code, DateNotice.OVERDUE, DUE, phone)


def test_dates_are_written_dd_mm_yyyy_in_vietnam() -> None:
    assert shown_date(datetime(2024, 4, 25, 18, 30, tzinfo=UTC)) == "26/04/2024"
    assert shown_date(vn(17, 0, day=26)) == "26/04/2024"


def dossier(status: Status = Status.RECEIVED, holder: str | None = None) -> Dossier:
    d = open_dossier(registration(7), "tuphap", "K7M2QX4", "ABCDEFGH")
    return replace(d, status=status, holder=holder)


def test_template_values_come_from_the_dossier() -> None:
    d = dossier(status=Status.DONE, holder="Quầy 3")
    values = template_values(d, office="UBND phường Bến Nghé", hotline="02838123456")
    assert set(values) == PLACEHOLDERS
    assert values["code"] == d.code
    assert values["short_code"] == "K7M2QX4"
    assert values["status"] == "Đã xử lý xong"
    assert template_values(d, office="x", hotline="", accented=False)["status"] == "Da xu ly xong"
    assert values["due"] == "26/04/2024"
    assert values["desk"] == "Quầy 3"
    assert values["office"] == "UBND phường Bến Nghé"
    text = fill(DEFAULT_TEMPLATES["notify_result_ready"], values)
    assert render(text, accented_if_free=False).text == (
        f"Ho so {d.code} da co ket qua. Moi ong/ba mang giay bien nhan den Quay 3 de nhan."
    )


def test_without_a_desk_the_office_is_named_and_a_note_fills_the_missing_documents() -> None:
    d = dossier(status=Status.SUPPLEMENT_REQUESTED)
    history = [
        {"status": 5, "note": "Bản sao CCCD", "current": True},
        {"status": 4, "note": "chuyển phòng", "current": True},
        {"status": 5, "note": "old", "current": False},
    ]
    note = note_of_status(history, Status.SUPPLEMENT_REQUESTED)
    assert note == "Bản sao CCCD"
    values = template_values(d, office="Bo phan mot cua", hotline="", note=note)
    assert values["desk"] == "Bo phan mot cua"
    assert values["missing"] == "Bản sao CCCD"
    assert values["hotline"] == "Bo phan mot cua"
    assert note_of_status([], Status.REFUSED) is None
    assert template_values(d, office="x", hotline="")["reason"]  # never empty


def test_the_postponement_notice_names_the_departments_new_date_and_reason() -> None:
    d = replace(dossier(), due_at=vn(9, 0, day=30))
    values = template_values(d, office="x", hotline="", note="Chờ xác minh", new_due=d.due_at)
    assert (values["new_due"], values["reason"]) == ("30/04/2024", "Chờ xác minh")
    text = render(fill(DEFAULT_TEMPLATES["notify_rescheduled"], values), False).text
    assert "Xin hen lai ngay 30/04/2024. Ly do: Cho xac minh." in text


def test_the_overdue_apology_names_no_new_date_and_gives_the_hotline() -> None:
    template = DEFAULT_TEMPLATES["notify_overdue_apology"]
    assert "new_due" not in template.placeholders
    assert "hotline" in template.placeholders
    values = template_values(dossier(), office="UBND phuong Ben Nghe", hotline="028 3829 1234")
    assert render(fill(template, values), False).text == (
        "UBND phuong Ben Nghe xin loi ong/ba: ho so 000.00.20.H57-240423-0007 chua co ket qua "
        "dung hen ngay 26/04/2024. Moi thac mac xin lien he 028 3829 1234."
    )


@given(
    st.lists(st.integers(0, 14 * 24 * 60), min_size=1, max_size=30),
    st.booleans(),
    st.booleans(),
    st.none() | st.integers(0, 72),
)
def test_scans_at_any_times_send_each_date_notice_at_most_once_and_leave_nothing_due(
    minutes: list[int], postponed: bool, apology: bool, warning_hours: int | None
) -> None:
    start = vn(8, 0, day=20)
    warning_at = None if warning_hours is None else DUE - timedelta(hours=warning_hours)
    sent: set[DateNotice] = set()
    for now in sorted(start + timedelta(minutes=m) for m in minutes):
        step = plan_date_notices(
            Status.PROCESSING, DUE, postponed, now, warning_at, apology, frozenset(sent)
        )
        if step.notice is not None:
            assert step.notice not in sent
            assert step.notice in step.covers
            sent |= step.covers
        after = plan_date_notices(
            Status.PROCESSING, DUE, postponed, now, warning_at, apology, frozenset(sent)
        )
        assert after.notice is None  # what is due now was sent
        assert after.next_at is None or after.next_at > now
        if now > DUE:
            assert (DateNotice.OVERDUE in sent) == apology


S = Status
DEFAULT_NOTIFYING = notifying_statuses("2,3,5,6,8,9")


@pytest.mark.parametrize(
    ("current", "reached", "announced", "expected"),
    [
        (S.RECEIVED, [S.RECEIVED], [], S.RECEIVED),
        (S.RECEIVED, [S.RECEIVED], ["2"], None),
        (S.DONE, [S.RECEIVED, S.PROCESSING, S.DONE], ["2"], S.DONE),
        (S.DONE, [S.RECEIVED, S.DONE], [], S.DONE),  # the latest state, not the reception
        # Moved on to a status nobody hears about: the reception, with the lookup code.
        (S.PROCESSING, [S.RECEIVED, S.PROCESSING], [], S.RECEIVED),
        (S.PROCESSING, [S.RECEIVED, S.PROCESSING], ["2", "overdue@1"], None),
        (S.PROCESSING, [S.PROCESSING], [], None),  # registered at 4: never "received"
        (S.WITHDRAWN, [S.RECEIVED, S.WITHDRAWN], [], None),  # settled: nothing to announce
        (S.RETURNED, [S.RECEIVED, S.DONE, S.RETURNED], [], None),
    ],
)
def test_a_notice_announces_the_latest_state_or_a_reception_that_was_moved_past(
    current: Status, reached: list[Status], announced: list[str], expected: Status | None
) -> None:
    assert status_to_announce(current, DEFAULT_NOTIFYING, reached, announced) is expected


def test_a_reception_is_not_announced_where_receptions_do_not_notify() -> None:
    only_results = notifying_statuses("9")
    assert status_to_announce(S.PROCESSING, only_results, [S.RECEIVED, S.PROCESSING], []) is None
