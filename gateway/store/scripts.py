"""The store's Lua scripts: each change to a dossier is one atomic script run.

The transition table is not written in Lua: it is generated from `gateway.core.status.ALLOWED`,
so the core stays the one source of the rules; a property test checks that the script and
`gateway.core.events.apply` agree on every sequence of events.

The index of open dossiers by appointment (`keys.open_by_due()`, read by the overdue list and the
charts) is kept by the same scripts that change a dossier, in the same run: a dossier is in it,
scored by its appointment in force (ms), exactly while its status is not settled
(`gateway.core.status.SETTLED`, generated here too). Nothing else removes a dossier from it.
"""

from __future__ import annotations

from gateway.core.offices import DEFAULT_OFFICE
from gateway.core.status import ALLOWED, SETTLED


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


# KEYS: dossier, history, lookup, changes, open index, phone sets...
# ARGV: code, fingerprint, folded code, short code, fields (JSON object), history entry (JSON),
#       changes stream length, status
# A short code is random: one already in the lookup table is refused here ('short-taken'), in the
# step that indexes the new one, and the store draws another.
REGISTER = (
    "local SETTLED = "
    + _settled_table()
    + _OPEN_INDEX
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
# ARGV: department ('' = any), event id, fingerprint, status ('' = keep), at (µs), desk ('' = none),
#       history entry (JSON), at (ISO), changes stream length, source, code,
#       new appointment (ms, '' = none), new appointment (ISO), office ('' = any)
# A dossier of another department or office is unknown.
# A current event (not older than the state) must be an allowed transition, else nothing is
# recorded; a new appointment takes effect unless one set by a later event is in force. The
# answer, also kept for a repeated event id: fingerprint, status, version, current, the
# appointment in force after the event and whether the event set it.
APPLY = (
    "local ALLOWED = "
    + _allowed_table()
    + "\nlocal SETTLED = "
    + _settled_table()
    + _OPEN_INDEX
    + """
local d = redis.call('HMGET', KEYS[1], 'department', 'status', 'updated_us', 'version',
                     'due_set_us', 'due_ms', 'due_at', 'office')
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
if ARGV[4] == '' then entry['status'] = new end
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
  entry['previous_due_at'] = d[7]
  due_ms, due_at = ARGV[12], ARGV[13]
end
if ARGV[12] ~= '' then entry['rescheduled'] = rescheduled end
if #fields > 0 then redis.call('HSET', KEYS[1], unpack(fields)) end
if current or rescheduled then
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[9], '*',
    'kind', current and 'status' or 'appointment', 'code', ARGV[11], 'status', tostring(status),
    'previous', d[2], 'version', version, 'event_id', ARGV[2], 'source', ARGV[10])
end
index_open(KEYS[5], ARGV[11], status, due_ms)
entry['current'] = current
entry['version'] = version
redis.call('RPUSH', KEYS[2], cjson.encode(entry))
local encoded = cjson.encode({fp = ARGV[3], status = status, version = version,
                              current = current, due_at = due_at, rescheduled = rescheduled})
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
