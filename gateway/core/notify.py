"""Proactive notifications: which changes a citizen hears about, and when (pure).

A notice is made per dossier, not per change: changes within the coalescing window become one
SMS carrying the latest state, and a (dossier, status) is announced at most once. Proactive SMS
wait out the quiet hours (22:00-07:00 in Vietnam by default) unless their template is urgent.
Besides status notices there are date notices, made for the appointment in force (ngày hẹn trả)
while the dossier is not settled, each at most once per appointment:
- the warning, `due_warning_hours` of working time (`workdays`) before the appointment;
- the new date, with an apology, when the department postponed the appointment (an event's
  `due_at` later than the appointment it replaced): the date is the department's, never made up;
- the apology once the appointment has passed (quá hạn), which names no new date (there is none)
  and gives the hotline.
A new appointment gets its own notices. Which notices went out has no bearing on whether the
dossier is overdue (`Dossier.is_overdue`).

Times here are aware datetimes passed in; nothing reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any

from gateway.core.dossier import Dossier
from gateway.core.errors import CoreError
from gateway.core.sms_text import Template
from gateway.core.status import SETTLED, Status
from gateway.core.times import local_time, shown_date, shown_time, to_micros

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
OVERDUE_TEMPLATE = "notify_overdue_apology"  # names no new date: there is none
RESCHEDULED_TEMPLATE = "notify_rescheduled"  # the department's new date, with an apology

# What a placeholder says when the event that set the status carried no note.
FALLBACK_MISSING = "giấy tờ theo hướng dẫn của cán bộ"
FALLBACK_FEE = "theo quy định"
FALLBACK_REASON = "xem tại bộ phận một cửa"


class NotifySettingError(CoreError):
    """A notification setting that cannot be used (named in the message)."""


class DateNotice(StrEnum):
    """The notices made from the appointment in force; each is sent once per appointment."""

    DUE_WARNING = "due_warning"
    OVERDUE = "overdue"
    RESCHEDULED = "rescheduled"


TEMPLATE_OF_DATE_NOTICE: dict[DateNotice, str] = {
    DateNotice.DUE_WARNING: DUE_SOON_TEMPLATE,
    DateNotice.OVERDUE: OVERDUE_TEMPLATE,
    DateNotice.RESCHEDULED: RESCHEDULED_TEMPLATE,
}


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


def status_to_announce(
    current: Status,
    notifying: frozenset[Status],
    reached: Iterable[Status],
    announced: Iterable[str],
) -> Status | None:
    """The status a dossier's pending notice announces, or None: its current status when that
    notifies and was not announced yet (the latest state, whatever came within the window).

    One exception: the reception's notice is the SMS that tells the citizen the lookup code. A
    dossier registered (2) and moved on within the window to a status that does not notify
    (typically 4, processing) would swallow it, and the citizen would never get the code by
    SMS. So while the dossier is still open, and its reception was reached, notifies and was not
    announced, the reception is announced instead of nothing. `announced`: the statuses
    announced before (as `keys.notified` records them, "2", "5"...; other fields are ignored).
    """
    done = set(announced)
    if current in notifying:
        return None if str(int(current)) in done else current
    first = Status.RECEIVED
    if current in SETTLED or first not in notifying or str(int(first)) in done:
        return None
    return first if first in set(reached) else None


def check_templates(templates: Mapping[str, Template], statuses: Iterable[Status]) -> None:
    """Every template the notifier may need exists."""
    needed = {TEMPLATE_OF_STATUS[s] for s in statuses} | set(TEMPLATE_OF_DATE_NOTICE.values())
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


def in_quiet_hours(now: datetime, start: time | str, end: time | str) -> bool:
    """Whether `now` falls in [start, end) Vietnam time; the span may cross midnight. Equal
    start and end mean no quiet hours."""
    begin, finish = clock_time(start), clock_time(end)
    wall = local_time(now).time().replace(tzinfo=None)
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
    local = local_time(now)
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


@dataclass(frozen=True, slots=True)
class DatePlan:
    """What the date notices of a dossier call for now."""

    notice: DateNotice | None  # to send now
    covers: frozenset[DateNotice]  # what sending it settles for this appointment
    next_at: datetime | None  # when to look again (None: nothing left for this appointment)


NOTHING = DatePlan(None, frozenset(), None)


def plan_date_notices(
    status: Status,
    due_at: datetime,
    postponed: bool,
    now: datetime,
    warning_at: datetime | None,
    apology: bool,
    sent: Iterable[DateNotice],
) -> DatePlan:
    """The date notice the appointment `due_at` in force needs now, and when to look again.

    `postponed`: the department set it later than the appointment it replaced; `warning_at`:
    when the warning is due (None: no warning); `apology`: whether apologies are sent (both the
    overdue one and the new date's); `sent`: the notices already sent for this appointment.
    A settled dossier needs none. Past the appointment only the apology is left (too late for
    the warning, and a new date there is not). Before it, a postponement is announced at once
    (standing in for the warning once that is due), then the warning when its time comes.
    """
    if status in SETTLED:
        return NOTHING
    done = set(sent)
    if now > due_at:
        if apology and DateNotice.OVERDUE not in done:
            return DatePlan(DateNotice.OVERDUE, frozenset({DateNotice.OVERDUE}), None)
        return NOTHING
    warning_due = warning_at is not None and now >= warning_at
    notice: DateNotice | None = None
    covers: set[DateNotice] = set()
    if apology and postponed and DateNotice.RESCHEDULED not in done:
        notice = DateNotice.RESCHEDULED
        covers = {DateNotice.RESCHEDULED} | ({DateNotice.DUE_WARNING} if warning_due else set())
    elif warning_due and DateNotice.DUE_WARNING not in done:
        notice, covers = DateNotice.DUE_WARNING, {DateNotice.DUE_WARNING}
    left = done | covers
    later = []
    if warning_at is not None and DateNotice.DUE_WARNING not in left:
        later.append(warning_at)
    if apology and DateNotice.OVERDUE not in left:
        later.append(due_at + timedelta(microseconds=1))  # the first moment it is overdue
    return DatePlan(notice, frozenset(covers), min(later) if later else None)


def date_notice_field(kind: DateNotice, due_at: datetime) -> str:
    """The field of `keys.notified` recording `kind` as sent for the appointment `due_at`."""
    return f"{kind.value}@{to_micros(due_at) // 1000}"


def sent_for(fields: Iterable[str], due_at: datetime, registered: bool) -> frozenset[DateNotice]:
    """The date notices sent for the appointment `due_at`, from the fields of `keys.notified`.
    Fields without an appointment (`due_warning`, `overdue`), written before appointments could
    change, count for the registration's appointment (`registered`)."""
    present = set(fields)
    found = {k for k in DateNotice if date_notice_field(k, due_at) in present}
    if registered:
        found |= {k for k in (DateNotice.DUE_WARNING, DateNotice.OVERDUE) if k.value in present}
    return frozenset(found)


# -- what -------------------------------------------------------------------------------------


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
    number: str = "",
) -> dict[str, str]:
    """A value for every placeholder, taken from the dossier. The status label is accented by
    default: `sms_text.render` strips the whole text unless accents cost no extra part."""
    desk = d.holder or office
    label = d.status.label if accented else d.status.label_ascii
    values = {
        "code": d.code,
        "short_code": d.short_code,
        "status": label,
        "due": shown_date(d.due_at),
        # The new appointment a postponement notice announces (it is also the dossier's `due`).
        "new_due": shown_date(new_due) if new_due is not None else shown_date(d.due_at),
        "desk": desk,
        "missing": note or FALLBACK_MISSING,
        "fee": note or FALLBACK_FEE,
        "reason": note or FALLBACK_REASON,
        "office": office,
        "hotline": hotline or office,
        "number": number or hotline or office,  # the number citizens text the office at
        "dossiers": f"{d.short_code} ({label})",
        "since": shown_time(d.updated_at),  # the latest change
    }
    return values


# -- idempotency -------------------------------------------------------------------------------
# Outbox dedupe keys: an enqueue repeated after a crash returns the first SMS instead of a second.


def notice_dedupe(code: str, status: Status, phone: str) -> str:
    return f"notice:{code}:{int(status)}:{phone}"


def date_notice_dedupe(code: str, kind: DateNotice, due_at: datetime, phone: str) -> str:
    return f"{kind.value.replace('_', '-')}:{code}:{to_micros(due_at) // 1000}:{phone}"
