-- wrk script for bench/load.py: each request takes the next line of a targets file
-- ("<path>\t<cookie header or empty>[\t<Name: value>|<Name: value>...]"), so paths, signed-in
-- readers and what a browser sends with a click (Sec-Fetch-Site) rotate; each thread
-- stops after its share of the request cap (and says so); `done` prints one JSON line.
-- Usage: wrk ... -s bench/wrk_rotate.lua <url> -- <targets file> <requests per thread>

local targets = {}
local cap = 0
local sent = 0
local offset = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    local path, rest = line:match("^([^\t]*)\t?(.*)$")
    local cookie, extra = rest:match("^([^\t]*)\t?(.*)$")
    local headers = {}
    for pair in extra:gmatch("[^|]+") do
      local name, value = pair:match("^%s*([^:]+):%s*(.-)%s*$")
      if name then
        headers[name] = value
      end
    end
    if cookie ~= "" then
      headers["Cookie"] = cookie
    end
    table.insert(targets, { path = path, headers = headers })
  end
  cap = tonumber(args[2])
  -- Threads start at different places in the list, so they do not move in lock step.
  offset = (id * 7919) % #targets
end

function request()
  local target = targets[(sent + offset) % #targets + 1]
  sent = sent + 1
  return wrk.format("GET", target.path, target.headers)
end

local received = 0
function response(status, headers, body)
  received = received + 1
  if received == cap then
    -- wrk itself waits out its whole duration: the benchmark stops it (SIGINT) on this line,
    -- so the time measured ends with the last request.
    io.write("WRKCAP\n")
    io.flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, ' ..
    '"timeout": %d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max, e.connect, e.read, e.write,
    e.status, e.timeout))
end
