-- Tests of the kefu Lua module; plain asserts, runs under Lua 5.1, LuaJIT
-- and Lua 5.4.  Prints one line per test and a closing "N passed, N failed".
-- Usage: LUA_CPATH='build/lua5.4/?.so' lua5.4 bindings/lua/tests/test_kefu.lua [ROOT]
local kefu = require "kefu"
local ROOT = arg and arg[1] or "."

local passed, failed = 0, 0
local function test(name, fn)
  local ok, err = pcall(fn)
  if ok then
    passed = passed + 1
    print("ok   " .. name)
  else
    failed = failed + 1
    print("FAIL " .. name .. ": " .. tostring(err))
  end
end

local function eq(a, b, what)
  if a ~= b then
    error((what or "value") .. ": expected " .. tostring(b) .. ", got " ..
          tostring(a), 2)
  end
end

local function near(a, b, eps, what)
  if math.abs(a - b) > (eps or 1e-5) then
    error((what or "value") .. ": expected ~" .. tostring(b) .. ", got " ..
          tostring(a), 2)
  end
end

local TINY = [[
kefu: 1
name: tiny
intents:
  refund:
    examples: [我要退款, i want a refund, refund please, 退钱, give me my money back, 退款怎么还没到]
    slots: [order_id]
    skills: [billing, returns]
    patterns:
      - {regex: '退款', mode: boost, weight: 2.0}
  greeting:
    examples: [你好, hello, hi there, 早上好, good morning, 您好啊]
  delivery:
    examples: [我的快递到哪了, where is my package, 物流信息, track my parcel, 还没发货, when will it ship]
    patterns:
      - {regex: '快递', mode: force}
entities:
  order_id: {builtin: order_id, min_digits: 8}
  phone: {builtin: phone}
]]

local tmpfiles = {}
local function write(text)
  local p = os.tmpname()
  local f = assert(io.open(p, "wb"))
  f:write(text)
  f:close()
  tmpfiles[#tmpfiles + 1] = p
  return p
end

local model_path = write(TINY)
local m = assert(kefu.load(model_path))

test("version", function()
  assert(kefu.version():match("^%d+%.%d+%.%d+$"))
  local a, b, c = kefu.version():match("^(%d+)%.(%d+)%.(%d+)$")
  eq(kefu.version_number(), a * 10000 + b * 100 + c, "version_number")
  eq(kefu._VERSION, kefu.version(), "_VERSION")
  assert(kefu.strerror(kefu.E_NOMEM):lower():find("memory"))
  eq(kefu.E_SYNTAX, -6, "E_SYNTAX")
  eq(kefu.emotions[1], "anger")
  eq(#kefu.emotions, 6)
end)

test("normalize and tokenize", function()
  eq(kefu.normalize("ＨＥＬＬＯ"), "hello")
  eq(kefu.normalize("這個"), "这个")
  local text = "hi 你好!!! 123"
  local toks = assert(kefu.tokenize(text))
  local kinds = {}
  for i, t in ipairs(toks) do
    kinds[i] = t.kind
    -- byte offsets are 0-based, end exclusive: string.sub(s, start+1, end)
    assert(#text:sub(t.byte_start + 1, t.byte_end) > 0)
  end
  eq(table.concat(kinds, ","), "word,cjk,cjk,punct,number")
  eq(toks[2].text, "你")
  eq(toks[2].char_start, 3)
  local v, msg, code = kefu.normalize("ok\255")
  eq(v, nil)
  eq(code, kefu.E_UTF8)
  assert(type(msg) == "string" and #msg > 0)
end)

test("model description", function()
  eq(m:name(), "tiny")
  local intents = m:intents()
  eq(intents[1], "refund")
  eq(intents[2], "greeting")
  eq(intents[3], "delivery")
  local sk = m:intent_skills("refund")
  eq(sk[1], "billing")
  eq(sk[2], "returns")
  eq(#m:intent_skills("greeting"), 0)
  local _, _, code = m:intent_skills("nope")
  eq(code, kefu.E_UNKNOWN)
  local en = m:entity_names()
  eq(en[1], "order_id")
  eq(en[2], "phone")
  assert(tostring(m):find("tiny"))
end)

test("classify", function()
  local r = assert(m:classify("i want a refund please"))
  eq(r.intent, "refund")
  eq(r.out_of_scope, false)
  assert(r.confidence > 0.5 and r.confidence <= 1)
  assert(r.margin > 0)
  eq(r.top[1].intent, "refund")
  near(r.top[1].confidence, r.confidence)
  near(r.top[1].confidence - r.top[2].confidence, r.margin, 1e-4, "margin")
  eq(r.missing_slots[1], "order_id")
  eq(#r.entities, 0)
  eq(m:classify("hello there").intent, "greeting")
  eq(#m:classify("hello there", {top = 1}).top, 1)
  eq(#m:classify("hello there", {top = 3}).top, 3)
  local f = m:classify("hello 快递")
  eq(f.intent, "delivery")
  assert(f.pattern >= 0)
end)

test("entities with spans", function()
  local text = "退款，订单号 12345678，电话 13812345678"
  local r = assert(m:classify(text))
  eq(r.intent, "refund")
  eq(#r.missing_slots, 0)
  local by = {}
  for _, e in ipairs(r.entities) do by[e.name] = e end
  eq(by.order_id.value, "12345678")
  eq(text:sub(by.order_id.byte_start + 1, by.order_id.byte_end), "12345678")
  assert(by.phone.value:find("13812345678"))
  eq(by.phone.char_end - by.phone.char_start, 11)
  local ents = assert(m:entities(text))
  eq(#ents, #r.entities)
  eq(m:classify(text, {entities = false}).entities, nil)
end)

test("explain", function()
  local ex = assert(m:explain("我要退款"))
  assert(#ex > 0)
  eq(ex[1].kind, "pattern")
  local feat = false
  for _, e in ipairs(ex) do if e.kind == "feature" then feat = true end end
  assert(feat, "a feature")
  assert(#m:explain("我要退款", 2) <= 2)
  local _, _, code = m:explain("x", 0)
  eq(code, kefu.E_ARG)
end)

test("emotion", function()
  local e = assert(m:emotion("太慢了!!! 我非常生气"))
  for _, c in ipairs(kefu.emotions) do
    assert(type(e[c]) == "number" and e[c] >= 0 and e[c] <= 100, c)
  end
  assert(e.negativity >= 0 and e.negativity <= 100)
  assert(e.anger > 50, "anger " .. e.anger)
  local calm = m:emotion("谢谢，非常满意")
  assert(calm.joy > calm.anger)
end)

test("redact", function()
  local text = "call 13812345678 or mail a.b@example.com"
  local red, spans = assert(m:redact(text))
  assert(not red:find("13812345678", 1, true))
  assert(not red:find("a.b@example.com", 1, true))
  eq(#spans, 2)
  local kinds = {}
  for _, s in ipairs(spans) do kinds[s.kind] = text:sub(s.byte_start + 1, s.byte_end) end
  eq(kinds.phone, "13812345678")
  eq(kinds.email, "a.b@example.com")
end)

test("text errors return nil, message, code", function()
  local r, msg, code = m:classify("bad \254")
  eq(r, nil)
  eq(code, kefu.E_UTF8)
  assert(msg:find("UTF%-8") or msg:find("utf") or #msg > 0)
  r, msg, code = m:classify(string.rep("x", 70000))
  eq(code, kefu.E_TOO_LONG)
  eq(m:classify("hello there").intent, "greeting")
  assert(not pcall(m.classify, m, {}), "a table is a type error")
end)

test("malformed model reports file:line:column", function()
  local bad = write("kefu: 1\nintents:\n  a: {examples: [x, y\n")
  local v, msg, code = kefu.load(bad)
  eq(v, nil)
  eq(code, kefu.E_SYNTAX)
  local f, l, c = msg:match("^(.-):(%d+):(%d+): ")
  eq(f, bad, "file")
  assert(tonumber(l) > 0 and tonumber(c) > 0, msg)
  local bad2 = write("kefu: 1\nintents:\n  a:\n    examples: [x]\n    bogus_key: 3\n")
  v, msg, code = kefu.load(bad2)
  eq(code, kefu.E_UNKNOWN)
  eq(msg:sub(1, #bad2 + 5), bad2 .. ":5:5:")
  v, msg, code = kefu.load_buffer("kefu: 1\nintents: [\n", "mem.yaml")
  eq(code, kefu.E_SYNTAX)
  assert(msg:find("^mem%.yaml:%d+:%d+: "), msg)
  v, msg, code = kefu.load("/nonexistent/model.yaml")
  eq(code, kefu.E_IO)
end)

test("train, save, load binary", function()
  local lines = {}
  for _, t in ipairs({"我要退款", "i want a refund", "refund please", "退钱", "money back please", "退款"}) do
    lines[#lines + 1] = "refund\t" .. t
  end
  for _, t in ipairs({"你好", "hello", "hi there", "早上好", "good morning", "您好"}) do
    lines[#lines + 1] = "greeting\t" .. t
  end
  local tsv = write(table.concat(lines, "\n") .. "\n")
  local seen = {}
  local tm = assert(kefu.train(tsv, {val = tsv, epochs = 4, seed = 1,
    progress = function(epoch, epochs, loss, acc)
      seen[#seen + 1] = {epoch, epochs, loss, acc}
    end}))
  eq(#seen, 4)
  eq(seen[4][1], 4)
  eq(seen[4][2], 4)
  assert(seen[4][4] ~= nil, "validation accuracy")
  eq(tm:classify("refund please").intent, "refund")
  local out = os.tmpname()
  tmpfiles[#tmpfiles + 1] = out
  assert(tm:save(out))
  local m2 = assert(kefu.load(out))
  eq(m2:classify("hello").intent, tm:classify("hello").intent)
  local f = assert(io.open(out, "rb"))
  local data = f:read("*a")
  f:close()
  local m3 = assert(kefu.load_buffer(data))
  eq(m3:classify("hi there").intent, "greeting")
  local _, _, code = kefu.load_buffer(data:sub(1, math.floor(#data / 2)))
  assert(code == kefu.E_CORRUPT or code == kefu.E_VERSION, tostring(code))
  local ok, msg, c2 = tm:save("/nonexistent/dir/m.kefu")
  eq(ok, nil)
  eq(c2, kefu.E_IO)
  -- an error in the progress callback is reported, not propagated
  local r, emsg, ecode = kefu.train(tsv, {epochs = 2, progress = function() error("boom") end})
  eq(r, nil)
  eq(ecode, kefu.E_STATE)
  assert(emsg:find("boom"), emsg)
  -- a bad training file names its line
  local badtsv = write("a\thello\nno tab here\n")
  r, emsg, ecode = kefu.train(badtsv)
  eq(r, nil)
  assert(emsg:find(badtsv .. ":2", 1, true), emsg)
  tm:close(); m2:close(); m3:close()
end)

test("close is idempotent, closed handles answer with errors", function()
  local mm = assert(kefu.load(model_path))
  mm:close()
  mm:close()
  local r, msg, code = mm:classify("hello")
  eq(r, nil)
  eq(code, kefu.E_STATE)
  assert(msg:find("closed"))
  eq(select(3, mm:emotion("x")), kefu.E_STATE)
  eq(tostring(mm), "kefu.model (closed)")
  assert(not pcall(m.classify, "not a model", "x"), "checkudata")
end)

test("objects freed in any order", function()
  for order = 1, 3 do
    local mm = assert(kefu.load(model_path))
    local rs = assert(mm:rules())
    local rt = assert(kefu.router(mm))
    local tr = assert(kefu.emotion_track())
    if order == 1 then
      mm:close(); rs:close(); rt:close(); tr:close()
    elseif order == 2 then
      tr:close(); rt:close(); rs:close(); mm:close()
    end
    -- order 3: left to the garbage collector
    mm, rs, rt, tr = nil, nil, nil, nil
    collectgarbage("collect")
  end
  -- a rule set compiled against a model outlives it
  local mm = assert(kefu.load(model_path))
  local rs = assert(kefu.rules_compile(mm, "kefu: 1\nrules:\n  list:\n    - {name: a, when: 'emotion.anger > 50', then: {tag: x}}\n"))
  mm:close()
  collectgarbage("collect")
  eq(rs:evaluate({["emotion.anger"] = 60}).fired[1], "a")
end)

local RULES = [[
kefu: 1
facts:
  vip: bool
rules:
  mode: all
  list:
    - name: angry
      priority: 10
      when: emotion.anger > 80
      then:
        escalate: {queue: human, skill: care, tier: senior}
        priority: {raise: 2}
        tag: angry
    - name: vip
      priority: 5
      when: vip and intent == "refund"
      then:
        suggest: vip_script
]]

test("rules: compile, evaluate, trace", function()
  local rs = assert(kefu.rules_compile(m, RULES, "r.yaml"))
  local names = rs:rule_names()
  eq(names[1], "angry")
  eq(names[2], "vip")
  eq(rs:fact_type("vip"), "bool")
  eq(rs:fact_type("emotion.anger"), "number")
  eq(select(3, rs:fact_type("no.such")), kefu.E_UNKNOWN)
  local o = assert(rs:evaluate({["emotion.anger"] = 90, vip = true, intent = "refund"}, true))
  eq(#o.fired, 2)
  eq(o.fired[1], "angry")
  eq(o.actions[1].type, "escalate")
  eq(o.actions[1].queue, "human")
  eq(o.actions[1].tier, "senior")
  eq(o.actions[2].type, "priority")
  eq(o.actions[2].raise, true)
  eq(o.actions[2].value, 2)
  eq(o.actions[3].arg, "angry")
  eq(o.actions[4].arg, "vip_script")
  eq(o.states.angry, "fired")
  local seen = false
  for _, t in ipairs(o.trace) do
    if t.kind == "fact" and t.expr == "emotion.anger" then
      eq(t.value, 90); seen = true
    end
  end
  assert(seen, "trace has the fact")
  assert(o.explain.angry:find("emotion.anger = 90", 1, true), o.explain.angry)
  local o2 = assert(rs:evaluate({["emotion.anger"] = 10}))
  eq(#o2.fired, 0)
  eq(o2.trace, nil)
  eq(o2.states.vip, "false")
  -- values from the last call do not leak into the next one
  eq(#assert(rs:evaluate({})).fired, 0)
  local r, msg, code = rs:evaluate({["no.such.fact"] = 1})
  eq(r, nil)
  eq(code, kefu.E_UNKNOWN)
  r, msg, code = rs:evaluate({vip = "yes"})
  eq(code, kefu.E_TYPE)
  assert(rs:evaluate({["customer.risk"] = {"fraud", "aml"}, wait = 100000}))
  rs:close()
  rs:close()
  eq(select(3, rs:evaluate({})), kefu.E_STATE)
end)

test("rules: errors name file:line:column", function()
  local bad = RULES:gsub("emotion.anger > 80", 'emotion.anger > "x"')
  local rs, msg, code = kefu.rules_compile(m, bad, "bad-rules.yaml")
  eq(rs, nil)
  eq(code, kefu.E_TYPE)
  local f, l, c = msg:match("^(.-):(%d+):(%d+): ")
  eq(f, "bad-rules.yaml")
  eq(tonumber(l), 9)
  assert(tonumber(c) > 15)
  local p = write(RULES)
  assert(kefu.rules_load(m, p))
  rs, msg, code = kefu.rules_load(m, "/nonexistent.yaml")
  eq(code, kefu.E_IO)
  local dp = ROOT .. "/examples/default-rules.yaml"
  local fh = io.open(dp)
  if fh then
    fh:close()
    local d = assert(kefu.rules_load(m, dp))
    local fired = assert(d:evaluate({["emotion.anger"] = 95})).fired
    local found = false
    for _, n in ipairs(fired) do if n == "angry_customer" then found = true end end
    assert(found, "angry_customer fires")
  end
end)

test("router", function()
  local r = assert(kefu.router())
  assert(r:queue_add(0, 1, "longest_idle"))
  assert(r:queue_set(0, 1, "sl_target_ms", 10000))
  assert(r:queue_step(0, 1, 30000, {level_drop = 20}))
  assert(r:agent_add(0, 7, "senior", 2))
  assert(r:agent_skill(0, 7, 3, 50))
  assert(r:agent_channel(0, 7, "chat", 1))
  assert(r:agent_language(0, 7, "zh"))
  assert(r:agent_queue(0, 7, 1))
  assert(r:agent_state(0, 7, "available"))
  eq(r:get("offer_timeout_ms"), 15000)
  assert(r:set("offer_timeout_ms", 5000))
  eq(r:get("offer_timeout_ms"), 5000)
  assert(r:submit(10, 100, {queue = 1, channel = "chat", language = "zh", skills = {[3] = 40}}))
  local e = assert(r:poll())
  eq(e.kind, "offer"); eq(e.conversation, 100); eq(e.agent, 7); eq(e.time_ms, 10)
  eq(r:poll(), nil)
  eq(r:conversation_info(100).state, "reserved")
  assert(r:accept(20, 100, 7))
  local ai = r:agent_info(7)
  eq(ai.load, 1); eq(ai.tier, "senior"); eq(ai.presence, "available")
  -- errors: nil, message, code; nothing changes
  local ok, msg, code = r:agent_add(25, 7)
  eq(ok, nil); eq(code, kefu.E_EXISTS); assert(#msg > 0)
  eq(select(3, r:submit(25, 5, {queue = 99})), kefu.E_UNKNOWN)
  eq(select(3, r:conversation_info(12345)), kefu.E_UNKNOWN)
  eq(select(3, r:agent_skill(25, 7, 3, 101)), kefu.E_ARG)
  eq(select(3, r:agent_add(0, 9)), kefu.E_ARG)  -- the clock went backwards
  assert(not pcall(r.agent_state, r, 25, 7, "sleeping"), "unknown name raises")
  -- timeout, cancel, complete, stats
  assert(r:submit(30, 101, {queue = 1, skills = {[3] = 40}}))
  eq(r:poll().kind, "offer")
  assert(r:tick(30 + 5000))
  local kinds = {}
  while true do
    local ev = r:poll()
    if not ev then break end
    kinds[#kinds + 1] = ev.kind
  end
  assert(table.concat(kinds, ","):find("timeout"))
  assert(r:cancel(6000, 101))
  -- snapshot and restore
  local snap = assert(r:snapshot())
  local r2 = assert(kefu.router())
  assert(r2:restore(snap))
  eq(r2:conversation_info(100).state, "assigned")
  eq(r2:snapshot(), snap)
  local broken = snap:sub(1, 20) .. string.char((snap:byte(21) + 1) % 256) .. snap:sub(22)
  eq(select(3, r2:restore(broken)), kefu.E_CORRUPT)
  eq(r2:snapshot(), snap)
  assert(r:complete(7000, 100, 1000))
  local st = assert(r:stats(8000, 0, 3600000))
  eq(st.answered, 1); eq(st.abandoned, 1)
  near(st.abandon_rate, 0.5)
  -- transfer, reject, remove
  assert(r:queue_add(8500, 2, "least_loaded"))
  assert(r:agent_add(8500, 8, "junior", 1))
  assert(r:agent_channel(8500, 8, "chat", 1))
  assert(r:agent_queue(8500, 8, 2))
  assert(r:agent_state(8500, 8, "away"))
  eq(r:agent_info(8).presence, "away")
  assert(r:agent_state(9000, 8, "offline"))
  assert(r:agent_remove(9000, 8))
  eq(select(3, r:agent_info(8)), kefu.E_UNKNOWN)
  assert(r:submit(20000, 102, {queue = 1}))
  local ev = r:poll()
  if ev and ev.kind == "offer" then
    assert(r:reject(20001, 102, ev.agent))
    eq(r:conversation_info(102).state, "waiting")
  end
  r:close(); r:close()
  eq(select(3, r:poll()), kefu.E_STATE)
  r2:close()
end)

test("emotion track", function()
  local t = assert(kefu.emotion_track({half_life_turns = 2}))
  for _, text in ipairs({"你好", "怎么还没到", "太慢了!!!", "气死我了!!! 投诉"}) do
    assert(t:update(m:emotion(text), 0))
  end
  local g = assert(t:get())
  eq(g.turns, 4)
  assert(g.peak.anger > 50)
  eq(g.peak_turn, 4)
  eq(select(3, t:update({anger = 10}, 0, 500)), kefu.E_ARG)
  eq(select(3, t:set("trend_turns", 99)), kefu.E_ARG)
  assert(t:set("trend_turns", 5))
  t:reset()
  eq(t:get().turns, 0)
  eq(select(3, kefu.emotion_track({trend_turns = 99})), kefu.E_ARG)
  t:close(); t:close()
end)

test("staffing", function()
  local c = assert(kefu.erlang_c(0.5, 180, 100, 20))
  near(c.load_erlangs, 90)
  assert(c.service_level > 0 and c.service_level <= 1)
  local a = assert(kefu.erlang_a(0.5, 180, 60, 100, 20))
  assert(a.abandon_rate > 0)
  local n = assert(kefu.erlang_agents(0.5, 180, 20, 0.8))
  assert(kefu.erlang_c(0.5, 180, n, 20).service_level >= 0.8)
  assert(kefu.erlang_c(0.5, 180, n - 1, 20).service_level < 0.8)
  eq(select(3, kefu.erlang_c(1.0, 100, 50, 20)), kefu.E_LIMIT)
end)

test("default model, when it loads", function()
  local dm = kefu.load(ROOT .. "/examples/default-model.yaml")
  if not dm then print("     (default model not loadable; skipped)") return end
  eq(dm:classify("我要退款，订单号 1234567890").intent, "refund")
  dm:close()
end)

m:close()
m = nil
collectgarbage("collect")
for _, p in ipairs(tmpfiles) do os.remove(p) end
print(string.format("%d passed, %d failed", passed, failed))
os.exit(failed == 0 and 0 or 1)
