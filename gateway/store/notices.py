"""The notification engine's storage: the change stream's consumer group, pending notices, the
due indexes and what each dossier's phones were told. It stores; what to send and when is the
engine's (`worker/notifier.py`) and the core's (`gateway/core/notify.py`).

- The change stream (`keys.changes()`) is read with a consumer group (`GROUP`): `read_changes`
  takes new entries, and first takes over those a consumer read and never acknowledged (it died
  before its script ran) once `reclaim_after` has passed (XAUTOCLAIM).
- `record` runs one script per entry that, atomically: records a *pending notice* for the dossier
  when asked to (latest status and version, the time of the first change, a sequence number) in
  `keys.notice(code)`, puts the dossier in `keys.notices_due()` at the time its notice may go
  (`ZADD LT` keeps the earliest), asks for a look at its date notices (`keys.date_notices_due()`,
  none for a settled dossier, its *current* status read inside the script: two workers handling
  two changes of one dossier in either order leave it right), and XACKs the entry. Running it
  again for an entry changes nothing that matters: HSETNX of the first time, `ZADD LT`.
- `claim_due` leases the due dossiers (their score moves `lease` ahead, so a dead worker's
  notices come back by themselves); `finish` marks a status announced (HSETNX in
  `keys.notified(code)`) and removes the pending notice, unless a change came meanwhile (its
  sequence moved): then the notice stays and is looked at again.
- `rewatch` sets a dossier's next look at its date notices only if its status and appointment
  are still those the caller read (else the change that moved them asked for a look of its own).

Which dossiers are overdue is not this module's business: the dossier scripts keep the index of
open dossiers by appointment (`keys.open_by_due()`), and nothing here removes a dossier from it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import redis

from gateway.core.status import SETTLED
from gateway.store import keys

log = logging.getLogger(__name__)

GROUP = "notifier"  # the consumer group of the change stream
NOTIFIED_TTL = 400 * 86400  # what was announced is remembered this long after the last notice
_SETTLED_CSV = "," + ",".join(str(int(s)) for s in sorted(SETTLED)) + ","

# A look at the dossier's date notices is asked for (by `at`, the earliest asked wins) unless its
# *current* status, read inside the script, is settled.
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
# those the scan read.
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

Entry = tuple[str, dict[str, str]]  # a change stream entry: its id and its fields


@dataclass(frozen=True, slots=True)
class Change:
    """What `record` stores for one entry of the change stream."""

    entry_id: str
    code: str
    status: int
    version: str
    may_go_ms: int  # when the notice may go (coalescing window, quiet hours)
    notify: bool  # a notice is called for (else only a pending one is brought up to date)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A pending notice leased for release."""

    code: str
    first_ms: int  # the time of the change that started it
    seq: str  # its sequence number when leased: a later change moves it


class NoticeStore:
    def __init__(self, client: redis.Redis, consumer: str, reclaim_after_ms: int) -> None:
        self._redis = client
        self._consumer = consumer
        self._reclaim_ms = reclaim_after_ms
        self._group_ready = False
        self._watch = client.register_script(WATCH)
        self._rewatch = client.register_script(REWATCH)
        self._record = client.register_script(RECORD)
        self._claim = client.register_script(CLAIM)
        self._finish = client.register_script(FINISH)

    # -- the change stream -------------------------------------------------------------------

    def read_changes(self, count: int) -> list[Entry]:
        """Up to `count` entries: first those a dead consumer left, then new ones."""
        try:
            return self._read(count)
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self._group_ready = False  # the stream was deleted: start it again
            return self._read(count)

    def _read(self, count: int) -> list[Entry]:
        self._ensure_group()
        entries = self._reclaim(count)
        if len(entries) < count:
            answer = self._redis.xreadgroup(
                GROUP, self._consumer, {keys.changes(): ">"}, count=count - len(entries)
            )
            for _stream, fresh in cast(list[Any], answer or []):
                entries.extend((str(i), dict(f)) for i, f in fresh)
        return entries

    def _reclaim(self, count: int) -> list[Entry]:
        """Entries another consumer read and never acknowledged (it died): take them over."""
        entries: list[Entry] = []
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

    def start_at_end(self) -> None:
        """Creates the consumer group at the stream's end if it does not exist yet (an upgrade
        does not announce the past)."""
        self._ensure_group(at_end=True)

    def record(self, changes: Sequence[Change], unreadable: Sequence[str], now_ms: int) -> None:
        """Records `changes` (each with its entry acknowledged in the same script) and
        acknowledges the `unreadable` entries, in one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for entry_id in unreadable:
            pipe.xack(keys.changes(), GROUP, entry_id)
        for c in changes:
            self._record(
                keys=[
                    keys.dossier(c.code),
                    keys.date_notices_due(),
                    keys.notice(c.code),
                    keys.notices_due(),
                    keys.changes(),
                ],
                args=[
                    c.code,
                    now_ms,
                    _SETTLED_CSV,
                    c.status,
                    c.version,
                    now_ms,
                    c.may_go_ms,
                    "1" if c.notify else "0",
                    GROUP,
                    c.entry_id,
                ],
                client=pipe,
            )
        pipe.execute()

    # -- pending notices -----------------------------------------------------------------------

    def claim_due(self, now_ms: int, lease_ms: int, limit: int) -> list[Claimed]:
        """Leases up to `limit` notices due by `now_ms`, in the order their changes came."""
        raw = cast(
            list[str],
            self._claim(
                keys=[keys.notices_due()],
                args=[now_ms, now_ms + lease_ms, limit, keys.notice("")],
            ),
        )
        claimed = [Claimed(raw[i], int(raw[i + 1]), raw[i + 2]) for i in range(0, len(raw), 3)]
        return sorted(claimed, key=lambda c: (c.first_ms, c.code, c.seq))

    def due_count(self, now_ms: int) -> int:
        """Pending notices due by `now_ms` that no release holds."""
        return int(self._redis.zcount(keys.notices_due(), "-inf", now_ms))

    def finish(
        self,
        code: str,
        seq: str,
        action: str,
        now_ms: int,
        *,
        announced: str = "",
        later_ms: int = 0,
    ) -> None:
        """`action`: "done" (sent; `announced` the status now told), "drop", or "later" (held
        till `later_ms`); a pending notice whose sequence moved since its claim stays."""
        self._finish(
            keys=[keys.notice(code), keys.notices_due(), keys.notified(code)],
            args=[code, seq, action, announced, now_ms, later_ms, NOTIFIED_TTL],
        )

    # -- what was told ---------------------------------------------------------------------------

    def announcements(self, code: str) -> list[str]:
        """Every field of `keys.notified(code)`: statuses and date notices told."""
        return [str(f) for f in self._redis.hkeys(keys.notified(code))]

    def mark_announced(self, code: str, fields: Iterable[str], now_ms: int) -> None:
        pipe = self._redis.pipeline(transaction=True)
        for field in fields:
            pipe.hsetnx(keys.notified(code), field, now_ms)
        pipe.expire(keys.notified(code), NOTIFIED_TTL)
        pipe.execute()

    # -- date notices ------------------------------------------------------------------------

    def dates_due(self, now_ms: int, limit: int) -> list[str]:
        """Dossiers whose date notices are due for a look by `now_ms`."""
        return [
            str(c)
            for c in self._redis.zrangebyscore(
                keys.date_notices_due(), "-inf", now_ms, start=0, num=limit
            )
        ]

    def forget_dates(self, code: str) -> None:
        self._redis.zrem(keys.date_notices_due(), code)

    def rewatch(self, code: str, status: int, due_at: str, at_ms: int | None) -> None:
        """The next look (None: none) if the dossier's status and appointment (ISO, as stored)
        are still those given."""
        self._rewatch(
            keys=[keys.dossier(code), keys.date_notices_due()],
            args=[code, status, due_at, "" if at_ms is None else at_ms],
        )

    def watch(self, codes: Iterable[str], now_ms: int) -> None:
        """Asks for a look at the date notices of each dossier not settled, by `now_ms`."""
        pipe = self._redis.pipeline(transaction=False)
        for code in codes:
            self._watch(
                keys=[keys.dossier(code), keys.date_notices_due()],
                args=[code, now_ms, _SETTLED_CSV],
                client=pipe,
            )
        pipe.execute()
