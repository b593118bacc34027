-- wrk script: phones revalidating their answers. POST
-- /ofrep/v1/evaluate/flags (every flag, one context per phone) with
-- If-None-Match set to the ETag that phone got last, as the client mode of
-- the SDKs and an HTTP cache in front of the servers do.
--
-- Usage (scripts/bench-load sets all of this up; run it with REWRITE_HZ=0,
-- so the tags stay current):
--   BENCH_ETAGS=<file> wrk -t2 -c100 -d30s --latency -s scripts/wrk/revalidate.lua http://127.0.0.1:PORT
--
--   BENCH_ETAGS   a file of lines "<request body>\t<ETag>", one per phone,
--                 the tags learnt by one POST of each body beforehand
--
-- Each thread cycles through every phone. Every response is counted as
--   not_modified  304 (the expected answer while the flags do not change)
--   changed       200 (a new answer: the flags or a schedule moved)
--   other         anything else
-- done() prints the counts on one line starting with "check:".

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local path = os.getenv("BENCH_ETAGS") or error("BENCH_ETAGS is not set")
  pool = {}
  for line in io.lines(path) do
    local body, etag = line:match("^(.-)\t(.+)$")
    if body then
      pool[#pool + 1] = wrk.format("POST", "/ofrep/v1/evaluate/flags",
        { ["Content-Type"] = "application/json", ["If-None-Match"] = etag }, body)
    end
  end
  if #pool == 0 then error("no phones in " .. path) end
  next_request = 0
  not_modified, changed, other = 0, 0, 0
end

function request()
  next_request = next_request % #pool + 1
  return pool[next_request]
end

function response(status, headers, body)
  if status == 304 then
    not_modified = not_modified + 1
  elseif status == 200 then
    changed = changed + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local t = { not_modified = 0, changed = 0, other = 0 }
  for _, thread in ipairs(threads) do
    t.not_modified = t.not_modified + thread:get("not_modified")
    t.changed = t.changed + thread:get("changed")
    t.other = t.other + thread:get("other")
  end
  io.write(string.format(
    "check: checked=%d non2xx=%d mixed=0 mismatched=0 unknown_version=0 on=0 off=0 " ..
    "not_modified=%d changed=%d socket_errors=%d wrk_non2xx3xx=%d\n",
    t.not_modified + t.changed + t.other, t.other, t.not_modified, t.changed,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
