"""Proactive notifications: which changes a citizen hears about, and when (pure).

A notice is made per dossier, not per change: changes within the coalescing window become one
SMS carrying the latest state, and a (dossier, status) is announced at most once. Proactive SMS
wait out the quiet hours (22:00-07:00 in Vietnam by default) unless their template is urgent.
Besides status notices there are two date notices: a warning some hours before the appointment
(ngày hẹn trả) while the dossier is not ready, and an apology once it is overdue (quá hạn).

Times here are aware datetimes passed in; nothing reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any

from gateway.core.dossier import Dossier
from gateway.core.errors import CoreError
from gateway.core.sms_text import Template
from gateway.core.status import SETTLED, Status
from gateway.core.times import VIETNAM

# The template that announces each status; a status without one cannot be notified.
TEMPLATE_OF_STATUS: dict[Status, str] = {
    Status.RECEIVED: "notify_received",
    Status.REFUSED: "notify_refused",
    Status.SUPPLEMENT_REQUESTED: "notify_supplement_requested",
    Status.FEES_DUE: "notify_fees_due",
    Status.STOPPED: "notify_stopped",
    Status.DONE: "notify_result_ready",
}
DUE_SOON_TEMPLATE = "notify_due_soon"
OVERDUE_TEMPLATE = "notify_overdue_apology"

# What a placeholder says when the event that set the status carried no note.
FALLBACK_MISSING = "giấy tờ theo hướng dẫn của cán bộ"
FALLBACK_FEE = "theo quy định"
FALLBACK_REASON = "xem tại bộ phận một cửa"


class NotifySettingError(CoreError):
    """A notification setting that cannot be used (named in the message)."""


class DateNotice(StrEnum):
    """The notices made from the appointment date; each is sent once per dossier."""

    DUE_WARNING = "due_warning"
    OVERDUE = "overdue"


# -- settings ----------------------------------------------------------------------------------


def notifying_statuses(setting: str) -> frozenset[Status]:
    """``"2,3,5,6,8,9"`` -> the statuses that notify. Refuses a code that is not a status or has
    no notice template (e.g. 4), so a bad setting stops the worker instead of going silent."""
    statuses: set[Status] = set()
    for piece in setting.replace(";", ",").split(","):
        text = piece.strip()
        if not text:
            continue
        try:
            status = Status(int(text))
        except ValueError as exc:
            raise NotifySettingError(f"sms.notify_statuses: {text!r} is not a status") from exc
        if status not in TEMPLATE_OF_STATUS:
            raise NotifySettingError(
                f"sms.notify_statuses: status {int(status)} has no notice template"
            )
        statuses.add(status)
    return frozenset(statuses)


def template_for(status: Status) -> str | None:
    """The name of the template announcing `status`, if it has one."""
    return TEMPLATE_OF_STATUS.get(status)


def check_templates(templates: Mapping[str, Template], statuses: Iterable[Status]) -> None:
    """Every template the notifier may need exists."""
    needed = {TEMPLATE_OF_STATUS[s] for s in statuses} | {DUE_SOON_TEMPLATE, OVERDUE_TEMPLATE}
    missing = sorted(needed - set(templates))
    if missing:
        raise NotifySettingError(f"templates: missing {', '.join(missing)}")


def clock_time(value: time | str) -> time:
    """``"22:00"`` -> 22:00 (a wall-clock time in Vietnam)."""
    if isinstance(value, time):
        return value
    try:
        hours, minutes = value.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError as exc:
        raise NotifySettingError(f"not a time of day (HH:MM): {value!r}") from exc


# -- when ----------------------------------------------------------------------------------------


def _local(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"naive datetime: {now!r}")
    return now.astimezone(VIETNAM)


def in_quiet_hours(now: datetime, start: time | str, end: time | str) -> bool:
    """Whether `now` falls in [start, end) Vietnam time; the span may cross midnight. Equal
    start and end mean no quiet hours."""
    begin, finish = clock_time(start), clock_time(end)
    wall = _local(now).time().replace(tzinfo=None)
    if begin == finish:
        return False
    if begin < finish:
        return begin <= wall < finish
    return wall >= begin or wall < finish


def release_time(now: datetime, start: time | str, end: time | str) -> datetime:
    """`now` if a proactive SMS may go now, else the next `end` (e.g. 07:00) in Vietnam."""
    if not in_quiet_hours(now, start, end):
        return now
    finish = clock_time(end)
    local = _local(now)
    release = local.replace(hour=finish.hour, minute=finish.minute, second=0, microsecond=0)
    if release <= local:
        release += timedelta(days=1)
    return release.astimezone(now.tzinfo)


def send_after(changed_at: datetime, window: timedelta | int) -> datetime:
    """When a notice for a change may go: the end of its coalescing window."""
    seconds = window if isinstance(window, timedelta) else timedelta(seconds=window)
    return changed_at + seconds


def notice_time(
    changed_at: datetime,
    window: timedelta | int,
    start: time | str,
    end: time | str,
    urgent: bool,
) -> datetime:
    """When a notice may go: after the coalescing window, and out of quiet hours unless
    urgent."""
    after = send_after(changed_at, window)
    return after if urgent else release_time(after, start, end)


def date_notice(
    status: Status,
    due_at: datetime,
    now: datetime,
    warning: timedelta,
    apology: bool,
    sent: Iterable[str],
) -> DateNotice | None:
    """The date notice a dossier needs now, if any: the warning from `warning` before the
    appointment until it (0: never), the apology once the appointment has passed; none for a
    settled dossier, and each only once (`sent` holds those already sent)."""
    if status in SETTLED:
        return None
    done = set(sent)
    if now > due_at:
        if apology and DateNotice.OVERDUE not in done:
            return DateNotice.OVERDUE
        return None
    if warning > timedelta(0) and now >= due_at - warning and DateNotice.DUE_WARNING not in done:
        return DateNotice.DUE_WARNING
    return None


def date_notices_over(
    status: Status, due_at: datetime, now: datetime, apology: bool, sent: Iterable[str]
) -> bool:
    """Whether no date notice can be due any more for this dossier (it can leave the index)."""
    if status in SETTLED:
        return True
    return now > due_at and (not apology or DateNotice.OVERDUE in set(sent))


def add_working_days(start: datetime, days: int) -> datetime:
    """`days` working days (Monday to Friday) after `start`, in Vietnam time."""
    day = _local(start)
    left = days
    while left > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day


# -- what -------------------------------------------------------------------------------------


def format_date(value: datetime) -> str:
    """The date as Vietnamese texts write it, in Vietnam: 26/04/2024."""
    return _local(value).strftime("%d/%m/%Y")


def note_of_status(history: Iterable[Mapping[str, Any]], status: Status) -> str | None:
    """The note of the latest event that put the dossier in `status` (e.g. the documents to
    supplement, the fee, the reason of a refusal), if it carried one."""
    note: str | None = None
    for entry in history:
        if entry.get("current", True) and entry.get("status") == int(status):
            value = entry.get("note")
            note = str(value) if value else None
    return note


def template_values(
    d: Dossier,
    *,
    office: str,
    hotline: str,
    note: str | None = None,
    new_due: datetime | None = None,
    accented: bool = True,
) -> dict[str, str]:
    """A value for every placeholder, taken from the dossier. The status label is accented by
    default: `sms_text.render` strips the whole text unless accents cost no extra part."""
    desk = d.holder or office
    label = d.status.label if accented else d.status.label_ascii
    values = {
        "code": d.code,
        "short_code": d.short_code,
        "status": label,
        "due": format_date(d.due_at),
        "new_due": format_date(new_due) if new_due is not None else format_date(d.due_at),
        "desk": desk,
        "missing": note or FALLBACK_MISSING,
        "fee": note or FALLBACK_FEE,
        "reason": note or FALLBACK_REASON,
        "office": office,
        "hotline": hotline or office,
        "dossiers": f"{d.short_code} ({label})",
        "since": _local(d.updated_at).strftime("%d/%m/%Y %H:%M"),  # the latest change
    }
    return values


# -- idempotency -------------------------------------------------------------------------------
# Outbox dedupe keys: an enqueue repeated after a crash returns the first SMS instead of a second.


def notice_dedupe(code: str, status: Status, phone: str) -> str:
    return f"notice:{code}:{int(status)}:{phone}"


def date_notice_dedupe(code: str, kind: DateNotice, phone: str) -> str:
    prefix = "due-warning" if kind is DateNotice.DUE_WARNING else "overdue"
    return f"{prefix}:{code}:{phone}"
