"""The store's Lua scripts: each change to a dossier is one atomic script run.

The transition table is not written in Lua: it is generated from `gateway.core.status.ALLOWED`,
so the core stays the one source of the rules; a property test checks that the script and
`gateway.core.events.apply` agree on every sequence of events.
"""

from __future__ import annotations

from gateway.core.status import ALLOWED


def _allowed_table() -> str:
    rows = []
    for status, targets in sorted(ALLOWED.items()):
        inner = ", ".join(f"[{int(t)}] = true" for t in sorted(targets))
        rows.append(f"[{int(status)}] = {{{inner}}}")
    return "{" + ", ".join(rows) + "}"


# KEYS: dossier, history, lookup, changes, phone sets...
# ARGV: code, fingerprint, folded code, short code, fields (JSON object), history entry (JSON),
#       changes stream length, status
# A short code is random: one already in the lookup table is refused here ('short-taken'), in the
# step that indexes the new one, and the store draws another.
REGISTER = """
local existing = redis.call('HMGET', KEYS[1], 'fingerprint', 'department', 'short_code', 'secret')
if existing[1] then
  return {'exists', existing[1], existing[2], existing[3], existing[4]}
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
for i = 5, #KEYS do
  redis.call('SADD', KEYS[i], ARGV[1])
end
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[7], '*',
  'kind', 'registered', 'code', ARGV[1], 'status', ARGV[8], 'previous', '', 'version', '1')
return {'created'}
"""

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

# KEYS: dossier, history, event ids, changes
# ARGV: department ('' = any), event id, fingerprint, status ('' = keep), at (µs), desk ('' = none),
#       history entry (JSON), at (ISO), changes stream length, source, code
APPLY = (
    "local ALLOWED = "
    + _allowed_table()
    + """
local d = redis.call('HMGET', KEYS[1], 'department', 'status', 'updated_us', 'version')
if not d[1] or (ARGV[1] ~= '' and d[1] ~= ARGV[1]) then return {'unknown'} end
local seen = redis.call('HGET', KEYS[3], ARGV[2])
if seen then return {'seen', seen} end
local cur = tonumber(d[2])
local new = cur
if ARGV[4] ~= '' then new = tonumber(ARGV[4]) end
local version = tonumber(d[4])
local entry = cjson.decode(ARGV[7])
if ARGV[4] == '' then entry['status'] = new end
local result
if tonumber(ARGV[5]) < tonumber(d[3]) then
  entry['current'] = false
  result = {fp = ARGV[3], status = cur, version = version, current = false}
else
  if cur ~= new and not ALLOWED[cur][new] then return {'invalid', d[2]} end
  version = version + 1
  local fields = {'status', tostring(new), 'updated_us', ARGV[5], 'updated_at', ARGV[8],
                  'version', version}
  if ARGV[6] ~= '' then
    fields[#fields + 1] = 'holder'
    fields[#fields + 1] = ARGV[6]
  end
  redis.call('HSET', KEYS[1], unpack(fields))
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[9], '*',
    'kind', 'status', 'code', ARGV[11], 'status', tostring(new), 'previous', d[2],
    'version', version, 'event_id', ARGV[2], 'source', ARGV[10])
  entry['current'] = true
  result = {fp = ARGV[3], status = new, version = version, current = true}
end
entry['version'] = version
redis.call('RPUSH', KEYS[2], cjson.encode(entry))
local encoded = cjson.encode(result)
redis.call('HSET', KEYS[3], ARGV[2], encoded)
return {'recorded', encoded}
"""
)
