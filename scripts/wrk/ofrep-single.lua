-- wrk script: OFREP single-flag evaluation, POST /ofrep/v1/evaluate/flags/{key},
-- under a file that flips between an all-on and an all-off version.
--
-- Usage (scripts/bench-load sets all of this up):
--   BENCH_KEYS=keys.txt BENCH_VERSION_ON=<hash> BENCH_VERSION_OFF=<hash> \
--     wrk -t2 -c100 -d30s --latency -s scripts/wrk/ofrep-single.lua http://127.0.0.1:PORT
--
--   BENCH_KEYS          flag keys, one per line (scripts/bench-flagfile N --keys)
--   BENCH_VERSION_ON    version (ETag) of the file in which every flag is on
--   BENCH_VERSION_OFF   version of the file in which every flag is off
--   BENCH_POOL          distinct requests per thread (default 10000)
--
-- Each thread cycles through a pool of prebuilt requests, each for another
-- flag and another targetingKey ("user-<n>"), with the attributes the
-- generated files' requirements ask for. Every response is checked: a
-- non-2xx status, a value that contradicts the version it carries (on
-- with the all-off version, or off with the all-on version), or a version
-- that is neither, is counted; done() prints the counts on one line
-- starting with "check:".

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  local keys = {}
  local path = os.getenv("BENCH_KEYS") or error("BENCH_KEYS is not set")
  for line in io.lines(path) do
    if line ~= "" then keys[#keys + 1] = line end
  end
  assert(#keys > 0, "no keys in " .. path)
  version_on = os.getenv("BENCH_VERSION_ON") or error("BENCH_VERSION_ON is not set")
  version_off = os.getenv("BENCH_VERSION_OFF") or error("BENCH_VERSION_OFF is not set")
  local size = tonumber(os.getenv("BENCH_POOL") or "10000")
  local headers = { ["Content-Type"] = "application/json" }
  pool = {}
  for i = 1, size do
    local n = (id or 1) * 1000000 + i
    local key = keys[(i * 7919 + (id or 1)) % #keys + 1]
    local body = '{"context":{"targetingKey":"user-' .. n ..
      '","tenant_id":"tenant-7","app_version":"4.2.0","country":"FR","plan":"pro"}}'
    pool[i] = wrk.format("POST", "/ofrep/v1/evaluate/flags/" .. key, headers, body)
  end
  next_request = 0
  checked, non2xx, mismatched, unknown_version = 0, 0, 0, 0
  on_count, off_count = 0, 0
end

function request()
  next_request = next_request % #pool + 1
  return pool[next_request]
end

function response(status, headers, body)
  checked = checked + 1
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    return
  end
  local version = body:match('"version":"(%x+)"')
  local on = body:find('"value":true', 1, true) ~= nil
  if on then on_count = on_count + 1 else off_count = off_count + 1 end
  if version == version_on then
    if not on then mismatched = mismatched + 1 end
  elseif version == version_off then
    if on then mismatched = mismatched + 1 end
  else
    unknown_version = unknown_version + 1
  end
end

function done(summary, latency, requests)
  local t = { checked = 0, non2xx = 0, mixed = 0, mismatched = 0, unknown_version = 0, on = 0, off = 0 }
  for _, thread in ipairs(threads) do
    t.checked = t.checked + thread:get("checked")
    t.non2xx = t.non2xx + thread:get("non2xx")
    t.mismatched = t.mismatched + thread:get("mismatched")
    t.unknown_version = t.unknown_version + thread:get("unknown_version")
    t.on = t.on + thread:get("on_count")
    t.off = t.off + thread:get("off_count")
  end
  -- A single-flag answer holds one result: it cannot mix results, only
  -- contradict its version (counted as mismatched).
  io.write(string.format(
    "check: checked=%d non2xx=%d mixed=%d mismatched=%d unknown_version=%d on=%d off=%d " ..
    "socket_errors=%d wrk_non2xx3xx=%d\n",
    t.checked, t.non2xx, t.mixed, t.mismatched, t.unknown_version, t.on, t.off,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
