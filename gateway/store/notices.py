"""Proactive notifications: from the change stream to queued SMS (policy in `core/notify.py`).

Three steps, each run periodically by a worker, each safe to run twice or to die in the middle:

1. `take_changes` reads the change stream (`keys.changes()`) with a consumer group. For each
   change one script records a *pending notice* for the dossier (latest status and version, the
   time of the first change, a sequence number) in `keys.notice(code)`, puts the dossier in
   `keys.notices_due()` with the time its notice may go (end of the coalescing window, pushed to
   quiet_end in quiet hours unless urgent; `ZADD LT` keeps the earliest), asks for a look at its
   date notices (`keys.date_notices_due()`, now; none for a settled dossier), and XACKs the
   entry - all atomically. An entry read by a consumer that died before
   its script ran stays pending in the group and is taken over with XAUTOCLAIM after
   `reclaim_after`. Re-running the script for an entry changes nothing that matters: HSETNX of the
   first time, `ZADD LT`, and a notice of a status already announced is dropped at release.

2. `release_due` leases the due dossiers (their score moves `lease` ahead, so a dead worker's
   notices come back by themselves), reloads each dossier (the latest state is what is sent),
   drops the notice if the status does not notify or was announced before (`keys.notified`;
   but a reception moved on within the window is still announced, `status_to_announce`),
   holds it till quiet_end if the template is not urgent, and otherwise enqueues one SMS per
   phone that has not opted out, each with a dedupe key `notice:{code}:{status}:{phone}`. Only
   then a script marks the status announced (HSETNX) and removes the pending notice, unless a
   change came meanwhile (its sequence moved): then the notice stays and is looked at again.
   A crash after some enqueues and before that script repeats the enqueues, which the outbox
   answers with the SMS already queued: no notice is lost and none is sent twice.

3. `scan_due_dates` walks the dossiers whose date notices are due for a look
   (`keys.date_notices_due()`), reloads each with its history, and sends what the core's
   `plan_date_notices` calls for - the warning, the department's new date, the overdue
   apology - once per appointment (dedupe keys `due-warning|rescheduled|overdue:{code}:{due ms}:
   {phone}`; then `keys.notified` records it, field `<kind>@<due ms>`), then sets the next look
   (or none) - only if the dossier's status and appointment are still those it read, so a change
   meanwhile is looked at again. In quiet hours non-urgent date notices wait for quiet_end.

Which dossiers are overdue is not this module's business: the dossier scripts keep the index of
open dossiers by appointment (`keys.open_by_due()`) that the overdue list and the charts read, and
nothing here removes a dossier from it, whatever was sent.

Opt-outs (`keys.opted_out()`) are read when the SMS is enqueued, so a phone that opts out while
its notice is held receives nothing. The times a notice is due at and first changed at come from
the injected clock when the change is taken (not from the stream ids, which are Redis's clock).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, cast

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
from gateway.core.phones import carrier_of, mask_phone
from gateway.core.sms_text import DEFAULT_TEMPLATES, Template, fill, render
from gateway.core.status import SETTLED, Status
from gateway.core.times import format_time, to_micros
from gateway.core.workdays import Calendar, parse_calendar, working_time_before
from gateway.store import keys, metrics
from gateway.store.dossiers import DossierStore
from gateway.store.errors import UnknownDossier
from gateway.store.outbox import Outbox
from gateway.store.replies import SenderModems

log = logging.getLogger(__name__)

GROUP = "notifier"  # the consumer group of the change stream
NOTIFIED_TTL = 400 * 86400  # what was announced is remembered this long after the last notice
_SETTLED_CSV = "," + ",".join(str(int(s)) for s in sorted(SETTLED)) + ","
DEFAULT_CALENDAR = parse_calendar(CalendarSettings().holidays, CalendarSettings().working_days)

# A look at the dossier's date notices is asked for (by `at`, the earliest asked wins) unless its
# *current* status, read inside the script, is settled: two workers handling two changes of one
# dossier in either order leave it right.
# KEYS: dossier hash, date notices index; ARGV: code, at (ms), settled statuses (",3,7,")
_WATCH = """
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur or string.find(ARGV[3], ',' .. cur .. ',', 1, true) then
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[2], 'LT', ARGV[2], ARGV[1])
end
return cur
"""
WATCH = _WATCH

# The next look a scan decided on, kept only if the dossier's status and appointment are still
# those the scan read (else the change that moved them asked for a look of its own).
# KEYS: dossier hash, date notices index; ARGV: code, status, due_at (ISO), next look (ms, ''
# none)
REWATCH = """
local d = redis.call('HMGET', KEYS[1], 'status', 'due_at')
if d[1] ~= ARGV[2] or d[2] ~= ARGV[3] then return 0 end
if ARGV[4] == '' then
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
end
return 1
"""

# KEYS: dossier hash, date notices index, notice hash, due set, change stream
# ARGV: code, now (ms), settled, status, version, now (ms), may go at (ms), notify (1/0), group,
#       entry id
RECORD = (
    "local cur = (function()\n"
    + _WATCH
    + """
end)()
local recorded = 0
if cur and (ARGV[8] == '1' or redis.call('EXISTS', KEYS[3]) == 1) then
  local version = tonumber(redis.call('HGET', KEYS[3], 'version') or '0')
  if tonumber(ARGV[5]) >= version then
    redis.call('HSET', KEYS[3], 'status', ARGV[4], 'version', ARGV[5])
  end
  redis.call('HSETNX', KEYS[3], 'first_ms', ARGV[6])
  redis.call('HSET', KEYS[3], 'last_ms', ARGV[6])
  redis.call('HINCRBY', KEYS[3], 'seq', 1)
  redis.call('ZADD', KEYS[4], 'LT', ARGV[7], ARGV[1])
  recorded = 1
end
redis.call('XACK', KEYS[5], ARGV[9], ARGV[10])
return recorded
"""
)

# KEYS: due set; ARGV: now (ms), lease end (ms), limit, notice key prefix
# Returns code, first_ms, seq for each due notice, whose score is moved to the lease end.
CLAIM = """
local codes = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
local out = {}
for _, code in ipairs(codes) do
  local n = redis.call('HMGET', ARGV[4] .. code, 'first_ms', 'seq')
  if n[1] then
    redis.call('ZADD', KEYS[1], ARGV[2], code)
    out[#out + 1] = code
    out[#out + 1] = n[1]
    out[#out + 1] = n[2]
  else
    redis.call('ZREM', KEYS[1], code)
  end
end
return out
"""

# KEYS: notice hash, due set, notified hash
# ARGV: code, seq seen at claim, action (done | drop | later), announced field ('' none),
#       now (ms), later (ms), notified ttl (s)
FINISH = """
if ARGV[4] ~= '' then
  redis.call('HSETNX', KEYS[3], ARGV[4], ARGV[5])
  redis.call('EXPIRE', KEYS[3], ARGV[7])
end
if redis.call('HGET', KEYS[1], 'seq') ~= ARGV[2] then return 0 end
if ARGV[3] == 'later' then
  redis.call('ZADD', KEYS[2], ARGV[6], ARGV[1])
else
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return 1
"""


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
        consumer: str = "notifier",
        reclaim_after: timedelta = timedelta(seconds=60),
        lease: timedelta = timedelta(seconds=60),
        calendar: Calendar = DEFAULT_CALENDAR,
    ) -> None:
        self._redis = client
        self._outbox = outbox
        self._dossiers = dossiers
        self._settings = settings
        self._clock = clock
        self._statuses = notifying_statuses(settings.notify_statuses)
        check_templates(templates, self._statuses)
        self._templates = dict(templates)
        self._quiet = (clock_time(settings.quiet_start), clock_time(settings.quiet_end))
        self._window = timedelta(seconds=settings.coalesce_seconds)
        self._warning = timedelta(hours=settings.due_warning_hours)
        self._consumer = consumer
        self._reclaim_ms = int(reclaim_after.total_seconds() * 1000)
        self._lease_ms = int(lease.total_seconds() * 1000)
        self._calendar = calendar
        self._group_ready = False
        self._watch = client.register_script(WATCH)
        self._rewatch_script = client.register_script(REWATCH)
        self._record = client.register_script(RECORD)
        self._claim = client.register_script(CLAIM)
        self._finish = client.register_script(FINISH)

    # -- 1. changes -> pending notices -----------------------------------------------------

    def take_changes(self, count: int = 1000) -> int:
        """Records pending notices for up to `count` changes; returns how many were taken."""
        try:
            entries = self._read(count)
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self._group_ready = False  # the stream was deleted: start it again
            entries = self._read(count)
        if not entries:
            return 0
        now = self._clock()
        now_ms = _ms(now)
        pipe = self._redis.pipeline(transaction=False)
        for entry_id, fields in entries:
            code = fields.get("code", "")
            status = _status(fields.get("status"))
            if not code or status is None:
                log.warning("notice.bad_change id=%s", entry_id)
                pipe.xack(keys.changes(), GROUP, entry_id)
                continue
            moved = fields.get("kind") == "registered" or fields.get("previous") != str(int(status))
            notify = moved and status in self._statuses
            urgent = notify and self._template_of(status).urgent
            at = notice_time(now, self._window, *self._quiet, urgent=urgent)
            self._record(
                keys=[
                    keys.dossier(code),
                    keys.date_notices_due(),
                    keys.notice(code),
                    keys.notices_due(),
                    keys.changes(),
                ],
                args=[
                    code,
                    now_ms,
                    _SETTLED_CSV,
                    int(status),
                    fields.get("version", "0"),
                    now_ms,
                    _ms(at),
                    "1" if notify else "0",
                    GROUP,
                    entry_id,
                ],
                client=pipe,
            )
        pipe.execute()
        log.debug("notice.changes_taken count=%s", len(entries))
        return len(entries)

    def _read(self, count: int) -> list[tuple[str, dict[str, str]]]:
        self._ensure_group()
        entries = self._reclaim(count)
        if len(entries) < count:
            answer = self._redis.xreadgroup(
                GROUP, self._consumer, {keys.changes(): ">"}, count=count - len(entries)
            )
            for _stream, fresh in cast(list[Any], answer or []):
                entries.extend((str(i), dict(f)) for i, f in fresh)
        return entries

    def _reclaim(self, count: int) -> list[tuple[str, dict[str, str]]]:
        """Entries another consumer read and never acknowledged (it died): take them over."""
        entries: list[tuple[str, dict[str, str]]] = []
        start = "0-0"
        while len(entries) < count:
            answer = self._redis.xautoclaim(
                keys.changes(),
                GROUP,
                self._consumer,
                self._reclaim_ms,
                start,
                count=count - len(entries),
            )
            start = str(answer[0])
            # Redis 6.2 gives (None, None) for an entry trimmed from the stream: nothing to do.
            entries.extend((str(i), dict(f)) for i, f in answer[1] if i is not None)
            if start == "0-0":
                break
        if entries:
            log.info("notice.changes_reclaimed count=%s", len(entries))
        return entries

    def _ensure_group(self, at_end: bool = False) -> None:
        if self._group_ready:
            return
        try:
            self._redis.xgroup_create(
                keys.changes(), GROUP, id="$" if at_end else "0", mkstream=True
            )
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    # -- 2. pending notices -> SMS ---------------------------------------------------------

    def release_due(self, limit: int = 500) -> int:
        """Sends the notices whose time has come; returns how many SMS were enqueued."""
        now = self._clock()
        now_ms = _ms(now)
        raw = cast(
            list[str],
            self._claim(
                keys=[keys.notices_due()],
                args=[now_ms, now_ms + self._lease_ms, limit, keys.notice("")],
            ),
        )
        claimed = [(int(raw[i + 1]), raw[i], raw[i + 2]) for i in range(0, len(raw), 3)]
        sent = 0
        for _first_ms, code, seq in sorted(claimed):  # in the order the changes came
            sent += self._release(code, seq, now, now_ms + sent)
        return sent

    def due_count(self) -> int:
        """Pending notices whose time has come and that no release holds (what the next
        `release_due` would take): a release that drains a backlog asks it after each batch."""
        return int(self._redis.zcount(keys.notices_due(), "-inf", _ms(self._clock())))

    def _release(self, code: str, seq: str, now: datetime, enqueue_ms: int) -> int:
        try:
            d, history = self._dossiers.get_with_history(code)
        except UnknownDossier:
            self._done(code, seq, "drop", now)
            return 0
        status = status_to_announce(
            d.status,
            self._statuses,
            reached=(
                Status(int(e["status"]))
                for e in history
                if e.get("status") is not None and e.get("current", True)
            ),
            announced=(str(f) for f in self._redis.hkeys(keys.notified(code))),
        )
        if status is None:
            self._done(code, seq, "drop", now)
            return 0
        announced = str(int(status))
        template = self._template_of(status)
        if not template.urgent and in_quiet_hours(now, *self._quiet):
            self._done(code, seq, "later", now, later=release_time(now, *self._quiet))
            return 0
        values = self._values(d, note=note_of_status(history, status))
        sent = self._send(
            d,
            template,
            values,
            enqueue_ms,
            lambda phone: notice_dedupe(code, status, phone),
        )
        self._done(code, seq, "done", now, announced=announced)
        log.info("notice.released code=%s status=%s sms=%s", code, announced, sent)
        return sent

    def _done(
        self,
        code: str,
        seq: str,
        action: str,
        now: datetime,
        *,
        announced: str = "",
        later: datetime | None = None,
    ) -> None:
        self._finish(
            keys=[keys.notice(code), keys.notices_due(), keys.notified(code)],
            args=[
                code,
                seq,
                action,
                announced,
                _ms(now),
                _ms(later) if later is not None else 0,
                NOTIFIED_TTL,
            ],
        )

    # -- 3. appointment dates --------------------------------------------------------------

    def scan_due_dates(self, limit: int = 10_000) -> int:
        """Sends due-date warnings, postponement notices and overdue apologies that are due;
        returns how many SMS were enqueued."""
        now = self._clock()
        now_ms = _ms(now)
        codes = [
            str(c)
            for c in self._redis.zrangebyscore(
                keys.date_notices_due(), "-inf", now_ms, start=0, num=limit
            )
        ]
        quiet = in_quiet_hours(now, *self._quiet)
        sent = 0
        for code in codes:
            sent += self._date_notice(code, now, quiet, now_ms + sent)
        return sent

    def _date_notice(self, code: str, now: datetime, quiet: bool, enqueue_ms: int) -> int:
        try:
            d, history = self._dossiers.get_with_history(code)
        except UnknownDossier:
            self._redis.zrem(keys.date_notices_due(), code)
            return 0
        appointment = in_force(appointments(history, d.due_at))
        postponed = appointment is not None and appointment.postponed
        registered = appointment is None or appointment.replaced is None
        fields = [str(f) for f in self._redis.hkeys(keys.notified(code))]
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
        template = self._date_template(kind)
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
        pipe = self._redis.pipeline(transaction=True)
        for done in plan.covers:
            pipe.hsetnx(keys.notified(code), date_notice_field(done, d.due_at), _ms(now))
        pipe.expire(keys.notified(code), NOTIFIED_TTL)
        pipe.execute()
        self._rewatch(d, plan.next_at)
        log.info("notice.date code=%s kind=%s sms=%s", code, kind.value, sent)
        return sent

    def _date_template(self, kind: DateNotice) -> Template:
        template = self._templates[TEMPLATE_OF_DATE_NOTICE[kind]]
        if kind is DateNotice.OVERDUE and "new_due" in template.placeholders:
            # An edit made when the apology invented a new date: there is none to state.
            log.warning("notice.template_ignored name=%s reason=new_due", template.name)
            return DEFAULT_TEMPLATES[OVERDUE_TEMPLATE]
        return template

    def _rewatch(self, d: Dossier, at: datetime | None) -> None:
        self._rewatch_script(
            keys=[keys.dossier(d.code), keys.date_notices_due()],
            args=[d.code, int(d.status), format_time(d.due_at), "" if at is None else _ms(at)],
        )

    def index_existing(self) -> int:
        """The upgrade step: puts every dossier stored by an earlier version in the index of
        open dossiers by appointment (`DossierStore.index_by_due`) and asks for a look at the
        date notices of each one not settled (SCAN), and starts the change stream's consumer
        group at the stream's end if it does not exist yet (so the past is not announced
        again). Safe to run any time; returns the dossiers looked at."""
        self._ensure_group(at_end=True)
        prefix = keys.dossier("")
        looked = 0
        batch: list[str] = []
        for key in self._redis.scan_iter(match=keys.dossier_pattern(), count=500):
            code = str(key)[len(prefix) :]
            if ":" in code:  # a dossier's history or event ids
                continue
            batch.append(code)
            if len(batch) >= 500:
                looked += self._index_batch(batch)
                batch = []
        return looked + self._index_batch(batch)

    def _index_batch(self, codes: list[str]) -> int:
        self._dossiers.index_by_due(codes)
        now_ms = _ms(self._clock())
        pipe = self._redis.pipeline(transaction=False)
        for code in codes:
            self._watch(
                keys=[keys.dossier(code), keys.date_notices_due()],
                args=[code, now_ms, _SETTLED_CSV],
                client=pipe,
            )
        pipe.execute()
        return len(codes)

    # -- shared ----------------------------------------------------------------------------

    def _template_of(self, status: Status) -> Template:
        name = template_for(status)
        assert name is not None  # notifying_statuses() accepts only statuses with a template
        return self._templates[name]

    def _values(
        self, d: Dossier, note: str | None = None, new_due: datetime | None = None
    ) -> dict[str, str]:
        return template_values(
            d,
            office=self._settings.office,
            hotline=self._settings.hotline,
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
        opted_out = self._redis.smismember(keys.opted_out(), list(d.phones))
        # The SMS telling citizens their lookup code leaves from the modem each last wrote to.
        registration = template.name == template_for(Status.RECEIVED)
        via = SenderModems(self._redis).last(d.phones) if registration else {}
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
