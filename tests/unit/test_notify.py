"""Notification policy (pure): which statuses notify, quiet hours, coalescing, template values."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from gateway.core.dossier import Dossier, open_dossier
from gateway.core.notify import (
    DateNotice,
    NotifySettingError,
    add_working_days,
    check_templates,
    date_notice,
    date_notices_over,
    format_date,
    in_quiet_hours,
    note_of_status,
    notice_time,
    notifying_statuses,
    release_time,
    send_after,
    template_for,
    template_values,
)
from gateway.core.sms_text import DEFAULT_TEMPLATES, PLACEHOLDERS, fill, render
from gateway.core.status import Status
from gateway.core.times import VIETNAM
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


def test_the_warning_comes_within_its_hours_before_the_appointment_once() -> None:
    due = vn(17, 0, day=26)
    warn = timedelta(hours=24)
    assert date_notice(Status.PROCESSING, due, vn(16, 59, day=25), warn, True, []) is None
    assert (
        date_notice(Status.PROCESSING, due, vn(17, 0, day=25), warn, True, [])
        is DateNotice.DUE_WARNING
    )
    assert (
        date_notice(Status.PROCESSING, due, vn(9, 0, day=26), warn, True, ["due_warning"]) is None
    )
    assert date_notice(Status.PROCESSING, due, vn(9, 0, day=26), timedelta(0), True, []) is None


def test_a_settled_dossier_gets_no_date_notice() -> None:
    due = vn(17, 0, day=26)
    for status in (Status.DONE, Status.RETURNED, Status.REFUSED, Status.STOPPED):
        assert date_notice(status, due, vn(9, 0, day=26), timedelta(hours=24), True, []) is None
        assert date_notice(status, due, vn(9, 0, day=27), timedelta(hours=24), True, []) is None
        assert date_notices_over(status, due, vn(9, 0, day=20), True, [])


def test_the_overdue_apology_comes_once_after_the_appointment() -> None:
    due = vn(17, 0, day=26)
    after = vn(17, 1, day=26)
    assert date_notice(Status.PROCESSING, due, after, timedelta(hours=24), True, []) is (
        DateNotice.OVERDUE
    )
    assert (
        date_notice(Status.PROCESSING, due, after, timedelta(hours=24), True, ["overdue"]) is None
    )
    assert date_notice(Status.PROCESSING, due, after, timedelta(hours=24), False, []) is None
    assert not date_notices_over(Status.PROCESSING, due, after, True, ["due_warning"])
    assert date_notices_over(Status.PROCESSING, due, after, True, ["overdue"])
    assert date_notices_over(Status.PROCESSING, due, after, False, [])


def test_working_days_skip_the_weekend() -> None:
    friday = vn(16, 0, day=26)
    assert add_working_days(friday, 1).date() == datetime(2024, 4, 29).date()
    assert add_working_days(friday, 3).date() == datetime(2024, 5, 1).date()


def test_dates_are_written_dd_mm_yyyy_in_vietnam() -> None:
    assert format_date(datetime(2024, 4, 25, 18, 30, tzinfo=UTC)) == "26/04/2024"
    assert format_date(vn(17, 0, day=26)) == "26/04/2024"


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


def test_the_apology_names_the_new_date() -> None:
    d = dossier()
    values = template_values(d, office="x", hotline="", new_due=vn(9, 0, day=30))
    assert values["new_due"] == "30/04/2024"
    assert values["due"] == "26/04/2024"
