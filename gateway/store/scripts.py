"""The store's Lua scripts: each change to a dossier is one atomic script run.

The transition table is not written in Lua: it is generated from `gateway.core.status.ALLOWED`,
so the core stays the one source of the rules; a property test checks that the script and
`gateway.core.events.apply` agree on every sequence of events.

The index of open dossiers by appointment (`keys.open_by_due()`, read by the overdue list and the
charts) is kept by the same scripts that change a dossier, in the same run: a dossier is in it,
scored by its appointment in force (ms), exactly while its status is not settled
(`gateway.core.status.SETTLED`, generated here too). Nothing else removes a dossier from it.

The service index's figures (`gateway.core.service_index`, read by `store/province.py`) are kept
by the same scripts too: a change takes away the share of the dossier's state before it and adds
the share of its state after it (`tally`), so the figures are always the sum of the counted
dossiers' shares; the bucket bounds and the finished statuses are generated from the core.
"""

from __future__ import annotations

from gateway.core.offices import DEFAULT_OFFICE
from gateway.core.service_index import BUCKET_HOURS, FINISHED
from gateway.core.status import ALLOWED, SETTLED
from gateway.store.history_entries import SHORT


def _history_keys() -> str:
    """The letters a stored history entry's keys are written as (`history_entries.SHORT`)."""
    return "{" + ", ".join(f"{name} = '{short}'" for name, short in SHORT.items()) + "}"


def _allowed_table() -> str:
    rows = []
    for status, targets in sorted(ALLOWED.items()):
        inner = ", ".join(f"[{int(t)}] = true" for t in sorted(targets))
        rows.append(f"[{int(status)}] = {{{inner}}}")
    return "{" + ", ".join(rows) + "}"


def _settled_table() -> str:
    return "{" + ", ".join(f"[{int(s)}] = true" for s in sorted(SETTLED)) + "}"


# The index of open dossiers by appointment: in it while not settled, scored by the appointment.
# Expects SETTLED; `key` the index, `code`, `status` (number), `due_ms` (false: leave it be).
_OPEN_INDEX = """
local function index_open(key, code, status, due_ms)
  if SETTLED[status] then
    redis.call('ZREM', key, code)
  elseif due_ms then
    redis.call('ZADD', key, due_ms, code)
  end
end
"""


def _finished_table() -> str:
    return "{" + ", ".join(f"[{int(s)}] = true" for s in sorted(FINISHED)) + "}"


def _bucket_bounds() -> str:
    return "{" + ", ".join(str(hours * 3600) for hours in BUCKET_HOURS) + "}"


# The figures of the service index (`gateway.core.service_index`: the rules, the buckets), kept
# by the same scripts in the same run. `tally(P, s, sign)` takes away (-1) or adds (+1) the share
# of a dossier in state `s` (code, office, procedure, desk, status, due_ms, received_ms,
# settled_ms, and procedure_name when known) under the key prefix `P` (`keys.province_prefix()`,
# the names built as `keys.province_*` build them): a finished one counts in the figures of its
# office, its procedure and its desk (hashes: f finished, t on time, s seconds, h1..hN the
# buckets), an open one is in the open indexes of the three by appointment (sorted sets, ms).
# A dossier without `received_ms` was stored before the figures: it counts nowhere until
# `hoso province rebuild` counts it (`COUNT_DOSSIER`).
_TALLY = (
    "local FINISHED = "
    + _finished_table()
    + "\nlocal BOUNDS = "
    + _bucket_bounds()
    + """
local function bucket_of(seconds)
  for i, bound in ipairs(BOUNDS) do
    if seconds < bound then return i end
  end
  return #BOUNDS + 1
end
local function tally(P, s, sign)
  if not s.received_ms or not s.due_ms then return end
  local o, desk = s.office, s.desk or ''
  local names = {'o:' .. o, 'p:' .. o .. ':' .. s.procedure, 'd:' .. o .. ':' .. desk}
  if FINISHED[s.status] and s.settled_ms then
    local seconds = math.floor((s.settled_ms - s.received_ms) / 1000)
    if seconds < 0 then seconds = 0 end
    local bucket = 'h' .. bucket_of(seconds)
    for _, name in ipairs(names) do
      local k = P .. 'fig:' .. name
      redis.call('HINCRBY', k, 'f', sign)
      if s.settled_ms <= s.due_ms then redis.call('HINCRBY', k, 't', sign) end
      -- never -0 (sign * 0): Redis 7.0 refuses it as an integer
      if seconds > 0 then redis.call('HINCRBY', k, 's', sign * seconds) end
      redis.call('HINCRBY', k, bucket, sign)
    end
  elseif not FINISHED[s.status] then
    for _, name in ipairs(names) do
      if sign > 0 then
        redis.call('ZADD', P .. 'open:' .. name, s.due_ms, s.code)
      else
        redis.call('ZREM', P .. 'open:' .. name, s.code)
      end
    end
  end
  if sign > 0 then
    redis.call('SADD', P .. 'offices', o)
    redis.call('SADD', P .. 'desks:' .. o, desk)
    if s.procedure_name then
      redis.call('HSET', P .. 'procedures:' .. o, s.procedure, s.procedure_name)
    end
  end
end
-- Whether two states of a dossier have the same share: its status matters only as finished or
-- not (4 -> 5, 9 -> 10 move nothing).
local function same_share(a, b)
  return (FINISHED[a.status] or false) == (FINISHED[b.status] or false) and a.desk == b.desk
    and a.due_ms == b.due_ms and a.settled_ms == b.settled_ms
end
"""
)


# KEYS: dossier, history, lookup, changes, open index, phone sets...
# ARGV: code, fingerprint, folded code, short code, fields (JSON object), history entry (JSON),
#       changes stream length, status, figures' key prefix
# A short code is random: one already in the lookup table is refused here ('short-taken'), in the
# step that indexes the new one, and the store draws another.
REGISTER = (
    "local SETTLED = "
    + _settled_table()
    + _OPEN_INDEX
    + _TALLY
    + """
local existing = redis.call('HMGET', KEYS[1], 'fingerprint', 'department', 'office')
if existing[1] then
  return {'exists', existing[1], existing[2], existing[3] or ''}
end
local taken = redis.call('HGET', KEYS[3], ARGV[3])
if taken then return {'folded-taken', taken} end
if redis.call('HEXISTS', KEYS[3], ARGV[4]) == 1 then return {'short-taken'} end
local fields = cjson.decode(ARGV[5])
local flat = {}
for k, v in pairs(fields) do
  flat[#flat + 1] = k
  flat[#flat + 1] = v
end
redis.call('HSET', KEYS[1], unpack(flat))
redis.call('HSET', KEYS[3], ARGV[3], ARGV[1], ARGV[4], ARGV[1])
redis.call('RPUSH', KEYS[2], ARGV[6])
for i = 6, #KEYS do
  redis.call('SADD', KEYS[i], ARGV[1])
end
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[7], '*',
  'kind', 'registered', 'code', ARGV[1], 'status', ARGV[8], 'previous', '', 'version', '1')
index_open(KEYS[5], ARGV[1], tonumber(ARGV[8]), fields['due_ms'])
tally(ARGV[9], {code = ARGV[1], office = fields['office'], procedure = fields['procedure_code'],
  procedure_name = fields['procedure_name'], desk = fields['holder'], status = tonumber(ARGV[8]),
  due_ms = tonumber(fields['due_ms']), received_ms = tonumber(fields['received_ms']),
  settled_ms = tonumber(fields['settled_ms'])}, 1)
return {'created'}
"""
)

# The secret of the dossier a folded code names, with the same work and an answer of the same
# length whether or not it exists (the lookup page must not answer an existing code later than an
# unknown one): one HGET on the lookup table, one HGET of 'secret' on the dossier's hash or, for
# an unknown code, on the bare prefix (no code is empty, so no such hash exists), and the secret
# or the caller's decoy of the same length.
# KEYS: lookup; ARGV: folded code, dossier key prefix, decoy
SECRET_OF = """
local code = redis.call('HGET', KEYS[1], ARGV[1])
local secret = redis.call('HGET', ARGV[2] .. (code or ''), 'secret')
return secret or ARGV[3]
"""

# KEYS: dossier, history, event ids, changes, open index
# ARGV: department ('' = any), event id, fingerprint (its first characters, see
#       `dossiers.ANSWER_FP_CHARS`), status ('' = keep), at (µs), desk ('' = none), history
#       entry (compact JSON, see `history_entries`), at (ISO), changes stream length, source,
#       code, new appointment (ms, '' = none), new appointment (ISO), office ('' = any),
#       figures' key prefix
# A dossier of another department or office is unknown.
# A current event (not older than the state) must be an allowed transition, else nothing is
# recorded; a new appointment takes effect unless one set by a later event is in force. The
# answer, also kept for a repeated event id: fingerprint, status, version, current, whether the
# event set the appointment and the appointment in force after it — positional, in one short
# string (`dossiers.read_answer` reads it and the JSON object written before) so that an event id
# and its answer stay under `hash-max-listpack-value` and the event ids stay a listpack.
APPLY = (
    "local H = "
    + _history_keys()
    + "\nlocal ALLOWED = "
    + _allowed_table()
    + "\nlocal SETTLED = "
    + _settled_table()
    + _OPEN_INDEX
    + _TALLY
    + """
local d = redis.call('HMGET', KEYS[1], 'department', 'status', 'updated_us', 'version',
                     'due_set_us', 'due_ms', 'due_at', 'office', 'procedure_code', 'holder',
                     'received_ms', 'settled_ms')
if not d[1] or (ARGV[1] ~= '' and d[1] ~= ARGV[1]) then return {'unknown'} end
if ARGV[14] ~= '' and (d[8] or '"""
    + DEFAULT_OFFICE
    + """') ~= ARGV[14] then return {'unknown'} end
local seen = redis.call('HGET', KEYS[3], ARGV[2])
if seen then return {'seen', seen} end
local cur = tonumber(d[2])
local new = cur
if ARGV[4] ~= '' then new = tonumber(ARGV[4]) end
local at = tonumber(ARGV[5])
local current = at >= tonumber(d[3])
if current and cur ~= new and not ALLOWED[cur][new] then return {'invalid', d[2]} end
local rescheduled = ARGV[12] ~= '' and (not d[5] or at >= tonumber(d[5]))
local version = tonumber(d[4])
local entry = cjson.decode(ARGV[7])
if ARGV[4] == '' then entry[H.status] = new end
local fields = {}
local status = cur
if current then
  version = version + 1
  status = new
  fields = {'status', tostring(new), 'updated_us', ARGV[5], 'updated_at', ARGV[8],
            'version', version}
  if ARGV[6] ~= '' then
    fields[#fields + 1] = 'holder'
    fields[#fields + 1] = ARGV[6]
  end
end
local due_ms, due_at = d[6], d[7]
if rescheduled then
  for _, v in ipairs({'due_at', ARGV[13], 'due_ms', ARGV[12], 'due_set_us', ARGV[5]}) do
    fields[#fields + 1] = v
  end
  entry[H.previous_due_at] = d[7]
  due_ms, due_at = ARGV[12], ARGV[13]
end
if ARGV[12] ~= '' then entry[H.rescheduled] = rescheduled end
local before = {code = ARGV[11], office = d[8] or '"""
    + DEFAULT_OFFICE
    + """', procedure = d[9], desk = d[10] or '',
  status = cur, due_ms = tonumber(d[6]), received_ms = tonumber(d[11]),
  settled_ms = tonumber(d[12])}
local after = {code = before.code, office = before.office, procedure = before.procedure,
  desk = before.desk, status = status, due_ms = tonumber(due_ms),
  received_ms = before.received_ms, settled_ms = before.settled_ms}
if current then
  if ARGV[6] ~= '' then after.desk = ARGV[6] end
  if not FINISHED[status] then
    after.settled_ms = nil
  elseif not FINISHED[cur] then
    after.settled_ms = math.floor(at / 1000)
  end
end
if before.received_ms and not same_share(before, after) then
  tally(ARGV[15], before, -1)
  tally(ARGV[15], after, 1)
  if after.settled_ms == nil then
    redis.call('HDEL', KEYS[1], 'settled_ms')
  elseif after.settled_ms ~= before.settled_ms then
    fields[#fields + 1] = 'settled_ms'
    fields[#fields + 1] = string.format('%.0f', after.settled_ms)
  end
end
if #fields > 0 then redis.call('HSET', KEYS[1], unpack(fields)) end
if current or rescheduled then
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[9], '*',
    'kind', current and 'status' or 'appointment', 'code', ARGV[11], 'status', tostring(status),
    'previous', d[2], 'version', version, 'event_id', ARGV[2], 'source', ARGV[10])
end
index_open(KEYS[5], ARGV[11], status, due_ms)
entry[H.current] = current
entry[H.version] = version
redis.call('RPUSH', KEYS[2], cjson.encode(entry))
local encoded = table.concat({ARGV[3], status, version, current and '1' or '0',
                              rescheduled and '1' or '0', due_at or ''}, '|')
redis.call('HSET', KEYS[3], ARGV[2], encoded)
return {'recorded', encoded}
"""
)

# The upgrade step (`hoso notifications reindex`): one dossier stored before the scripts kept
# the index gets its numeric appointment fields and its place in the index.
# KEYS: dossier, open index; ARGV: code, due_at as read (ISO), its ms, received_at (µs)
# Returns 1, 0 for a dossier that is gone, -1 for one whose appointment changed meanwhile (the
# change indexed it).
INDEX_DOSSIER = (
    "local SETTLED = "
    + _settled_table()
    + _OPEN_INDEX
    + """
local d = redis.call('HMGET', KEYS[1], 'status', 'due_at', 'due_ms', 'due_set_us')
if not d[1] then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
if d[2] ~= ARGV[2] then return -1 end
if not d[3] then redis.call('HSET', KEYS[1], 'due_ms', ARGV[3]) end
if not d[4] then redis.call('HSET', KEYS[1], 'due_set_us', ARGV[4]) end
index_open(KEYS[2], ARGV[1], tonumber(d[1]), ARGV[3])
return 1
"""
)

# The rebuild (`hoso province rebuild`): one dossier stored before the figures gets its
# `received_ms` and `settled_ms` (computed from its history by `service_index.settled_at_ms`) and
# its share of the figures, unless it has them already.
# KEYS: dossier, history; ARGV: figures' key prefix, code, the history's length as read,
#       received_ms, settled_ms ('' = open)
# Returns 1 counted, 2 counted before, 0 gone, -1 changed since its history was read (read it
# again), -2 no numeric appointment yet (`hoso notifications reindex` first).
COUNT_DOSSIER = (
    _TALLY
    + """
local d = redis.call('HMGET', KEYS[1], 'status', 'due_ms', 'office', 'procedure_code',
                     'procedure_name', 'holder', 'received_ms')
if not d[1] then return 0 end
if d[7] then return 2 end
if not d[2] then return -2 end
if redis.call('LLEN', KEYS[2]) ~= tonumber(ARGV[3]) then return -1 end
redis.call('HSET', KEYS[1], 'received_ms', ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'settled_ms', ARGV[5]) end
tally(ARGV[1], {code = ARGV[2], office = d[3] or '"""
    + DEFAULT_OFFICE
    + """', procedure = d[4],
  procedure_name = d[5], desk = d[6] or '', status = tonumber(d[1]), due_ms = tonumber(d[2]),
  received_ms = tonumber(ARGV[4]), settled_ms = tonumber(ARGV[5])}, 1)
return 1
"""
)

# The figures of many offices, procedures or desks in one step (the province page reads
# thousands): for each (kind, office, name) of ARGV after the prefix and now (ms), its hash's
# fields in `FIGURE_FIELDS` order (0 for none), its open dossiers and those due before now —
# the names built as `tally` builds them.
# ARGV: figures' key prefix, now (ms), then kind, office, name for each.
FIGURE_FIELDS: tuple[str, ...] = (
    "f",
    "t",
    "s",
    *(f"h{i}" for i in range(1, len(BUCKET_HOURS) + 2)),
)
FIGURES_OF = (
    "local FIELDS = {"
    + ", ".join(f"'{f}'" for f in FIGURE_FIELDS)
    + """}
local P, before = ARGV[1], '(' .. ARGV[2]
local out = {}
for i = 3, #ARGV, 3 do
  local name = ARGV[i] .. ':' .. ARGV[i + 1]
  if ARGV[i] ~= 'o' then name = name .. ':' .. ARGV[i + 2] end
  for _, v in ipairs(redis.call('HMGET', P .. 'fig:' .. name, unpack(FIELDS))) do
    out[#out + 1] = tonumber(v) or 0
  end
  out[#out + 1] = redis.call('ZCARD', P .. 'open:' .. name)
  out[#out + 1] = redis.call('ZCOUNT', P .. 'open:' .. name, '-inf', before)
end
return out
"""
)
