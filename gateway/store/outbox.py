"""The durable queue of outbound SMS, shared by every worker and every modem service.

Each SMS is a hash that moves queued -> claimed -> submitting -> submitted -> delivered | failed.
The state is saved *before* each part goes to the modem (`submitting`), so after a crash the
modem's owner knows which parts have an unknown fate (`recover`) and resends each of them once,
with TP-Reject-Duplicates set.

Queues: a shared one that any modem takes from (preferring SMS to its own carrier's numbers), one
pinned queue per modem (a reply leaves through the number the citizen wrote to), and a delayed
set for retries with backoff. A modem that is down hands its pinned SMS to the shared queue
(`release_pinned`).

Every SMS also has an append-only attempt log (`attempts`), written in the same atomic step as
each change of its state: queued, claimed, submitting (a part, and whether it is a resend),
submitted, refused, gave up, requeued (a dead owner's claim), fate unknown, released — each with
the time, the modem and the service instance (`acting_as`). A part that went over the air twice
is explained by it: an attempt whose outcome was never recorded, then a resend.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

import redis

from gateway.core.messages import (
    FINAL_STATES,
    Priority,
    RetryWhere,
    SmsState,
    retry_delay,
)
from gateway.core.phones import carrier_of
from gateway.store import keys
from gateway.store.replication import confirm

PRIORITY_BAND = 10**13  # score = priority * band + milliseconds: priority first, then age
DELIVERY_REF_TTL = 3 * 86400
REPORTS_ALIVE_MS = 6 * 3600 * 1000  # a modem whose last report is older sends none, we assume
ATTEMPTS_TTL = 30 * 86400  # as long as a dedupe key: the log outlives any retry of its SMS
DEDUPE_TTL = 30 * 86400
SCAN = 20
RECEIPT_FAILED = "delivery failed"  # the error of an SMS a carrier's receipt says failed

# Appends one entry to an SMS's attempt log (see `Outbox.attempts`): used inside the scripts.
# ARGV of the script that includes it end with: attempts key prefix, service instance.
_LOG = """
local function log(id, entry)
  entry.by = ARGV[#ARGV]
  local name = ARGV[#ARGV - 1] .. id
  redis.call('RPUSH', name, cjson.encode(entry))
  redis.call('EXPIRE', name, __ATTEMPTS_TTL__)
end
"""

# KEYS: dedupe key ('' if none), id counter, queue, wake list, by-phone index, by-dossier index
#       ('' if none)
# ARGV: sms key prefix, to, text, priority, via, carrier, kind, dossier, score, now (ms),
#       dedupe ttl, attempts key prefix, instance
ENQUEUE = (
    _LOG
    + """
if KEYS[1] ~= '' then
  local existing = redis.call('GET', KEYS[1])
  if existing then return existing end
end
local id = tostring(redis.call('INCR', KEYS[2]))
if KEYS[1] ~= '' then redis.call('SET', KEYS[1], id, 'EX', ARGV[11]) end
redis.call('HSET', ARGV[1] .. id, 'id', id, 'to', ARGV[2], 'text', ARGV[3], 'priority', ARGV[4],
  'state', 'queued', 'via', ARGV[5], 'carrier', ARGV[6], 'kind', ARGV[7], 'dossier', ARGV[8],
  'attempts', 0, 'queue', KEYS[3], 'score', ARGV[9], 'created_ms', ARGV[10],
  'updated_ms', ARGV[10])
redis.call('ZADD', KEYS[3], ARGV[9], id)
redis.call('ZADD', KEYS[5], ARGV[10], id)
if KEYS[6] ~= '' then redis.call('ZADD', KEYS[6], ARGV[10], id) end
redis.call('RPUSH', KEYS[4], '1')
redis.call('LTRIM', KEYS[4], -10, -1)
log(id, {at = tonumber(ARGV[10]), event = 'queued', via = ARGV[5], kind = ARGV[7]})
return id
"""
)

# KEYS: pinned queue of a modem, shared queue; ARGV: modem, sms key prefix, attempts key prefix,
#       instance. Moves up to 50 SMS, atomically (a crash in between must not drop any).
RELEASE = (
    _LOG
    + """
local head = redis.call('ZRANGE', KEYS[1], 0, 49, 'WITHSCORES')
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, #head, 2 do
  local id = head[i]
  redis.call('ZADD', KEYS[2], head[i + 1], id)
  redis.call('ZREM', KEYS[1], id)
  redis.call('HSET', ARGV[2] .. id, 'queue', KEYS[2])
  log(id, {at = now, event = 'released', modem = ARGV[1]})
end
return #head / 2
"""
)

# KEYS: pinned queue of this modem, shared queue, delayed set, inflight set of this modem,
#       the modems' carriers (hash)
# ARGV: modem id, its carrier ('' if unknown), now (ms), sms key prefix, how long a reply may
#       wait for its own modem (ms, '' : for ever), pinned queue key prefix, attempts key prefix,
#       instance
CLAIM = (
    _LOG
    + """
local now = tonumber(ARGV[3])
local prefix = ARGV[4]
local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 100)
for _, id in ipairs(due) do
  local m = redis.call('HMGET', prefix .. id, 'queue', 'score')
  if m[1] then redis.call('ZADD', m[1], m[2], id) end
  redis.call('ZREM', KEYS[3], id)
end
local best, best_score, best_queue, spilled = nil, nil, nil, nil
local pinned = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if pinned[1] then
  best, best_score, best_queue = pinned[1], tonumber(pinned[2]), KEYS[1]
end
local shared = redis.call('ZRANGE', KEYS[2], 0, __SCAN__ - 1, 'WITHSCORES')
local head, head_score, match = nil, nil, nil
for i = 1, #shared, 2 do
  local id, score = shared[i], tonumber(shared[i + 1])
  local m = redis.call('HMGET', prefix .. id, 'avoid', 'carrier')
  local avoid = m[1] or ''
  if not string.find(',' .. avoid .. ',', ',' .. ARGV[1] .. ',', 1, true) then
    if not head then head, head_score = id, score end
    if math.floor(score / __BAND__) > math.floor(head_score / __BAND__) then break end
    if ARGV[2] ~= '' and m[2] == ARGV[2] then match = id; head_score = score; break end
  end
end
local candidate = match or head
if candidate and (not best or head_score < best_score) then
  best, best_score, best_queue = candidate, head_score, KEYS[2]
end
-- A reply waiting longer than the reply wait for its own (busy, capped, down) modem leaves
-- from this one when both are on the same carrier.
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[5], ARGV[1], ARGV[2])
  if ARGV[5] ~= '' then
    local carriers = redis.call('HGETALL', KEYS[5])
    for i = 1, #carriers, 2 do
      local other = carriers[i]
      if other ~= ARGV[1] and carriers[i + 1] == ARGV[2] then
        local queue = ARGV[6] .. other
        local top = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
        if top[1] then
          local score = tonumber(top[2])
          local queued = score % __BAND__
          if queued <= now - tonumber(ARGV[5]) and (not best or score < best_score) then
            best, best_score, best_queue, spilled = top[1], score, queue, other
          end
        end
      end
    end
  end
end
if not best then return nil end
redis.call('ZREM', best_queue, best)
local fields = {'state', 'claimed', 'modem', ARGV[1], 'updated_ms', now}
if best_queue ~= KEYS[2] and ARGV[5] ~= '' then
  table.insert(fields, 'reply_wait_ms'); table.insert(fields, ARGV[5])
end
if spilled then table.insert(fields, 'spilled_from'); table.insert(fields, spilled) end
redis.call('HSET', prefix .. best, unpack(fields))
redis.call('SADD', KEYS[4], best)
log(best, {at = now, event = 'claimed', modem = ARGV[1], from = spilled})
return redis.call('HGETALL', prefix .. best)
""".replace("__SCAN__", str(SCAN)).replace("__BAND__", str(PRIORITY_BAND))
)
# A carrier link's claim: its own queue only (never the modems' shared one), up to ARGV[3] SMS
# at once (its window). Due retries go back to their queues first, as in CLAIM.
# KEYS: the link's queue, delayed set, the link's inflight set
# ARGV: link id, now (ms), most SMS, sms key prefix, attempts key prefix, instance
CLAIM_ROUTE = (
    _LOG
    + """
local now = tonumber(ARGV[2])
local prefix = ARGV[4]
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 100)
for _, id in ipairs(due) do
  local m = redis.call('HMGET', prefix .. id, 'queue', 'score')
  if m[1] then redis.call('ZADD', m[1], m[2], id) end
  redis.call('ZREM', KEYS[2], id)
end
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[3]) - 1)) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('HSET', prefix .. id, 'state', 'claimed', 'modem', ARGV[1], 'updated_ms', now)
  redis.call('SADD', KEYS[3], id)
  log(id, {at = now, event = 'claimed', modem = ARGV[1]})
  out[#out + 1] = redis.call('HGETALL', prefix .. id)
end
return out
"""
)

# A queued SMS moves to another route's queue (its route is down: `gateway/routing.py`); one
# waiting for a retry keeps its time and goes to the new queue when due. Nothing else moves.
# KEYS: the new queue, the new route's wake list
# ARGV: sms id, new via, sms key prefix, attempts key prefix, instance
REROUTE = (
    _LOG
    + """
local key = ARGV[3] .. ARGV[1]
local m = redis.call('HMGET', key, 'state', 'queue', 'score', 'via')
if m[1] ~= 'queued' or m[2] == KEYS[1] then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if m[2] and redis.call('ZREM', m[2], ARGV[1]) == 1 then
  redis.call('ZADD', KEYS[1], m[3], ARGV[1])
end
redis.call('HSET', key, 'queue', KEYS[1], 'via', ARGV[2], 'updated_ms', now)
redis.call('RPUSH', KEYS[2], '1')
redis.call('LTRIM', KEYS[2], -10, -1)
log(ARGV[1], {at = now, event = 'rerouted', from = m[4] or '', to = ARGV[2]})
return 1
"""
)
CLAIM_ROUTE = CLAIM_ROUTE.replace("__ATTEMPTS_TTL__", str(ATTEMPTS_TTL))
REROUTE = REROUTE.replace("__ATTEMPTS_TTL__", str(ATTEMPTS_TTL))
ENQUEUE = ENQUEUE.replace("__ATTEMPTS_TTL__", str(ATTEMPTS_TTL))
RELEASE = RELEASE.replace("__ATTEMPTS_TTL__", str(ATTEMPTS_TTL))
CLAIM = CLAIM.replace("__ATTEMPTS_TTL__", str(ATTEMPTS_TTL))

# KEYS: delivery ref key; ARGV: delivered (1/0), final (1/0), now (ms), sms key prefix, the
#       error to record when the report says the part failed
DELIVERY = """
local ref = redis.call('GET', KEYS[1])
if not ref then return nil end
local sep = string.find(ref, ':', 1, true)
local id, part = string.sub(ref, 1, sep - 1), tonumber(string.sub(ref, sep + 1))
local key = ARGV[4] .. id
local state = redis.call('HGET', key, 'state')
if state == 'delivered' or state == 'failed' then return {id, state} end
local reports = cjson.decode(redis.call('HGET', key, 'reports') or '[]')
local parts = tonumber(redis.call('HGET', key, 'parts') or '1')
if ARGV[2] == '1' then
  reports[part + 1] = (ARGV[1] == '1') and 'delivered' or 'failed'
end
local delivered = 0
local failed = false
for i = 1, parts do
  if reports[i] == 'delivered' then delivered = delivered + 1 end
  if reports[i] == 'failed' then failed = true end
end
for i = 1, parts do if reports[i] == nil then reports[i] = cjson.null end end
local fields = {'reports', cjson.encode(reports), 'updated_ms', ARGV[3]}
if failed then
  table.insert(fields, 'state'); table.insert(fields, 'failed')
  table.insert(fields, 'error'); table.insert(fields, ARGV[5])
  state = 'failed'
elseif delivered == parts and state == 'submitted' then
  table.insert(fields, 'state'); table.insert(fields, 'delivered')
  state = 'delivered'
end
redis.call('HSET', key, unpack(fields))
return {id, state}
"""


@dataclass(frozen=True, slots=True)
class Outbound:
    """An SMS as its modem's owner sees it."""

    id: str
    to: str
    text: str
    priority: Priority
    state: SmsState
    modem: str
    attempts: int
    parts: int  # 0 until the owner has encoded it
    next_part: int  # parts before this one are submitted
    refs: tuple[int | None, ...]
    concat_ref: int | None
    resent: bool
    via: str
    fields: dict[str, str]

    @classmethod
    def from_hash(cls, raw: dict[str, str]) -> Outbound:
        return cls(
            id=raw["id"],
            to=raw["to"],
            text=raw["text"],
            priority=Priority(int(raw["priority"])),
            state=SmsState(raw["state"]),
            modem=raw.get("modem", ""),
            attempts=int(raw.get("attempts", "0")),
            parts=int(raw.get("parts", "0")),
            next_part=int(raw.get("next_part", "0")),
            refs=tuple(json.loads(raw.get("refs", "[]"))),
            concat_ref=int(raw["concat_ref"]) if raw.get("concat_ref") else None,
            resent=raw.get("resent") == "1",
            via=raw.get("via", ""),
            fields=raw,
        )


@dataclass(frozen=True, slots=True)
class UnknownFate:
    """A part that was being handed to the modem when its owner died."""

    sms: Outbound
    part: int
    expected_ref: int | None  # the TP-MR it should have had (a guess: the modem's next one)
    since_ms: int = 0  # when it was being handed over


class Outbox:
    def __init__(self, client: redis.Redis, instance: str = "") -> None:
        self._redis = client
        self._instance = instance  # who acts: recorded in the attempt log
        self._claim = client.register_script(CLAIM)
        self._delivery = client.register_script(DELIVERY)
        self._enqueue = client.register_script(ENQUEUE)
        self._release = client.register_script(RELEASE)
        self._claim_route = client.register_script(CLAIM_ROUTE)
        self._reroute = client.register_script(REROUTE)

    def acting_as(self, instance: str) -> Outbox:
        """The same outbox, with `instance` (e.g. a modem service) named in the attempt log."""
        return Outbox(self._redis, instance)

    def _log(self, pipe: Any, message_id: str, event: str, now_ms: int, **fields: Any) -> None:
        entry = {"at": now_ms, "event": event, **fields, "by": self._instance}
        name = keys.sms_attempts(message_id)
        pipe.rpush(name, json.dumps(entry, ensure_ascii=False, separators=(",", ":")))
        pipe.expire(name, ATTEMPTS_TTL)

    def attempts(self, message_id: str) -> list[dict[str, Any]]:
        """The attempt log of one SMS, oldest first."""
        raw = self._redis.lrange(keys.sms_attempts(message_id), 0, -1)
        return [json.loads(str(entry)) for entry in cast(list[str], raw)]

    # -- producers (workers) ---------------------------------------------------------------

    def enqueue(
        self,
        to: str,
        text: str,
        priority: Priority,
        now_ms: int,
        *,
        via: str = "",
        carrier: str = "",
        kind: str = "",
        dossier: str = "",
        dedupe_key: str = "",
    ) -> str:
        """Queues an SMS and returns its id; the same `dedupe_key` again returns the first id.

        One script: the dedupe key is never set without its SMS (a job killed in between would
        otherwise leave a key that answers "queued before" for an SMS that does not exist)."""
        queue = keys.outbox_pinned(via) if via else keys.outbox_shared()
        score = int(priority) * PRIORITY_BAND + now_ms
        message_id = self._enqueue(
            keys=[
                keys.sms_dedupe(dedupe_key) if dedupe_key else "",
                keys.sms_counter(),
                queue,
                keys.outbox_wake(via or "shared"),
                keys.sms_by_phone(to),
                keys.sms_by_dossier(dossier) if dossier else "",
            ],
            args=[
                keys.sms_prefix(),
                to,
                text,
                int(priority),
                via,
                carrier,
                kind,
                dossier,
                score,
                now_ms,
                DEDUPE_TTL,
                keys.sms_attempts(""),
                self._instance,
            ],
        )
        confirm(self._redis)  # also for a dedupe hit: its first enqueue may be unconfirmed
        return str(message_id)

    def reindex(self, message_id: str) -> bool:
        """Adds one stored SMS to the indexes by phone and dossier (an upgrade step for SMS
        queued before the indexes existed); False if there is no such SMS."""
        raw = cast(
            list[str | None], self._redis.hmget(keys.sms(message_id), "to", "dossier", "created_ms")
        )
        to, dossier, created = raw
        if not to:
            return False
        pipe = self._redis.pipeline(transaction=False)
        _index(pipe, message_id, to, dossier or "", int(created or 0))
        pipe.execute()
        return True

    def ids_for(self, *, phone: str = "", dossier: str = "", limit: int = 10_000) -> list[str]:
        """The ids of the SMS to `phone` or about `dossier` (the smaller index when both are
        given; the caller filters by the other), newest first, at most `limit`."""
        names = []
        if phone:
            names.append(keys.sms_by_phone(phone))
        if dossier:
            names.append(keys.sms_by_dossier(dossier))
        if not names:
            raise ValueError("a phone or a dossier is needed")
        name = min(names, key=lambda n: int(self._redis.zcard(n)))
        return [str(i) for i in self._redis.zrevrange(name, 0, limit - 1)]

    def resend(self, message_id: str, now_ms: int) -> str:
        """Queues a copy of a failed SMS as a new SMS and links the two; the same failed SMS
        resent twice gives the same copy. Raises LookupError (no such SMS) or ValueError (it
        has not failed)."""
        sms = self.get(message_id)
        if sms is None:
            raise LookupError(f"No SMS {message_id}.")
        if sms.state is not SmsState.FAILED:
            raise ValueError(f"SMS {message_id} is {sms.state.value}, not failed.")
        new_id = self.enqueue(
            sms.to,
            sms.text,
            Priority(sms.priority),
            now_ms,
            carrier=carrier_of(sms.to) or "",
            kind=sms.fields.get("kind", ""),
            dossier=sms.fields.get("dossier", ""),
            dedupe_key=f"admin-resend:{message_id}",
        )
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(keys.sms(message_id), "resent_as", new_id)
        pipe.hset(keys.sms(new_id), "resend_of", message_id)
        pipe.execute()
        return new_id

    def get(self, message_id: str) -> Outbound | None:
        raw = cast(dict[str, str], self._redis.hgetall(keys.sms(message_id)))
        return Outbound.from_hash(raw) if raw else None

    # -- the modem's owner -------------------------------------------------------------------

    def claim(
        self, modem: str, carrier: str, now_ms: int, reply_wait_ms: int | None = None
    ) -> Outbound | None:
        """The next SMS for this modem: the head of its pinned queue or of the shared queue
        (its carrier's numbers first), whichever comes first by priority then age; with
        `reply_wait_ms`, also a reply pinned to another modem of the same `carrier` that has
        waited that long (recorded on it: `reply_wait_ms`, `spilled_from`)."""
        raw = self._claim(
            keys=[
                keys.outbox_pinned(modem),
                keys.outbox_shared(),
                keys.outbox_delayed(),
                keys.outbox_inflight(modem),
                keys.modem_carriers(),
            ],
            args=[
                modem,
                carrier,
                now_ms,
                keys.sms_prefix(),
                "" if reply_wait_ms is None else max(0, reply_wait_ms),
                keys.outbox_pinned(""),
                keys.sms_attempts(""),
                self._instance,
            ],
        )
        if not raw:
            return None
        it = iter(raw)
        return Outbound.from_hash(dict(zip(it, it, strict=True)))

    def plan(self, sms: Outbound, parts: int, concat_ref: int | None) -> Outbound:
        """Records how the SMS is split (once): resends must use the same parts and reference."""
        if sms.parts:
            return sms
        refs = json.dumps([None] * parts)
        fields: dict[Any, Any] = {"parts": parts, "refs": refs}
        if concat_ref is not None:
            fields["concat_ref"] = concat_ref
        self._redis.hset(keys.sms(sms.id), mapping=fields)
        return replace(
            sms,
            parts=parts,
            refs=(None,) * parts,
            concat_ref=concat_ref,
            fields=sms.fields | {k: str(v) for k, v in fields.items()},
        )

    def submitting(
        self,
        sms: Outbound,
        part: int,
        expected_ref: int | None,
        now_ms: int,
        *,
        resend: bool = False,
    ) -> None:
        """Saved before the part's PDU is written to the modem; `resend`: the part's fate was
        unknown and this is its one resend (recorded with it, atomically: a crash between the
        two would otherwise count a resend that never went out)."""
        fields: dict[Any, Any] = {
            "state": SmsState.SUBMITTING.value,
            "next_part": part,
            "expected_ref": "" if expected_ref is None else expected_ref,
            "updated_ms": now_ms,
        }
        if resend:
            fields["resent"] = "1"
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(keys.sms(sms.id), mapping=fields)
        self._log(pipe, sms.id, "submitting", now_ms, modem=sms.modem, part=part, resend=resend)
        pipe.execute()

    def submitted(
        self, sms: Outbound, part: int, reference: int, now_ms: int, *, how: str = "+CMGS"
    ) -> bool:
        """The network took the part (`+CMGS: <reference>`, or after a crash a status report or
        an earlier resend: `how`); True once every part is in."""
        name = keys.sms(sms.id)
        refs = list(json.loads(str(self._redis.hget(name, "refs") or "[]")))
        while len(refs) <= part:
            refs.append(None)
        refs[part] = reference
        done = part + 1 >= max(sms.parts, 1)
        pipe = self._redis.pipeline(transaction=True)
        fields: dict[Any, Any] = {
            "refs": json.dumps(refs),
            "next_part": part + 1,
            "updated_ms": now_ms,
        }
        if done:
            fields["state"] = SmsState.SUBMITTED.value
            fields["submitted_ms"] = now_ms
            pipe.srem(keys.outbox_inflight(sms.modem), sms.id)
        pipe.hset(name, mapping=fields)
        pipe.set(
            keys.delivery_ref(sms.modem, reference, report_number(sms.to)),
            f"{sms.id}:{part}",
            ex=DELIVERY_REF_TTL,
        )
        if how == "+CMGS":
            pipe.set(keys.modem_last_reference(sms.modem), reference)
        self._log(
            pipe, sms.id, "submitted", now_ms, modem=sms.modem, part=part, ref=reference, how=how
        )
        pipe.execute()
        return done

    def failed_attempt(self, sms: Outbound, where: RetryWhere, error: str, now_ms: int) -> SmsState:
        """A part was refused: retry (here later, or elsewhere now) or give up."""
        attempts = sms.attempts + 1
        delay = retry_delay(attempts, where)
        name = keys.sms(sms.id)
        pipe = self._redis.pipeline(transaction=True)
        pipe.srem(keys.outbox_inflight(sms.modem), sms.id)
        if delay is None:
            pipe.hset(
                name,
                mapping={
                    "state": SmsState.FAILED.value,
                    "attempts": attempts,
                    "error": error,
                    "updated_ms": now_ms,
                },
            )
            self._log(pipe, sms.id, "refused", now_ms, modem=sms.modem, error=error, then="failed")
            pipe.execute()
            return SmsState.FAILED
        avoid = sms.fields.get("avoid", "")
        if where is RetryWhere.ELSEWHERE:
            avoid = ",".join(filter(None, [*avoid.split(","), sms.modem]))
            queue = keys.outbox_shared()
        else:
            queue = keys.outbox_pinned(sms.modem) if sms.via == sms.modem else keys.outbox_shared()
        pipe.hset(
            name,
            mapping={
                "state": SmsState.QUEUED.value,
                "attempts": attempts,
                "error": error,
                "avoid": avoid,
                "queue": queue,
                "updated_ms": now_ms,
            },
        )
        pipe.zadd(keys.outbox_delayed(), {sms.id: now_ms + int(delay * 1000)})
        self._log(pipe, sms.id, "refused", now_ms, modem=sms.modem, error=error, then="retry")
        pipe.execute()
        return SmsState.QUEUED

    def give_up(self, sms: Outbound, error: str, now_ms: int) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.srem(keys.outbox_inflight(sms.modem), sms.id)
        pipe.hset(
            keys.sms(sms.id),
            mapping={"state": SmsState.FAILED.value, "error": error, "updated_ms": now_ms},
        )
        self._log(pipe, sms.id, "gave_up", now_ms, modem=sms.modem, error=error)
        pipe.execute()

    def delivery_report(
        self,
        modem: str,
        reference: int,
        recipient: str,
        delivered: bool,
        final: bool,
        now_ms: int,
        status: int | None = None,
    ) -> tuple[str, SmsState] | None:
        """Applies a status report to the part it is for; (sms id, its state) or None if unknown.
        `status` (TP-ST) is named in the error of a part that was not delivered."""
        error = "không đến được máy người nhận"
        if status is not None:
            error += f" (TP-ST {status})"
        args = ["1" if delivered else "0", "1" if final else "0", now_ms, keys.sms_prefix(), error]
        self._redis.set(keys.modem_last_report(modem), now_ms, ex=REPORTS_ALIVE_MS // 1000)
        result = self._delivery(
            keys=[keys.delivery_ref(modem, reference, report_number(recipient))], args=args
        )
        if not result and recipient != report_number(recipient):
            # a part recorded before recipients were compared by their last digits
            old = keys.delivery_ref(modem, reference, recipient)
            result = self._delivery(keys=[old], args=args)
        if not result:
            return None
        return str(result[0]), SmsState(result[1])

    # -- crashes and failover ----------------------------------------------------------------

    def recover(self, modem: str, now_ms: int) -> list[UnknownFate]:
        """At the start of a modem's owner: SMS it had claimed go back to their queue; parts it
        was submitting when it died are returned, to be resent once (TP-Reject-Duplicates)."""
        unknown: list[UnknownFate] = []
        for message_id in sorted(self._redis.smembers(keys.outbox_inflight(modem)), key=str):
            sms = self.get(str(message_id))
            if sms is None or sms.state in FINAL_STATES or sms.state is SmsState.SUBMITTED:
                self._redis.srem(keys.outbox_inflight(modem), str(message_id))
                continue
            if sms.state is SmsState.SUBMITTING:
                expected = sms.fields.get("expected_ref", "")
                since = int(sms.fields.get("updated_ms") or now_ms)
                guess = int(expected) if expected else None
                unknown.append(UnknownFate(sms, sms.next_part, guess, since))
                pipe = self._redis.pipeline(transaction=False)
                self._log(pipe, sms.id, "fate_unknown", now_ms, modem=modem, part=sms.next_part)
                pipe.execute()
                continue
            self._requeue(sms, now_ms)
        return unknown

    def _requeue(self, sms: Outbound, now_ms: int) -> None:
        queue = sms.fields.get("queue") or keys.outbox_shared()
        pipe = self._redis.pipeline(transaction=True)
        pipe.srem(keys.outbox_inflight(sms.modem), sms.id)
        pipe.hset(keys.sms(sms.id), mapping={"state": SmsState.QUEUED.value, "updated_ms": now_ms})
        pipe.zadd(queue, {sms.id: int(sms.fields["score"])})
        self._log(pipe, sms.id, "requeued", now_ms, modem=sms.modem, was=sms.state.value)
        pipe.execute()

    def reports_alive(self, modem: str, now_ms: int) -> bool:
        """Whether this modem's network sent a status report lately (`REPORTS_ALIVE_MS`)."""
        last = self._redis.get(keys.modem_last_report(modem))
        return last is not None and now_ms - int(last) < REPORTS_ALIVE_MS

    def last_reference(self, modem: str) -> int | None:
        """The TP-MR of the last part this modem's network accepted, if any is recorded."""
        value = self._redis.get(keys.modem_last_reference(modem))
        return int(value) if value is not None else None

    def mark_resent(self, sms: Outbound) -> None:
        self._redis.hset(keys.sms(sms.id), "resent", "1")

    def release_pinned(self, modem: str) -> int:
        """A modem is down: the SMS pinned to it go to the shared queue. Returns how many."""
        moved = 0
        while True:
            count = int(
                self._release(
                    keys=[keys.outbox_pinned(modem), keys.outbox_shared()],
                    args=[modem, keys.sms_prefix(), keys.sms_attempts(""), self._instance],
                )
            )
            if not count:
                return moved
            moved += count

    def depth(self, modem: str | None = None) -> int:
        if modem is None:
            return int(self._redis.zcard(keys.outbox_shared()))
        return int(self._redis.zcard(keys.outbox_pinned(modem)))

    # -- carrier links (modem/smpp/) and routing (gateway/routing.py) ------------------------

    def claim_route(self, route: str, now_ms: int, limit: int) -> list[Outbound]:
        """Up to `limit` SMS from the queue of one route (a carrier link), oldest of the highest
        priority first; each is `claimed` by the route, as `claim` does for a modem."""
        raw = self._claim_route(
            keys=[keys.outbox_pinned(route), keys.outbox_delayed(), keys.outbox_inflight(route)],
            args=[route, now_ms, limit, keys.sms_prefix(), keys.sms_attempts(""), self._instance],
        )
        claimed = []
        for fields in cast(list[list[str]], raw or []):
            it = iter(fields)
            claimed.append(Outbound.from_hash(dict(zip(it, it, strict=True))))
        return claimed

    def plan_all(self, planned: Sequence[tuple[Outbound, int, int | None]]) -> list[Outbound]:
        """`plan` for a batch of (sms, parts, concat_ref) in one round trip: what a carrier link
        claimed at once."""
        pipe = self._redis.pipeline(transaction=False)
        out = []
        for sms, parts, concat_ref in planned:
            if sms.parts:
                out.append(sms)
                continue
            fields: dict[Any, Any] = {"parts": parts, "refs": json.dumps([None] * parts)}
            if concat_ref is not None:
                fields["concat_ref"] = concat_ref
            pipe.hset(keys.sms(sms.id), mapping=fields)
            out.append(
                replace(
                    sms,
                    parts=parts,
                    refs=(None,) * parts,
                    concat_ref=concat_ref,
                    fields=sms.fields | {k: str(v) for k, v in fields.items()},
                )
            )
        pipe.execute()
        return out

    def submitting_parts(self, parts: Sequence[tuple[Outbound, int, bool]], now_ms: int) -> None:
        """`submitting` for a batch of (sms, part, resend) in one atomic step (one fsync), saved
        before a carrier link writes their submit_sm: a link writes a window of them at once."""
        pipe = self._redis.pipeline(transaction=True)
        for sms, part, resend in parts:
            fields: dict[Any, Any] = {
                "state": SmsState.SUBMITTING.value,
                "next_part": part,
                "expected_ref": "",
                "updated_ms": now_ms,
            }
            if resend:
                fields["resent"] = "1"
            pipe.hset(keys.sms(sms.id), mapping=fields)
            self._log(pipe, sms.id, "submitting", now_ms, modem=sms.modem, part=part, resend=resend)
        pipe.execute()

    def accepted(
        self, sms: Outbound, part: int, message_id: str, now_ms: int, *, how: str = "submit_sm_resp"
    ) -> bool:
        """A carrier link's SMSC took the part under `message_id` (submit_sm_resp, or after a
        crash its receipt: `how`); True once every part is in. Its receipt finds the part by
        (route, message id); an empty id (resent already, fate still unknown) indexes nothing."""
        return self.accepted_parts([(sms, part, message_id, how)], now_ms)[0]

    def accepted_parts(
        self, parts: Sequence[tuple[Outbound, int, str, str]], now_ms: int
    ) -> list[bool]:
        """`accepted` for a batch of (sms, part, message id, how) in one atomic step."""
        reading = self._redis.pipeline(transaction=False)
        for sms, *_ in parts:
            reading.hget(keys.sms(sms.id), "refs")
        stored = {sms.id: raw for (sms, *_), raw in zip(parts, reading.execute(), strict=True)}
        refs_of = {sms_id: list(json.loads(str(raw or "[]"))) for sms_id, raw in stored.items()}
        pipe = self._redis.pipeline(transaction=True)
        done_all = []
        for sms, part, message_id, how in parts:
            refs = refs_of[sms.id]
            while len(refs) <= part:
                refs.append(None)
            refs[part] = message_id or None
            done = part + 1 >= max(sms.parts, 1)
            fields: dict[Any, Any] = {
                "refs": json.dumps(refs),
                "next_part": part + 1,
                "updated_ms": now_ms,
            }
            if done:
                fields["state"] = SmsState.SUBMITTED.value
                fields["submitted_ms"] = now_ms
                pipe.srem(keys.outbox_inflight(sms.modem), sms.id)
            pipe.hset(keys.sms(sms.id), mapping=fields)
            if message_id:
                index = keys.smpp_message(sms.modem, message_id)
                pipe.set(index, f"{sms.id}:{part}", ex=DELIVERY_REF_TTL)
            self._log(
                pipe,
                sms.id,
                "submitted",
                now_ms,
                modem=sms.modem,
                part=part,
                ref=message_id,
                how=how,
            )
            done_all.append(done)
        pipe.execute()
        return done_all

    def receipt(
        self, route: str, message_id: str, delivered: bool, final: bool, now_ms: int
    ) -> tuple[str, SmsState] | None:
        """Applies a carrier's delivery receipt to the part it is for (`delivery_report`'s rule:
        one failed part fails the SMS, all delivered delivers it); None if the id is unknown."""
        return self.receipts(route, [(message_id, delivered, final)], now_ms)[0]

    def receipts(
        self, route: str, receipts: Sequence[tuple[str, bool, bool]], now_ms: int
    ) -> list[tuple[str, SmsState] | None]:
        """`receipt` for a batch of (message id, delivered, final) in one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for message_id, delivered, final in receipts:
            self._delivery(
                keys=[keys.smpp_message(route, message_id)],
                args=[
                    "1" if delivered else "0",
                    "1" if final else "0",
                    now_ms,
                    keys.sms_prefix(),
                    RECEIPT_FAILED,
                ],
                client=pipe,
            )
        return [
            None if not result else (str(result[0]), SmsState(result[1]))
            for result in pipe.execute()
        ]

    def reroute(self, message_id: str, via: str) -> bool:
        """Moves a queued SMS to the queue of `via` ("" the modems' shared queue, else a modem or
        link id); False if it is not queued (taken meanwhile) or already there."""
        queue = keys.outbox_pinned(via) if via else keys.outbox_shared()
        moved = self._reroute(
            keys=[queue, keys.outbox_wake(via or "shared")],
            args=[message_id, via, keys.sms_prefix(), keys.sms_attempts(""), self._instance],
        )
        return bool(moved)

    def waiting(self, via: str, limit: int) -> list[dict[str, str]]:
        """The first `limit` SMS queued for `via` ("" the shared queue): id, kind, via, origin,
        office and queue of each (what routing needs to move them)."""
        queue = keys.outbox_pinned(via) if via else keys.outbox_shared()
        ids = [str(i) for i in self._redis.zrange(queue, 0, limit - 1)]
        names = ("id", "kind", "via", "origin", "office", "queue")
        pipe = self._redis.pipeline(transaction=False)
        for message_id in ids:
            pipe.hmget(keys.sms(message_id), list(names))
        rows = []
        for values in pipe.execute():
            row = dict(zip(names, cast(list[str | None], values), strict=True))
            if row["id"]:
                rows.append({k: v or "" for k, v in row.items()})
        return rows


def report_number(number: str) -> str:
    """A recipient as it is compared with a status report's: its last 9 digits. The SMSC may
    write the number national (09...), international without '+' or as E.164."""
    digits = "".join(c for c in number if c.isdigit())
    return digits[-9:] if len(digits) >= 9 else number


def _index(pipe: Any, message_id: str, to: str, dossier: str, created_ms: int) -> None:
    pipe.zadd(keys.sms_by_phone(to), {message_id: created_ms})
    if dossier:
        pipe.zadd(keys.sms_by_dossier(dossier), {message_id: created_ms})
