"""Inbound SMS, persisted before they leave the SIM; multipart messages reassembled here.

The modem's owner lists the SIM, calls `take` for each stored part (one atomic script: dedupe by
the PDU's digest, keep the part, and when a message is whole, dedupe it by sender, SMSC time and
text and file it as pending), and only then deletes the part from the SIM. A pending message is
handed to the workers as a job (`handed_over` moves it from the pending list to the unanswered
set, `answered` takes it out); after a crash, `pending` lists what still has to be handed over,
and jobs are idempotent by message id.

A job can vanish after it was handed over: an RQ worker that listens on several queues takes a
job with a plain BLPOP (no intermediate queue), so a worker killed before its work horse records
the job as started leaves it in no queue and no registry. `pending` therefore also lists messages
handed over more than `REHAND_AFTER_MS` ago and still unanswered (at most `REHAND_MAX` times
each); handing one over again is safe (one job id per message, the reply has a dedupe key).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import redis

from gateway.core.times import format_time, to_micros
from gateway.store import keys
from gateway.store.replication import confirm

REASSEMBLY_TTL = 7 * 86400
SEEN_TTL = 7 * 86400
GAP = "…"  # stands for a part that never came
REHAND_AFTER_MS = 30_000
REHAND_MAX = 3

# KEYS: pending list, unanswered set; ARGV: message id. The time is the server's (every host's
# modem service and worker agree on it).
HANDED_OVER = """
local t = redis.call('TIME')
redis.call('LREM', KEYS[1], 0, ARGV[1])
redis.call('ZADD', KEYS[2], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), ARGV[1])
return 1
"""

# KEYS: unanswered set; ARGV: older than (ms), most times, inbound hash prefix
# Returns the ids handed over long ago and not answered, each counted in its hash (`rehanded`).
STALE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]), 'LIMIT', 0, 100)
local out = {}
for _, id in ipairs(ids) do
  if redis.call('HINCRBY', ARGV[3] .. id, 'rehanded', 1) > tonumber(ARGV[2]) then
    redis.call('ZREM', KEYS[1], id)  -- its job keeps failing: `hoso jobs failed` shows it
  else
    redis.call('ZADD', KEYS[1], now, id)
    out[#out + 1] = id
  end
end
return out
"""

# KEYS: part-seen key, reassembly hash ('' when single), reassembly index, counter, pending list
# ARGV: 1 prefix of inbound hashes, 2 modem, 3 sender, 4 text, 5 smsc time (ISO), 6 seq (0 if
#       single), 7 total, 8 now (ms), 9 received_at (ISO), 10 ttl, 11 seen-key prefix
TAKE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[10]) == false then return {'duplicate-part'} end
local text, smsc, parts = ARGV[4], ARGV[5], 1
if KEYS[2] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[6], cjson.encode({text = ARGV[4], smsc = ARGV[5]}))
  redis.call('EXPIRE', KEYS[2], ARGV[10])
  redis.call('ZADD', KEYS[3], 'NX', ARGV[8], KEYS[2])
  local total = tonumber(ARGV[7])
  if redis.call('HLEN', KEYS[2]) < total then return {'partial'} end
  local chunks = {}
  for i = 1, total do
    local part = cjson.decode(redis.call('HGET', KEYS[2], tostring(i)))
    chunks[i] = part.text
    if i == 1 then smsc = part.smsc end
  end
  text = table.concat(chunks)
  parts = total
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[3], KEYS[2])
end
local digest = redis.sha1hex(ARGV[3] .. '\\n' .. smsc .. '\\n' .. text)
if redis.call('SET', ARGV[11] .. digest, '1', 'NX', 'EX', ARGV[10]) == false then
  return {'duplicate-message'}
end
local id = tostring(redis.call('INCR', KEYS[4]))
redis.call('HSET', ARGV[1] .. id, 'id', id, 'modem', ARGV[2], 'sender', ARGV[3], 'text', text,
  'smsc_time', smsc, 'received_at', ARGV[9], 'parts', parts)
redis.call('RPUSH', KEYS[5], id)
return {'message', id}
"""


@dataclass(frozen=True, slots=True)
class InboundPart:
    """One stored SMS (or one part of a concatenated one) as read from a modem."""

    modem: str
    sender: str
    text: str
    smsc_time: datetime
    digest: str  # of the PDU as read: the same stored part read twice has the same digest
    concat: tuple[int, int, int] | None = None  # (reference, total, sequence number from 1)


@dataclass(frozen=True, slots=True)
class Inbound:
    id: str
    modem: str
    sender: str
    text: str
    smsc_time: str
    received_at: str
    parts: int


class Inbox:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client
        self._take = client.register_script(TAKE)
        self._handed_over = client.register_script(HANDED_OVER)
        self._stale = client.register_script(STALE)

    def take(self, part: InboundPart, now: datetime) -> str | None:
        """Persists a part; returns the id of the message it completes, if any."""
        if part.concat is not None:
            ref, total, seq = part.concat
            reassembly = keys.reassembly(part.modem, part.sender, ref, total)
        else:
            total, seq, reassembly = 1, 0, ""
        result = self._take(
            keys=[
                keys.inbound_part_seen(part.modem, part.digest),
                reassembly,
                keys.reassembly_index(),
                keys.inbound_counter(),
                keys.inbound_pending(),
            ],
            args=[
                keys.inbound_prefix(),
                part.modem,
                part.sender,
                part.text,
                format_time(part.smsc_time),
                seq,
                total,
                to_micros(now) // 1000,
                format_time(now),
                REASSEMBLY_TTL,
                keys.inbound_seen(""),
            ],
        )
        confirm(self._redis)  # the part leaves the SIM next: a replica must hold it
        return str(result[1]) if result[0] == "message" else None

    def expire_partials(self, older_than_ms: int, now: datetime) -> list[str]:
        """Multipart messages whose missing parts never came: filed with a gap mark."""
        made: list[str] = []
        stale = self._redis.zrangebyscore(keys.reassembly_index(), "-inf", older_than_ms)
        for name in (str(n) for n in stale):
            _, _, modem, sender, _, total = name.rsplit(":", 5)
            parts = cast(dict[str, str], self._redis.hgetall(name))
            if not parts:
                self._redis.zrem(keys.reassembly_index(), name)
                continue
            decoded = {int(k): json.loads(v) for k, v in parts.items()}
            text = "".join(
                decoded[i]["text"] if i in decoded else GAP for i in range(1, int(total) + 1)
            )
            first = decoded[min(decoded)]
            digest = hashlib.sha256(f"{name}:{sorted(decoded)}".encode()).hexdigest()
            message = self.take(
                InboundPart(modem, sender, text, datetime.fromisoformat(first["smsc"]), digest),
                now,
            )
            self._redis.delete(name)
            self._redis.zrem(keys.reassembly_index(), name)
            if message:
                made.append(message)
        return made

    def get(self, message_id: str) -> Inbound | None:
        raw = cast(dict[str, str], self._redis.hgetall(keys.inbound(message_id)))
        if not raw:
            return None
        return Inbound(
            id=raw["id"],
            modem=raw["modem"],
            sender=raw["sender"],
            text=raw["text"],
            smsc_time=raw["smsc_time"],
            received_at=raw["received_at"],
            parts=int(raw["parts"]),
        )

    def pending(self) -> list[str]:
        """Messages to hand over: never handed over, or handed over and lost (see above)."""
        never = [str(i) for i in self._redis.lrange(keys.inbound_pending(), 0, -1)]
        lost = self._stale(
            keys=[keys.inbound_unanswered()],
            args=[REHAND_AFTER_MS, REHAND_MAX, keys.inbound_prefix()],
        )
        return never + [str(i) for i in cast(list[str], lost) if str(i) not in never]

    def handed_over(self, message_id: str) -> None:
        self._handed_over(
            keys=[keys.inbound_pending(), keys.inbound_unanswered()], args=[message_id]
        )

    def answered(self, message_id: str) -> None:
        """The job of this message is done (answered, or deliberately not)."""
        self._redis.zrem(keys.inbound_unanswered(), message_id)

    def seen_part(self, modem: str, digest: str) -> bool:
        """Whether a part with this digest was taken in from this modem or link (a carrier's
        SMSC that sends a deliver_sm again is answered without taking it twice)."""
        return bool(self._redis.exists(keys.inbound_part_seen(modem, digest)))
