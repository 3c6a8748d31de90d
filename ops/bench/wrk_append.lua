-- wrk script of ops/bench/scale.py: every request carries fresh event envelopes.
--
--   wrk -t2 -c16 -d15s -s wrk_append.lua http://127.0.0.1:PORT/v1/events -- POOL BATCH SALT ON AT
--
-- POOL: a file of seeker ids, one a line, whose job search is open (started before ON).
-- BATCH: events per request (1: one envelope object; N > 1: an array of N envelopes).
-- SALT: 8 hex digits, new for every wrk run: event ids are SALT-THREAD-random-random-COUNTER,
--   unique within the run (thread, counter) and across runs (salt).
-- ON / AT: the day (YYYY-MM-DD) and moment (ISO 8601 with offset) the events occurred.
-- Each event is, at random, a `contact_made` or an `application_reported` of a random seeker
-- of the pool. At the end it prints one line: `wrk-result {json}`.

local threads = 0

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

local seekers = {}
local batch, salt, on, at
local counter = 0

function init(args)
  local pool = assert(io.open(args[1], "r"))
  for line in pool:lines() do
    if #line > 0 then
      seekers[#seekers + 1] = line
    end
  end
  pool:close()
  assert(#seekers > 0, "the seeker pool is empty")
  batch = tonumber(args[2])
  salt = args[3]
  on = args[4]
  at = args[5]
  math.randomseed(tonumber(salt, 16) + 7919 * tid)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

local function event_id()
  counter = counter + 1
  return string.format(
    "%s-%04x-4%03x-%04x-%012x",
    salt, tid, math.random(0, 0xfff), 0x8000 + math.random(0, 0x3fff), counter
  )
end

local function envelope()
  local head = '{"event_id":"' .. event_id() .. '","seeker_id":"' .. seekers[math.random(#seekers)]
  if math.random() < 0.5 then
    return head .. '","type":"contact_made","occurred_at":"' .. at
      .. '","actor":{"id":"caseworker:bench","role":"coach","organisation":"398"}'
      .. ',"source":"bench","data":{"channel":"phone","direction":"outbound"'
      .. ',"purpose":"job offer follow-up"}}'
  end
  return head .. '","type":"application_reported","occurred_on":"' .. on
    .. '","actor":{"id":"system:oma-asiointi","role":"seeker","organisation":"398"}'
    .. ',"source":"oma-asiointi","data":{"applied_on":"' .. on
    .. '","kind":"vacancy","employer_name":"Bench Oy","job_title":"warehouse worker"}}'
end

function request()
  local body
  if batch == 1 then
    body = envelope()
  else
    local items = {}
    for i = 1, batch do
      items[i] = envelope()
    end
    body = "[" .. table.concat(items, ",") .. "]"
  end
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'wrk-result {"requests":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,'
      .. '"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)
  ))
end
