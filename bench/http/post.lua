-- wrk script: POST /encrypt with the 1 KiB payments body (6 PII fields). With
-- NES_BENCH_DELAY_MS set, each connection waits that long (on average: wrk's timer has 1 ms
-- steps, so the wait is randomly rounded up or down) before each request: a fixed offered rate.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Schema-Name"] = "payments"
local f = assert(io.open(os.getenv("NES_BENCH_BODY"), "rb"))
wrk.body = f:read("*a")
f:close()

local mean = tonumber(os.getenv("NES_BENCH_DELAY_MS") or "")
if mean then
  function delay()
    local lo = math.floor(mean)
    if math.random() < mean - lo then return lo + 1 end
    return lo
  end
end
