"""The notification engine: dossier changes and appointment dates become queued SMS.

The policy is the core's (`gateway/core/notify.py`: which statuses notify, the coalescing window,
quiet hours, which date notice is due); what is stored is the store's (`gateway/store/notices.py`:
pending notices, the due indexes, what was told). This module puts them together in three steps,
each run periodically by a worker (`worker/notifications.py`), each safe to run twice or to die in
the middle:

1. `take_changes` reads the change stream and records, per change, a pending notice for the
   dossier if its status moved to one that notifies, due at the end of the coalescing window
   (pushed to quiet_end in quiet hours unless its template is urgent), and asks for a look at its
   date notices. An entry read by a consumer that died before recording it is taken over.
2. `release_due` leases the due notices, reloads each dossier (the latest state is what is sent),
   drops the notice if the status does not notify or was announced before (but a reception moved
   on within the window is still announced: `status_to_announce`), holds it till quiet_end if
   its template is not urgent, and otherwise enqueues one SMS per phone that has not opted out,
   each with a dedupe key `notice:{code}:{status}:{phone}`. Only then the status is marked
   announced and the pending notice removed (unless a change came meanwhile). A crash after some
   enqueues repeats them, which the outbox answers with the SMS already queued: no notice is lost
   and none is sent twice.
3. `scan_due_dates` looks at the dossiers whose date notices are due, reloads each with its
   history, and sends what the core's `plan_date_notices` calls for - the warning, the
   department's new date, the overdue apology - once per appointment (dedupe keys
   `due-warning|rescheduled|overdue:{code}:{due ms}:{phone}`), then sets the next look. In quiet
   hours non-urgent date notices wait for quiet_end.

Opt-outs are read when the SMS is enqueued, so a phone that opts out while its notice is held
receives nothing. The times a notice is due at and first changed at come from the injected clock
when the change is taken (not from the stream ids, which are Redis's clock).

Why here: the design puts the jobs and their scheduling in the worker; this is what those jobs
call, and only workers (and `hoso notifications reindex`, an upgrade step) run it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

import redis

from config.settings import CalendarSettings, SmsSettings
from gateway.core.appointments import appointments, in_force
from gateway.core.dossier import Dossier
from gateway.core.messages import Priority
from gateway.core.notify import (
    OVERDUE_TEMPLATE,
    TEMPLATE_OF_DATE_NOTICE,
    DateNotice,
    check_templates,
    clock_time,
    date_notice_dedupe,
    date_notice_field,
    in_quiet_hours,
    note_of_status,
    notice_dedupe,
    notice_time,
    notifying_statuses,
    plan_date_notices,
    release_time,
    sent_for,
    status_to_announce,
    template_for,
    template_values,
)
from gateway.core.office_routes import signature, signed
from gateway.core.offices import DEFAULT_OFFICE
from gateway.core.phones import carrier_of, mask_phone
from gateway.core.sms_text import DEFAULT_TEMPLATES, Template, fill, render
from gateway.core.status import Status
from gateway.core.times import format_time, to_micros
from gateway.core.workdays import Calendar, parse_calendar, working_time_before
from gateway.store import metrics
from gateway.store.dossiers import DossierStore
from gateway.store.errors import UnknownDossier
from gateway.store.notices import Change, NoticeStore
from gateway.store.offices import Offices
from gateway.store.outbox import Outbox
from gateway.store.replies import OptOuts, SenderModems

log = logging.getLogger(__name__)

DEFAULT_CALENDAR = parse_calendar(CalendarSettings().holidays, CalendarSettings().working_days)


def _ms(value: datetime) -> int:
    return to_micros(value) // 1000


class Notifier:
    """Turns dossier changes and appointment dates into queued SMS (see the module's doc)."""

    def __init__(
        self,
        client: redis.Redis,
        outbox: Outbox,
        dossiers: DossierStore,
        settings: SmsSettings,
        clock: Callable[[], datetime],
        *,
        templates: Mapping[str, Template] = DEFAULT_TEMPLATES,
        office_templates: Mapping[str, Mapping[str, Template]] | None = None,
        offices: Offices | None = None,
        consumer: str = "notifier",
        reclaim_after: timedelta = timedelta(seconds=60),
        lease: timedelta = timedelta(seconds=60),
        calendar: Calendar = DEFAULT_CALENDAR,
    ) -> None:
        self._redis = client
        self._notices = NoticeStore(client, consumer, int(reclaim_after.total_seconds() * 1000))
        self._opt_outs = OptOuts(client)
        self._sender_modems = SenderModems(client)
        self._outbox = outbox
        self._dossiers = dossiers
        self._settings = settings
        self._clock = clock
        self._statuses = notifying_statuses(settings.notify_statuses)
        check_templates(templates, self._statuses)
        self._templates = dict(templates)
        # An office's overrides over the province's templates (`Templates.get(name, office)`).
        self._office_templates = {
            office: dict(templates) | dict(own) for office, own in (office_templates or {}).items()
        }
        self._offices = offices or Offices.of(client, settings)
        if self._offices.several():  # a province: each notice names its office
            self._templates = {n: signed(t, True) for n, t in self._templates.items()}
            self._office_templates = {
                office: {n: signed(t, True) for n, t in own.items()}
                for office, own in self._office_templates.items()
            }
        self._quiet = (clock_time(settings.quiet_start), clock_time(settings.quiet_end))
        self._window = timedelta(seconds=settings.coalesce_seconds)
        self._warning = timedelta(hours=settings.due_warning_hours)
        self._lease_ms = int(lease.total_seconds() * 1000)
        self._calendar = calendar

    # -- 1. changes -> pending notices -----------------------------------------------------

    def take_changes(self, count: int = 1000) -> int:
        """Records pending notices for up to `count` changes; returns how many were taken."""
        entries = self._notices.read_changes(count)
        if not entries:
            return 0
        now = self._clock()
        changes: list[Change] = []
        unreadable: list[str] = []
        for entry_id, fields in entries:
            code = fields.get("code", "")
            status = _status(fields.get("status"))
            if not code or status is None:
                log.warning("notice.bad_change id=%s", entry_id)
                unreadable.append(entry_id)
                continue
            moved = fields.get("kind") == "registered" or fields.get("previous") != str(int(status))
            notify = moved and status in self._statuses
            urgent = notify and self._template_of(status).urgent
            at = notice_time(now, self._window, *self._quiet, urgent=urgent)
            changes.append(
                Change(entry_id, code, int(status), fields.get("version", "0"), _ms(at), notify)
            )
        self._notices.record(changes, unreadable, _ms(now))
        log.debug("notice.changes_taken count=%s", len(entries))
        return len(entries)

    # -- 2. pending notices -> SMS ---------------------------------------------------------

    def release_due(self, limit: int = 500) -> int:
        """Sends the notices whose time has come; returns how many SMS were enqueued."""
        now = self._clock()
        now_ms = _ms(now)
        sent = 0
        for notice in self._notices.claim_due(now_ms, self._lease_ms, limit):
            sent += self._release(notice.code, notice.seq, now, now_ms + sent)
        return sent

    def due_count(self) -> int:
        """Pending notices whose time has come and that no release holds (what the next
        `release_due` would take): a release that drains a backlog asks it after each batch."""
        return self._notices.due_count(_ms(self._clock()))

    def _release(self, code: str, seq: str, now: datetime, enqueue_ms: int) -> int:
        now_ms = _ms(now)
        try:
            d, history = self._dossiers.get_with_history(code)
        except UnknownDossier:
            self._notices.finish(code, seq, "drop", now_ms)
            return 0
        status = status_to_announce(
            d.status,
            self._statuses,
            reached=(
                Status(int(e["status"]))
                for e in history
                if e.get("status") is not None and e.get("current", True)
            ),
            announced=self._notices.announcements(code),
        )
        if status is None:
            self._notices.finish(code, seq, "drop", now_ms)
            return 0
        announced = str(int(status))
        template = self._template_of(status, d.office)
        if not template.urgent and in_quiet_hours(now, *self._quiet):
            later = release_time(now, *self._quiet)
            self._notices.finish(code, seq, "later", now_ms, later_ms=_ms(later))
            return 0
        values = self._values(d, note=note_of_status(history, status))
        sent = self._send(
            d,
            template,
            values,
            enqueue_ms,
            lambda phone: notice_dedupe(code, status, phone),
        )
        self._notices.finish(code, seq, "done", now_ms, announced=announced)
        log.info("notice.released code=%s status=%s sms=%s", code, announced, sent)
        return sent

    # -- 3. appointment dates --------------------------------------------------------------

    def scan_due_dates(self, limit: int = 10_000) -> int:
        """Sends due-date warnings, postponement notices and overdue apologies that are due;
        returns how many SMS were enqueued."""
        now = self._clock()
        now_ms = _ms(now)
        quiet = in_quiet_hours(now, *self._quiet)
        sent = 0
        for code in self._notices.dates_due(now_ms, limit):
            sent += self._date_notice(code, now, quiet, now_ms + sent)
        return sent

    def _date_notice(self, code: str, now: datetime, quiet: bool, enqueue_ms: int) -> int:
        try:
            d, history = self._dossiers.get_with_history(code)
        except UnknownDossier:
            self._notices.forget_dates(code)
            return 0
        appointment = in_force(appointments(history, d.due_at))
        postponed = appointment is not None and appointment.postponed
        registered = appointment is None or appointment.replaced is None
        fields = self._notices.announcements(code)
        warning_at = (
            working_time_before(d.due_at, self._warning, self._calendar)
            if self._warning > timedelta(0)
            else None
        )
        plan = plan_date_notices(
            d.status,
            d.due_at,
            postponed,
            now,
            warning_at,
            self._settings.overdue_apology,
            sent_for(fields, d.due_at, registered),
        )
        kind = plan.notice
        if kind is None:
            self._rewatch(d, plan.next_at)
            return 0
        template = self._date_template(kind, d.office)
        if quiet and not template.urgent:
            self._rewatch(d, release_time(now, *self._quiet))
            return 0
        if kind is DateNotice.RESCHEDULED:
            reason = appointment.reason if appointment is not None else None
            values = self._values(d, note=reason, new_due=d.due_at)
        else:
            values = self._values(d)
        sent = self._send(
            d,
            template,
            values,
            enqueue_ms,
            lambda phone: date_notice_dedupe(code, kind, d.due_at, phone),
        )
        self._notices.mark_announced(
            code, [date_notice_field(done, d.due_at) for done in plan.covers], _ms(now)
        )
        self._rewatch(d, plan.next_at)
        log.info("notice.date code=%s kind=%s sms=%s", code, kind.value, sent)
        return sent

    def _date_template(self, kind: DateNotice, office: str = "") -> Template:
        template = self._templates_of(office)[TEMPLATE_OF_DATE_NOTICE[kind]]
        if kind is DateNotice.OVERDUE and "new_due" in template.placeholders:
            # An edit made when the apology invented a new date: there is none to state.
            log.warning("notice.template_ignored name=%s reason=new_due", template.name)
            return DEFAULT_TEMPLATES[OVERDUE_TEMPLATE]
        return template

    def _rewatch(self, d: Dossier, at: datetime | None) -> None:
        self._notices.rewatch(
            d.code, int(d.status), format_time(d.due_at), None if at is None else _ms(at)
        )

    def index_existing(self) -> int:
        """The upgrade step: puts every dossier stored by an earlier version in the index of
        open dossiers by appointment (`DossierStore.index_by_due`) and asks for a look at the
        date notices of each one not settled, and starts the change stream's consumer group at
        the stream's end if it does not exist yet (so the past is not announced again). Safe to
        run any time; returns the dossiers looked at."""
        self._notices.start_at_end()
        looked = 0
        for codes in self._dossiers.all_codes():
            self._dossiers.index_by_due(codes)
            self._notices.watch(codes, _ms(self._clock()))
            looked += len(codes)
        return looked

    # -- shared ----------------------------------------------------------------------------

    def _templates_of(self, office: str) -> Mapping[str, Template]:
        return self._office_templates.get(office, self._templates)

    def _template_of(self, status: Status, office: str = "") -> Template:
        name = template_for(status)
        assert name is not None  # notifying_statuses() accepts only statuses with a template
        return self._templates_of(office)[name]

    def _values(
        self, d: Dossier, note: str | None = None, new_due: datetime | None = None
    ) -> dict[str, str]:
        """The dossier's values, signed by its office."""
        office = self._offices.find(d.office) or self._offices.get(DEFAULT_OFFICE)
        signer = signature(office, self._settings.accented_if_free)
        return template_values(
            d,
            office=signer["office"],
            hotline=signer["hotline"],
            number=signer["number"],
            note=note,
            new_due=new_due,
        )

    def _send(
        self,
        d: Dossier,
        template: Template,
        values: Mapping[str, str],
        enqueue_ms: int,
        dedupe: Callable[[str], str],
    ) -> int:
        """One SMS per phone of the dossier that has not opted out; idempotent by dedupe key."""
        if not d.phones:
            return 0
        text = render(fill(template, values), self._settings.accented_if_free).text
        priority = Priority.URGENT if template.urgent else Priority.NOTIFICATION
        opted_out = self._opt_outs.are_out(d.phones)
        # The SMS telling citizens their lookup code leaves from the modem each last wrote to.
        registration = template.name == template_for(Status.RECEIVED)
        via = self._sender_modems.last(d.phones) if registration else {}
        sent = 0
        for phone, out in zip(d.phones, opted_out, strict=True):
            if out:
                log.info("notice.opted_out code=%s phone=%s", d.code, mask_phone(phone))
                continue
            message_id = self._outbox.enqueue(
                phone,
                text,
                priority,
                enqueue_ms + sent,
                via=via.get(phone, ""),
                carrier=carrier_of(phone) or "",
                kind="notice",
                dossier=d.code,
                dedupe_key=dedupe(phone),
                office=d.office,  # by its office's routes: from its modems
            )
            log.info(
                "notice.queued code=%s template=%s phone=%s sms=%s",
                d.code,
                template.name,
                mask_phone(phone),
                message_id,
            )
            sent += 1
        metrics.notifications_sent(self._redis, sent)
        return sent


def _status(raw: str | None) -> Status | None:
    try:
        return Status(int(raw)) if raw is not None else None
    except ValueError:
        return None
