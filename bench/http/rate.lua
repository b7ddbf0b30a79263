-- wrk script for a plain GET at a fixed offered rate (see post.lua for NES_BENCH_DELAY_MS).
local mean = tonumber(os.getenv("NES_BENCH_DELAY_MS") or "")
if mean then
  function delay()
    local lo = math.floor(mean)
    if math.random() < mean - lo then return lo + 1 end
    return lo
  end
end
