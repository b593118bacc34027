-- wrk script: POST /v1/evaluate (every flag of the file, with a context),
-- under a file that flips between an all-on and an all-off version.
--
-- Usage (scripts/bench-load sets all of this up):
--   BENCH_VERSION_ON=<hash> BENCH_VERSION_OFF=<hash> \
--     wrk -t2 -c100 -d30s --latency -s scripts/wrk/evaluate.lua http://127.0.0.1:PORT
--
--   BENCH_VERSION_ON    version (ETag) of the file in which every flag is on
--   BENCH_VERSION_OFF   version of the file in which every flag is off
--   BENCH_POOL          distinct requests per thread (default 10000)
--   BENCH_FLAG_KEYS     comma-separated flag keys to ask for ("flags": [...]);
--                       unset: every flag of the file
--
-- Each thread cycles through a pool of prebuilt requests, each with
-- another user_id ("user-<n>") and the attributes the generated files'
-- requirements ask for. Every response is checked and counted when:
--   non2xx           its status is not 2xx;
--   mixed            its results mix "enabled":true and "enabled":false
--                    (parts of two versions of the file);
--   mismatched       its "version" contradicts its results (the all-on
--                    version with a flag off, or the all-off version with
--                    a flag on);
--   unknown_version  its version is neither.
-- done() prints the counts on one line starting with "check:".

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  version_on = os.getenv("BENCH_VERSION_ON") or error("BENCH_VERSION_ON is not set")
  version_off = os.getenv("BENCH_VERSION_OFF") or error("BENCH_VERSION_OFF is not set")
  local size = tonumber(os.getenv("BENCH_POOL") or "10000")
  local headers = { ["Content-Type"] = "application/json" }
  local keys = os.getenv("BENCH_FLAG_KEYS") or ""
  local flags = ""
  if keys ~= "" then
    flags = ',"flags":["' .. keys:gsub(',', '","') .. '"]'
  end
  pool = {}
  for i = 1, size do
    local n = (id or 1) * 1000000 + i
    local body = '{"context":{"user_id":"user-' .. n ..
      '","tenant_id":"tenant-7","app_version":"4.2.0","country":"FR","plan":"pro"}' .. flags .. '}'
    pool[i] = wrk.format("POST", "/v1/evaluate", headers, body)
  end
  next_request = 0
  checked, non2xx, mixed, mismatched, unknown_version = 0, 0, 0, 0, 0
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
  local version = body:match('^{"version":"(%x+)"')
  local has_on = body:find('"enabled":true', 1, true) ~= nil
  local has_off = body:find('"enabled":false', 1, true) ~= nil
  if has_on and has_off then
    mixed = mixed + 1
  elseif has_on then
    on_count = on_count + 1
  else
    off_count = off_count + 1
  end
  if version == version_on then
    if has_off then mismatched = mismatched + 1 end
  elseif version == version_off then
    if has_on then mismatched = mismatched + 1 end
  else
    unknown_version = unknown_version + 1
  end
end

function done(summary, latency, requests)
  local t = { checked = 0, non2xx = 0, mixed = 0, mismatched = 0, unknown_version = 0, on = 0, off = 0 }
  for _, thread in ipairs(threads) do
    t.checked = t.checked + thread:get("checked")
    t.non2xx = t.non2xx + thread:get("non2xx")
    t.mixed = t.mixed + thread:get("mixed")
    t.mismatched = t.mismatched + thread:get("mismatched")
    t.unknown_version = t.unknown_version + thread:get("unknown_version")
    t.on = t.on + thread:get("on_count")
    t.off = t.off + thread:get("off_count")
  end
  io.write(string.format(
    "check: checked=%d non2xx=%d mixed=%d mismatched=%d unknown_version=%d on=%d off=%d " ..
    "socket_errors=%d wrk_non2xx3xx=%d\n",
    t.checked, t.non2xx, t.mixed, t.mismatched, t.unknown_version, t.on, t.off,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
