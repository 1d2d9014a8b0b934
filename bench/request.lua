-- wrk script: POST the body in $BENCH_BODY with the headers in $BENCH_HEADERS
-- ("Name: value" lines), and print one JSON line of figures when done. With
-- $BENCH_DELAY_MS set, each connection waits that long before each request (a paced
-- load: about connections * 1000 / (delay + latency) requests a second). With
-- $BENCH_POISSON set too, each wait is drawn from an exponential distribution of that
-- mean (fixed seed), so that many connections' requests arrive as a Poisson stream does;
-- wrk counts waits in whole milliseconds, so each draw is rounded to the nearest.
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
for line in string.gmatch(os.getenv("BENCH_HEADERS") or "", "[^\n]+") do
  local name, value = string.match(line, "^([^:]+):%s*(.*)$")
  wrk.headers[name] = value
end

local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "")
if pause and os.getenv("BENCH_POISSON") then
  math.randomseed(20261129)
  delay = function() return math.floor(-pause * math.log(1 - math.random()) + 0.5) end
elseif pause then
  delay = function() return pause end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
