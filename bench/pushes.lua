-- wrk script for bench/pushes.py: each thread sends its own pre-signed requests, once each.
-- A signature is accepted only once, so requests are never repeated: a thread that runs out
-- stops (and the benchmark is sized so that none does).
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  local dir = args[1]
  requests = {}
  local f = assert(io.open(dir .. "/requests-" .. id .. ".txt", "rb"))
  local data = f:read("*a")
  f:close()
  for chunk in string.gmatch(data, "(.-)\n%%%%\n") do
    table.insert(requests, chunk)
  end
  index = 0
  exhausted = 0
end

function request()
  index = index + 1
  if index > #requests then
    exhausted = exhausted + 1
    return wrk.format("GET", "/healthz")
  end
  return requests[index]
end

function done(summary, latency, requests)
  local out = io.open(os.getenv("WRK_RESULT") or "/dev/stdout", "w")
  local exhausted_total = 0
  for _, t in ipairs(threads) do
    exhausted_total = exhausted_total + (t:get("exhausted") or 0)
  end
  out:write(string.format(
    '{"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "exhausted": %d}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    exhausted_total))
  out:close()
end
