"""The durable queue of outbound SMS, shared by every worker and every modem service.

Each SMS is a hash that moves queued -> claimed -> submitting -> submitted -> delivered | failed.
The state is saved *before* each part goes to the modem (`submitting`), so after a crash the
modem's owner knows which parts have an unknown fate (`recover`) and resends each of them once,
with TP-Reject-Duplicates set.

Queues: a shared one that any modem takes from (preferring SMS to its own carrier's numbers), one
pinned queue per modem (a reply leaves through the number the citizen wrote to), and a delayed
set for retries with backoff. A modem that is down hands its pinned SMS to the shared queue
(`release_pinned`).
"""

from __future__ import annotations

import json
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

PRIORITY_BAND = 10**13  # score = priority * band + milliseconds: priority first, then age
DELIVERY_REF_TTL = 3 * 86400
SCAN = 20

# KEYS: pinned queue of this modem, shared queue, delayed set, inflight set of this modem
# ARGV: modem id, its carrier ('' if unknown), now (ms), sms key prefix
CLAIM = """
local now = tonumber(ARGV[3])
local prefix = ARGV[4]
local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 100)
for _, id in ipairs(due) do
  local m = redis.call('HMGET', prefix .. id, 'queue', 'score')
  if m[1] then redis.call('ZADD', m[1], m[2], id) end
  redis.call('ZREM', KEYS[3], id)
end
local best, best_score, best_queue = nil, nil, nil
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
  best, best_queue = candidate, KEYS[2]
end
if not best then return nil end
redis.call('ZREM', best_queue, best)
redis.call('HSET', prefix .. best, 'state', 'claimed', 'modem', ARGV[1], 'updated_ms', now)
redis.call('SADD', KEYS[4], best)
return redis.call('HGETALL', prefix .. best)
""".replace("__SCAN__", str(SCAN)).replace("__BAND__", str(PRIORITY_BAND))

# KEYS: delivery ref key; ARGV: delivered (1/0), final (1/0), now (ms), sms key prefix
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
  table.insert(fields, 'error'); table.insert(fields, 'delivery failed')
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
    expected_ref: int | None


class Outbox:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client
        self._claim = client.register_script(CLAIM)
        self._delivery = client.register_script(DELIVERY)

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
        """Queues an SMS and returns its id; the same `dedupe_key` again returns the first id."""
        if dedupe_key:
            existing = self._redis.get(keys.sms_dedupe(dedupe_key))
            if existing is not None:
                return str(existing)
        message_id = str(self._redis.incr(keys.sms_counter()))
        if dedupe_key and not self._redis.set(
            keys.sms_dedupe(dedupe_key), message_id, nx=True, ex=30 * 86400
        ):
            return str(self._redis.get(keys.sms_dedupe(dedupe_key)))
        queue = keys.outbox_pinned(via) if via else keys.outbox_shared()
        score = int(priority) * PRIORITY_BAND + now_ms
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(
            keys.sms(message_id),
            mapping={
                "id": message_id,
                "to": to,
                "text": text,
                "priority": int(priority),
                "state": SmsState.QUEUED.value,
                "via": via,
                "carrier": carrier,
                "kind": kind,
                "dossier": dossier,
                "attempts": 0,
                "queue": queue,
                "score": score,
                "created_ms": now_ms,
                "updated_ms": now_ms,
            },
        )
        pipe.zadd(queue, {message_id: score})
        _index(pipe, message_id, to, dossier, now_ms)
        wake = keys.outbox_wake(via or "shared")
        pipe.rpush(wake, "1")
        pipe.ltrim(wake, -10, -1)
        pipe.execute()
        return message_id

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

    def claim(self, modem: str, carrier: str, now_ms: int) -> Outbound | None:
        raw = self._claim(
            keys=[
                keys.outbox_pinned(modem),
                keys.outbox_shared(),
                keys.outbox_delayed(),
                keys.outbox_inflight(modem),
            ],
            args=[modem, carrier, now_ms, keys.sms_prefix()],
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

    def submitting(self, sms: Outbound, part: int, expected_ref: int | None, now_ms: int) -> None:
        """Saved before the part's PDU is written to the modem."""
        self._redis.hset(
            keys.sms(sms.id),
            mapping={
                "state": SmsState.SUBMITTING.value,
                "next_part": part,
                "expected_ref": "" if expected_ref is None else expected_ref,
                "updated_ms": now_ms,
            },
        )

    def submitted(self, sms: Outbound, part: int, reference: int, now_ms: int) -> bool:
        """The network took the part (`+CMGS: <reference>`); True once every part is in."""
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
            keys.delivery_ref(sms.modem, reference, sms.to), f"{sms.id}:{part}", ex=DELIVERY_REF_TTL
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
        pipe.execute()
        return SmsState.QUEUED

    def give_up(self, sms: Outbound, error: str, now_ms: int) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.srem(keys.outbox_inflight(sms.modem), sms.id)
        pipe.hset(
            keys.sms(sms.id),
            mapping={"state": SmsState.FAILED.value, "error": error, "updated_ms": now_ms},
        )
        pipe.execute()

    def delivery_report(
        self, modem: str, reference: int, recipient: str, delivered: bool, final: bool, now_ms: int
    ) -> tuple[str, SmsState] | None:
        """Applies a status report to the part it is for; (sms id, its state) or None if unknown."""
        result = self._delivery(
            keys=[keys.delivery_ref(modem, reference, recipient)],
            args=["1" if delivered else "0", "1" if final else "0", now_ms, keys.sms_prefix()],
        )
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
                unknown.append(UnknownFate(sms, sms.next_part, int(expected) if expected else None))
                continue
            self._requeue(sms, now_ms)
        return unknown

    def _requeue(self, sms: Outbound, now_ms: int) -> None:
        queue = sms.fields.get("queue") or keys.outbox_shared()
        pipe = self._redis.pipeline(transaction=True)
        pipe.srem(keys.outbox_inflight(sms.modem), sms.id)
        pipe.hset(keys.sms(sms.id), mapping={"state": SmsState.QUEUED.value, "updated_ms": now_ms})
        pipe.zadd(queue, {sms.id: int(sms.fields["score"])})
        pipe.execute()

    def mark_resent(self, sms: Outbound) -> None:
        self._redis.hset(keys.sms(sms.id), "resent", "1")

    def release_pinned(self, modem: str) -> int:
        """A modem is down: the SMS pinned to it go to the shared queue. Returns how many."""
        moved = 0
        while True:
            head = cast(list[tuple[str, float]], self._redis.zpopmin(keys.outbox_pinned(modem), 50))
            if not head:
                return moved
            pipe = self._redis.pipeline(transaction=True)
            for message_id, score in head:
                pipe.hset(keys.sms(str(message_id)), "queue", keys.outbox_shared())
                pipe.zadd(keys.outbox_shared(), {str(message_id): score})
            pipe.execute()
            moved += len(head)

    def depth(self, modem: str | None = None) -> int:
        if modem is None:
            return int(self._redis.zcard(keys.outbox_shared()))
        return int(self._redis.zcard(keys.outbox_pinned(modem)))


def _index(pipe: Any, message_id: str, to: str, dossier: str, created_ms: int) -> None:
    pipe.zadd(keys.sms_by_phone(to), {message_id: created_ms})
    if dossier:
        pipe.zadd(keys.sms_by_dossier(dossier), {message_id: created_ms})
