-- wrk script: POST /encrypt with the 1 KiB payments body (6 PII fields).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Schema-Name"] = "payments"
local f = assert(io.open(os.getenv("NES_BENCH_BODY"), "rb"))
wrk.body = f:read("*a")
f:close()
