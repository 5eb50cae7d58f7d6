"""The outbox's Lua scripts: each change to an outbound SMS is one atomic script run.

The states are not written in Lua: the table of the states each change applies in
(`gateway.core.sms_lifecycle.APPLIES_IN`), the graph of allowed moves and the state names are
generated from the pure core, so the core stays the one source of the rules; a property test
checks that the scripts and `gateway.core.sms_lifecycle.apply` agree on every sequence
(tests/integration/test_outbox_states.py). A script asked for a change that does not apply in the
SMS's state leaves the SMS as it is and says so.

Where an SMS is kept follows its state, and only these scripts move it: in one queue (or in the
delayed set until its retry is due) exactly while queued, in the in-flight set of the modem or
link that claimed it while claimed or submitting, in neither once submitted, delivered or failed.

Every change of state is also appended to the SMS's attempt log, in the same run (`log`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gateway.core.messages import SmsState
from gateway.core.sms_lifecycle import ALLOWED, APPLIES_IN, FINAL_STATES, INITIAL, SmsChange

PRIORITY_BAND = 10**13  # score = priority * band + milliseconds: priority first, then age
ATTEMPTS_TTL = 30 * 86400  # as long as a dedupe key: the log outlives any retry of its SMS
SCAN = 20  # how far down the shared queue a modem looks for its own carrier's numbers
S = SmsState


def _set(states: Iterable[SmsState]) -> str:
    return "{" + ", ".join(f"[{s.value!r}] = true" for s in sorted(states)) + "}"


def _tables() -> str:
    applies = ", ".join(f"[{c.value!r}] = {_set(APPLIES_IN[c])}" for c in SmsChange)
    allowed = ", ".join(f"[{s.value!r}] = {_set(ALLOWED[s])}" for s in SmsState)
    return (
        f"local APPLIES = {{{applies}}}\n"
        f"local ALLOWED = {{{allowed}}}\n"
        f"local FINAL = {_set(FINAL_STATES)}\n"
    )


def _script(body: str) -> str:
    """A script with the core's tables, the state names and the attempt log's `log` in scope."""
    names = {f"__{s.name}__": repr(s.value) for s in SmsState}
    names |= {
        "__INITIAL__": repr(INITIAL.value),
        "__ATTEMPTS_TTL__": str(ATTEMPTS_TTL),
        "__SCAN__": str(SCAN),
        "__BAND__": str(PRIORITY_BAND),
    }
    text = _tables() + _LOG + body
    for name, value in names.items():
        text = text.replace(name, value)
    left = re.findall(r"__[A-Z_]+__", text)
    assert not left, f"names left unreplaced: {left}"
    return text


# Appends one entry to an SMS's attempt log (see `Outbox.attempts`). ARGV of every script end
# with: attempts key prefix, service instance (`by`).
_LOG = """
local function log(id, entry)
  entry.by = ARGV[#ARGV]
  local name = ARGV[#ARGV - 1] .. id
  redis.call('RPUSH', name, cjson.encode(entry))
  redis.call('EXPIRE', name, __ATTEMPTS_TTL__)
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""

# KEYS: dedupe key ('' if none), id counter, queue, wake list, by-phone index, by-dossier index
#       ('' if none)
# ARGV: sms key prefix, to, text, priority, via, carrier, kind, dossier, score, now (ms),
#       dedupe ttl, office, pool (the queue standing for "another modem", '' the shared one),
#       attempts key prefix, instance
ENQUEUE = _script("""
if KEYS[1] ~= '' then
  local existing = redis.call('GET', KEYS[1])
  if existing then return existing end
end
local id = tostring(redis.call('INCR', KEYS[2]))
if KEYS[1] ~= '' then redis.call('SET', KEYS[1], id, 'EX', ARGV[11]) end
redis.call('HSET', ARGV[1] .. id, 'id', id, 'to', ARGV[2], 'text', ARGV[3], 'priority', ARGV[4],
  'state', __INITIAL__, 'via', ARGV[5], 'carrier', ARGV[6], 'kind', ARGV[7],
  'dossier', ARGV[8], 'attempts', 0, 'queue', KEYS[3], 'score', ARGV[9],
  'created_ms', ARGV[10], 'updated_ms', ARGV[10], 'office', ARGV[12], 'pool', ARGV[13])
redis.call('ZADD', KEYS[3], ARGV[9], id)
redis.call('ZADD', KEYS[5], ARGV[10], id)
if KEYS[6] ~= '' then redis.call('ZADD', KEYS[6], ARGV[10], id) end
redis.call('RPUSH', KEYS[4], '1')
redis.call('LTRIM', KEYS[4], -10, -1)
log(id, {at = tonumber(ARGV[10]), event = 'queued', via = ARGV[5], kind = ARGV[7]})
return id
""")

# KEYS: pinned queue of a modem, the queue of an SMS that names no pool of its own (the
#       modem's pool); ARGV: modem, sms key prefix, pinned queue key prefix, attempts key prefix,
#       instance. Moves up to 50 SMS, atomically (a crash in between must not drop any), each to
#       its own pool's queue (its office's modems, or the shared queue); one that is not queued
#       (stored so by an older release) leaves the queue: it cannot be sent.
RELEASE = _script("""
local head = redis.call('ZRANGE', KEYS[1], 0, 49, 'WITHSCORES')
local now = now_ms()
for i = 1, #head, 2 do
  local id = head[i]
  redis.call('ZREM', KEYS[1], id)
  local m = redis.call('HMGET', ARGV[2] .. id, 'state', 'pool')
  if APPLIES['released'][m[1] or ''] then
    local target = (m[2] and m[2] ~= '') and (ARGV[3] .. m[2]) or KEYS[2]
    redis.call('ZADD', target, head[i + 1], id)
    redis.call('HSET', ARGV[2] .. id, 'queue', target)
    log(id, {at = now, event = 'released', modem = ARGV[1]})
  end
end
return #head / 2
""")

# Due retries go back to their queues (one that is no longer queued leaves the delayed set).
# Expects `prefix`, the sms key prefix.
_DUE = """
local function requeue_due(delayed, now)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, 100)) do
    local m = redis.call('HMGET', prefix .. id, 'queue', 'score', 'state')
    if m[1] and APPLIES['claimed'][m[3] or ''] then redis.call('ZADD', m[1], m[2], id) end
    redis.call('ZREM', delayed, id)
  end
end
"""

# KEYS: pinned queue of this modem, its pool's queue (the shared one, or its office's), delayed
#       set, inflight set of this modem, the carriers of its pool's modems (hash)
# ARGV: modem id, its carrier ('' if unknown), now (ms), sms key prefix, how long a reply may
#       wait for its own modem (ms, '' : for ever), pinned queue key prefix, attempts key prefix,
#       instance
CLAIM = _script(
    "local prefix = ARGV[4]\n"
    + _DUE
    + """
local now = tonumber(ARGV[3])
requeue_due(KEYS[3], now)
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
-- Only a queued SMS is claimed; anything else in a queue (stored so by an older version)
-- cannot be sent from it and just leaves it.
if not APPLIES['claimed'][redis.call('HGET', prefix .. best, 'state') or ''] then return nil end
local fields = {'state', __CLAIMED__, 'modem', ARGV[1], 'updated_ms', now}
if best_queue ~= KEYS[2] and ARGV[5] ~= '' then
  table.insert(fields, 'reply_wait_ms'); table.insert(fields, ARGV[5])
end
if spilled then table.insert(fields, 'spilled_from'); table.insert(fields, spilled) end
redis.call('HSET', prefix .. best, unpack(fields))
redis.call('SADD', KEYS[4], best)
log(best, {at = now, event = 'claimed', modem = ARGV[1], from = spilled})
return redis.call('HGETALL', prefix .. best)
"""
)

# A carrier link's claim: its own queue only (never the modems' shared one), up to ARGV[3] SMS
# at once (its window). Due retries go back to their queues first, as in CLAIM.
# KEYS: the link's queue, delayed set, the link's inflight set
# ARGV: link id, now (ms), most SMS, sms key prefix, attempts key prefix, instance
CLAIM_ROUTE = _script(
    "local prefix = ARGV[4]\n"
    + _DUE
    + """
local now = tonumber(ARGV[2])
requeue_due(KEYS[2], now)
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[3]) - 1)) do
  redis.call('ZREM', KEYS[1], id)
  if APPLIES['claimed'][redis.call('HGET', prefix .. id, 'state') or ''] then
    redis.call('HSET', prefix .. id, 'state', __CLAIMED__, 'modem', ARGV[1], 'updated_ms', now)
    redis.call('SADD', KEYS[3], id)
    log(id, {at = now, event = 'claimed', modem = ARGV[1]})
    out[#out + 1] = redis.call('HGETALL', prefix .. id)
  end
end
return out
"""
)

# A queued SMS moves to another route's queue (its route is down: `gateway/routing.py`); one
# waiting for a retry keeps its time and goes to the new queue when due. Nothing else moves.
# KEYS: the new queue, the new route's wake list
# ARGV: sms id, new via, sms key prefix, attempts key prefix, instance
REROUTE = _script("""
local key = ARGV[3] .. ARGV[1]
local m = redis.call('HMGET', key, 'state', 'queue', 'score', 'via')
if not APPLIES['rerouted'][m[1] or ''] or m[2] == KEYS[1] then return 0 end
local now = now_ms()
if m[2] and redis.call('ZREM', m[2], ARGV[1]) == 1 then
  redis.call('ZADD', KEYS[1], m[3], ARGV[1])
end
redis.call('HSET', key, 'queue', KEYS[1], 'via', ARGV[2], 'updated_ms', now)
redis.call('RPUSH', KEYS[2], '1')
redis.call('LTRIM', KEYS[2], -10, -1)
log(ARGV[1], {at = now, event = 'rerouted', from = m[4] or '', to = ARGV[2]})
return 1
""")

# Saved before a part is handed over; 0 (nothing saved: the part must not go out) when the SMS is
# no longer claimed or submitting (a report failed it meanwhile).
# KEYS: sms; ARGV: sms id, part, expected TP-MR ('' if unknown), resend (1/0), now (ms), modem,
#       attempts key prefix, instance
SUBMITTING = _script("""
if not APPLIES['submitting'][redis.call('HGET', KEYS[1], 'state') or ''] then return 0 end
local fields = {'state', __SUBMITTING__, 'next_part', ARGV[2], 'expected_ref', ARGV[3],
                'updated_ms', ARGV[5]}
if ARGV[4] == '1' then table.insert(fields, 'resent'); table.insert(fields, '1') end
redis.call('HSET', KEYS[1], unpack(fields))
log(ARGV[1], {at = tonumber(ARGV[5]), event = 'submitting', modem = ARGV[6],
              part = tonumber(ARGV[2]), resend = ARGV[4] == '1'})
return 1
""")

# The network took a part: its reference recorded (always: its report must find the part) and
# indexed; the SMS submitted once its last part is in (when it was submitting: it then leaves the
# in-flight set). Returns 1 when nothing more is to be sent of it (its last part, or it is no
# longer submitting).
# KEYS: sms, inflight set of its modem or link, the reference's index key ('' none), the modem's
#       last reference key ('' none)
# ARGV: sms id, part, its reference as recorded (JSON: a number, a text, or null for none) and as
#       logged (JSON), index ttl (s), now (ms), modem, how, attempts key prefix, instance
SUBMITTED = _script("""
local m = redis.call('HMGET', KEYS[1], 'state', 'refs', 'parts')
local part = tonumber(ARGV[2])
local refs = cjson.decode(m[2] or '[]')
for i = #refs + 1, part + 1 do refs[i] = cjson.null end
refs[part + 1] = cjson.decode(ARGV[3])
local last = part + 1 >= math.max(tonumber(m[3] or '0') or 0, 1)
local fields = {'refs', cjson.encode(refs), 'next_part', part + 1, 'updated_ms', ARGV[6]}
if last and APPLIES['submitted'][m[1] or ''] then
  table.insert(fields, 'state'); table.insert(fields, __SUBMITTED__)
  table.insert(fields, 'submitted_ms'); table.insert(fields, ARGV[6])
  redis.call('SREM', KEYS[2], ARGV[1])
end
redis.call('HSET', KEYS[1], unpack(fields))
if KEYS[3] ~= '' then
  redis.call('SET', KEYS[3], ARGV[1] .. ':' .. part, 'EX', ARGV[5])
end
if KEYS[4] ~= '' then redis.call('SET', KEYS[4], ARGV[3]) end
log(ARGV[1], {at = tonumber(ARGV[6]), event = 'submitted', modem = ARGV[7], part = part,
              ref = cjson.decode(ARGV[4]), how = ARGV[8]})
if last or m[1] ~= __SUBMITTING__ then return 1 end
return 0
""")

# A part was refused: the next try (queued again, delayed) or the end (failed), as the core's
# `after_refusal` decided; returns the SMS's state after it (unchanged where a refusal does not
# apply).
# KEYS: sms, inflight set, delayed set
# ARGV: sms id, attempts, error, now (ms), retry (1/0), avoid, queue of the retry, retry due (ms),
#       modem, attempts key prefix, instance
REFUSED = _script("""
local state = redis.call('HGET', KEYS[1], 'state') or ''
if not APPLIES['refused'][state] then return state end
redis.call('SREM', KEYS[2], ARGV[1])
local entry = {at = tonumber(ARGV[4]), event = 'refused', modem = ARGV[9], error = ARGV[3]}
if ARGV[5] == '1' then
  redis.call('HSET', KEYS[1], 'state', __QUEUED__, 'attempts', ARGV[2], 'error', ARGV[3],
    'avoid', ARGV[6], 'queue', ARGV[7], 'updated_ms', ARGV[4])
  redis.call('ZADD', KEYS[3], ARGV[8], ARGV[1])
  entry['then'] = 'retry'
  log(ARGV[1], entry)
  return __QUEUED__
end
redis.call('HSET', KEYS[1], 'state', __FAILED__, 'attempts', ARGV[2], 'error', ARGV[3],
  'updated_ms', ARGV[4])
entry['then'] = 'failed'
log(ARGV[1], entry)
return __FAILED__
""")

# The sender stops: failed with `error`. KEYS: sms, inflight set; ARGV: sms id, error, now (ms),
# modem, attempts key prefix, instance. Returns 1, or 0 where giving up does not apply.
GAVE_UP = _script("""
if not APPLIES['gave_up'][redis.call('HGET', KEYS[1], 'state') or ''] then return 0 end
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], 'state', __FAILED__, 'error', ARGV[2], 'updated_ms', ARGV[3])
log(ARGV[1], {at = tonumber(ARGV[3]), event = 'gave_up', modem = ARGV[4], error = ARGV[2]})
return 1
""")

# A dead owner's claim goes back to its queue. KEYS: sms, inflight set, shared queue; ARGV: sms
# id, now (ms), modem, attempts key prefix, instance. Returns 1, or 0 where it does not apply.
REQUEUE = _script("""
local m = redis.call('HMGET', KEYS[1], 'state', 'queue', 'score')
if not APPLIES['requeued'][m[1] or ''] then return 0 end
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], 'state', __QUEUED__, 'updated_ms', ARGV[2])
redis.call('ZADD', (m[2] and m[2] ~= '') and m[2] or KEYS[3], m[3], ARGV[1])
log(ARGV[1], {at = tonumber(ARGV[2]), event = 'requeued', modem = ARGV[3], was = m[1]})
return 1
""")

# A status report or a carrier's receipt for one part (found by its index key): a final one is
# recorded; one failed part fails the SMS (which then leaves its queue, the delayed set and its
# sender's in-flight set: nothing more of it is sent), every part delivered delivers a submitted
# one. Returns {sms id, its state}, or nil for an unknown reference.
# KEYS: index key of the reference, delayed set
# ARGV: delivered (1/0), final (1/0), now (ms), sms key prefix, the error to record when the
#       report says the part failed, inflight key prefix
DELIVERY = _script("""
local ref = redis.call('GET', KEYS[1])
if not ref then return nil end
local sep = string.find(ref, ':', 1, true)
local id, part = string.sub(ref, 1, sep - 1), tonumber(string.sub(ref, sep + 1))
local key = ARGV[4] .. id
local m = redis.call('HMGET', key, 'state', 'reports', 'parts', 'queue', 'modem')
local state = m[1]
if not state then return nil end
if not APPLIES['reported'][state] then return {id, state} end
local reports = cjson.decode(m[2] or '[]')
local parts = tonumber(m[3] or '1')
if ARGV[2] == '1' then
  reports[part + 1] = (ARGV[1] == '1') and __DELIVERED__ or __FAILED__
end
local delivered = 0
local failed = false
for i = 1, parts do
  if reports[i] == __DELIVERED__ then delivered = delivered + 1 end
  if reports[i] == __FAILED__ then failed = true end
end
for i = 1, parts do if reports[i] == nil then reports[i] = cjson.null end end
local fields = {'reports', cjson.encode(reports), 'updated_ms', ARGV[3]}
if failed and ALLOWED[state][__FAILED__] then
  table.insert(fields, 'state'); table.insert(fields, __FAILED__)
  table.insert(fields, 'error'); table.insert(fields, ARGV[5])
  state = __FAILED__
  if m[4] then redis.call('ZREM', m[4], id) end
  redis.call('ZREM', KEYS[2], id)
  if m[5] then redis.call('SREM', ARGV[6] .. m[5], id) end
elseif delivered == parts and ALLOWED[state][__DELIVERED__] then
  table.insert(fields, 'state'); table.insert(fields, __DELIVERED__)
  state = __DELIVERED__
end
redis.call('HSET', key, unpack(fields))
return {id, state}
""")
