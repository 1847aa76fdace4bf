-- wrk script for tests/bench/bench_hosts.sh: POST /triage with the sample
-- conversations of examples/conversations.jsonl under fresh ids.  Each
-- wrk thread keeps SLOTS conversations going and sends request n to slot
-- n % SLOTS, so the next message of a conversation is only sent SLOTS
-- requests later - normally long after the previous one was answered (a
-- thread has only a few connections in flight) - and a conversation's
-- messages arrive in order, as from real customers.  wrk cannot tie a
-- response to its request, so a request stalled for more than SLOTS
-- requests lets the next message overtake it; the gateway then answers
-- 400 ("time_ms ... is before the previous turn's"), counted as non-2xx.
local SLOTS = 1024
-- ids never repeat across runs against the same server (KEFU_BENCH_RUN)
local RUN = os.getenv("KEFU_BENCH_RUN") or tostring(os.time())
local convs, index = {}, {}
local path = os.getenv("KEFU_BENCH_INPUT") or "examples/conversations.jsonl"
for l in io.lines(path) do
  local id = l:match('"conversation":%s*"([^"]*)"')
  if id then
    if not index[id] then
      index[id] = #convs + 1
      convs[#convs + 1] = {}
    end
    local c = convs[index[id]]
    c[#c + 1] = l
  end
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

local n, fresh, slots = 0, 0, {}
request = function()
  n = n + 1
  local s = slots[n % SLOTS + 1]
  if not s or s.turn > #convs[s.conv] then
    fresh = fresh + 1
    s = { conv = fresh % #convs + 1, turn = 1,
          id = string.format("%s-t%d-%d", RUN, thread_id or 0, fresh) }
    slots[n % SLOTS + 1] = s
  end
  local line = convs[s.conv][s.turn]
  s.turn = s.turn + 1
  local body = line:gsub('"conversation":%s*"[^"]*"', '"conversation": "' .. s.id .. '"', 1)
  return wrk.format(nil, "/triage", nil, body)
end
