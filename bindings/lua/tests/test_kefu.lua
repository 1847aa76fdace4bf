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
  -- 3 intents, 18 examples: too few to tune on, the SVM's temperature
  local ci = assert(m:classifier_info())
  eq(ci.classes, 3); eq(ci.examples, 18); eq(ci.oos_index, nil)
  assert(ci.features > 0)
  near(ci.temperature, 0.12, 1e-6, "temperature")
  eq(select(3, m:classifier_info("emotion")), kefu.E_STATE)
  eq(select(3, m:classifier_info("sentiment")), kefu.E_ARG)
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
  eq(#m:classify("hello there").top, 3)   -- 3 intents; the default is 5
  local many = {}
  for i = 1, 6 do many[#many + 1] = string.format("  i%d: {examples: [word%d, thing%d]}\n", i, i, i) end
  local big = assert(kefu.load_buffer((TINY:gsub("  delivery:", table.concat(many) .. "  delivery:"))))
  eq(#big:classify("hello", {top = 1}).top, 1)
  eq(#big:classify("hello").top, 5)
  big:close()
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
  -- numbers out of range are errors, not C casts: a negative epochs is
  -- refused by the binding, more than 1000 by the library
  local okp, perr = pcall(kefu.train, tsv, {epochs = -1})
  assert(not okp and tostring(perr):find("epochs must be a number"), tostring(perr))
  okp, perr = pcall(kefu.train, tsv, {epochs = 0/0})
  assert(not okp and tostring(perr):find("epochs"), tostring(perr))
  okp, perr = pcall(kefu.train, tsv, {learning_rate = -1e300})
  assert(not okp and tostring(perr):find("learning_rate"), tostring(perr))
  r, emsg, ecode = kefu.train(tsv, {epochs = 5000})
  eq(r, nil); eq(ecode, kefu.E_ARG); assert(emsg:find("epochs"), emsg)
  tm:close(); m2:close(); m3:close()
end)

test("trained emotion labels", function()
  local tsv = write("anger\tI am so angry\nanger\tthis is outrageous\nanger\t气死我了\n" ..
                    "joy\tthank you so much\njoy\tgreat service\njoy\t太好了谢谢\nanger,joy\tangry but thanks\n")
  local em = assert(kefu.train(tsv, {task = "emotion", epochs = 20, seed = 3}))
  local names = em:emotion_labels()
  eq(names[1], "anger"); eq(names[2], "joy")
  local p = assert(em:classify_emotion("I am so angry, outrageous"))
  eq(p.labels[1], "anger"); eq(#p.labels, 1)
  assert(p.probs.anger > p.probs.joy)
  eq(em:classify_emotion("谢谢 太好了").labels[1], "joy")
  local ci = assert(em:classifier_info("emotion"))
  eq(ci.classes, 2); eq(ci.threshold, 0); eq(ci.oos_index, nil)
  eq(select(3, em:classifier_info()), kefu.E_STATE)
  eq(#m:emotion_labels(), 0)
  eq(select(3, m:classify_emotion("hello")), kefu.E_STATE)
  eq(select(3, kefu.train(tsv, {task = "sentiment"})), kefu.E_ARG)
  em:close()
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

test("to-be-closed variables (Lua 5.4)", function()
  if _VERSION ~= "Lua 5.4" then return end
  local chunk = assert((loadstring or load)([[
    local kefu, path = ...
    local held
    do
      local mm <close> = assert(kefu.load(path))
      held = mm
      assert(mm:classify("hello there").intent == "greeting")
    end
    return held
  ]]))
  local held = chunk(kefu, model_path)
  eq(select(3, held:classify("x")), kefu.E_STATE)
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
  eq(rs:mode(), "all")
  eq(rs:rule_when(1), "emotion.anger > 80")
  eq(select(3, rs:rule_when(3)), kefu.E_ARG)
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

local FLOOR = [[
kefu: 1
skills: {billing: 1, tech: 2}
queues:
  general: {id: 20}
  billing: {id: 10, strategy: best_proficiency, skill: billing, sl_target_s: 15}
agents:
  alice:
    id: 1001
    tier: senior
    capacity: 3
    channels: {voice: 3, chat: 1}
    languages: [zh, en]
    skills: {billing: 5, tech: 2}
    queues: [billing]
    state: available
]]

test("router from a model's floor, reload", function()
  local fm = assert(kefu.load_buffer(FLOOR, "floor.yaml"))
  local r = assert(kefu.router(fm))
  local a = r:agent_info(1001)
  eq(a.tier, "senior"); eq(a.capacity, 3); eq(a.presence, "available")
  assert(r:submit(5, 1, {queue = 10, channel = "chat", skills = {[1] = 3}}))
  eq(r:poll().agent, 1001)
  local fm2 = assert(kefu.load_buffer(FLOOR:gsub("capacity: 3", "capacity: 5") ..
                                      "  bob: {id: 1002, queues: [general]}\n"))
  assert(r:reload(10, fm2))
  eq(r:agent_info(1001).capacity, 5)
  eq(r:agent_info(1001).load, 1)
  eq(r:agent_info(1002).presence, "offline")
  local v, msg, code = kefu.load_buffer((FLOOR:gsub("queues: %[billing%]", "queues: [nope]")), "f.yaml")
  eq(v, nil)
  assert(msg:find("^f%.yaml:14:%d+: "), msg)
  fm2:close()
  eq(select(3, r:reload(11, fm2)), kefu.E_STATE)
  r:close(); fm:close()
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
  local okp, perr = pcall(t.update, t, {anger = 1e300}, 0)
  assert(not okp and tostring(perr):find("anger is beyond"), tostring(perr))
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

local SESSION_MODEL = TINY .. [[
facts:
  vip: bool
  hold: duration
rules:
  mode: all
  list:
    - name: angry
      when: emotion.anger > 80
      then: {escalate: {queue: human, tier: senior}, priority: {raise: 2}, tag: angry}
    - name: vip_refund
      when: vip and intent == "refund"
      then: {suggest: vip_script}
    - name: asked_twice
      when: session.turns >= 2 and intent == "refund"
      then: {flag: repeat}
]]

test("session: turns, counters, rules, route", function()
  local sm = assert(kefu.load_buffer(SESSION_MODEL, "s.yaml"))
  local s = assert(sm:session())
  local r = assert(s:turn("我要退款", {time_ms = 1000, channel = "chat"}))
  eq(r.turn, 1); eq(r.intent, "refund"); eq(r.missing_slots, 1)
  eq(r.route.skills[1], "billing"); eq(r.route.skills[2], "returns")
  eq(#r.rules, 0)
  r = assert(s:turn("气死我了!!! 退款，订单号 12345678", {time_ms = 2000, trace = true}))
  eq(r.turn, 2)
  local fired = table.concat(r.rules, ",")
  assert(fired:find("angry") and fired:find("asked_twice"), fired)
  eq(r.escalated, true); eq(r.route.queue, "human"); eq(r.route.tier, "senior")
  eq(r.missing_slots, 0); eq(r.slots.order_id, "12345678")
  eq(r.entities[1].name, "order_id")
  assert(r.emotion.anger > 80); eq(r.emotion.negativity, nil)
  assert(r.negativity > 0)
  eq(#r.trace, 3)
  assert(r.trace[1]:find("^angry: fired"), r.trace[1])
  local pr
  for _, a in ipairs(r.actions) do if a.type == "priority" then pr = a end end
  eq(pr.raise, 2)
  eq(s:slots().order_id, "12345678")
  -- host facts
  assert(s:set_fact("vip", true))
  r = assert(s:turn("refund please", {time_ms = 3000, customer = {tier = "vip", value = 5, risk = "fraud"}}))
  assert(table.concat(r.rules, ","):find("vip_refund"))
  r = assert(s:turn("refund please", {time_ms = 3001, facts = {vip = false}}))
  assert(not table.concat(r.rules, ","):find("vip_refund"))
  -- a facts table with one bad fact sets none of them
  local v2, m2, c2 = s:turn("refund please", {time_ms = 3002, facts = {vip = true, hold = "soon"}})
  eq(v2, nil); eq(c2, kefu.E_TYPE); assert(m2:find("hold"), m2)
  r = assert(s:turn("refund please", {time_ms = 3003}))
  assert(not table.concat(r.rules, ","):find("vip_refund"))
  eq(select(3, s:turn("refund please", {time_ms = 3004, facts = {[1] = true}})), kefu.E_ARG)
  eq(select(3, s:set_fact("no.such", 1)), kefu.E_UNKNOWN)
  assert(s:set_fact("hold", 90000))
  eq(select(3, s:set_fact("hold", 1e300)), kefu.E_ARG)
  assert(s:set_fact("hold", nil))
  assert(s:set_fact("vip", nil))
  -- errors leave the session unchanged
  local blob = s:dump()
  local v, msg, code = s:turn("hello", {time_ms = 10})
  eq(v, nil); eq(code, kefu.E_ARG); assert(#msg > 0)
  eq(select(3, s:turn("\255", {time_ms = 4000})), kefu.E_UTF8)
  local okp, perr = pcall(s.turn, s, "hello", {time_ms = 1e300})
  assert(not okp and tostring(perr):find("time_ms"), tostring(perr))
  okp, perr = pcall(s.turn, s, "hello", {time_ms = 4000, contacts_7d = -2})
  assert(not okp and tostring(perr):find("contacts_7d"), tostring(perr))
  eq(s:dump(), blob)
  s:close(); s:close()
  eq(select(3, s:turn("x")), kefu.E_STATE)
  sm:close()
end)

test("session: dump, restore, rules, lifetimes", function()
  local sm = assert(kefu.load_buffer(SESSION_MODEL))
  local a = assert(sm:session())
  assert(a:turn("我要退款", {time_ms = 1}))
  assert(a:turn("订单号 12345678", {time_ms = 2}))
  local blob = assert(a:dump())
  local b = assert(kefu.restore(sm, blob))
  eq(b:slots().order_id, "12345678")
  local ra = a:turn("太慢了!!!", {time_ms = 3})
  local rb = b:turn("太慢了!!!", {time_ms = 3})
  eq(ra.turn, 3); eq(rb.turn, 3)
  eq(ra.level, rb.level); eq(ra.intent, rb.intent)
  local bad = blob:sub(1, 30) .. string.char((blob:byte(31) + 1) % 256) .. blob:sub(32)
  local before = b:dump()
  local ok, msg, code = b:restore(bad)
  assert(code == kefu.E_CORRUPT or code == kefu.E_VERSION, tostring(code))
  eq(b:dump(), before)
  eq(select(3, kefu.restore(sm, blob:sub(1, 10))), kefu.E_CORRUPT)
  assert(b:restore(blob))
  -- rules of the session: a compiled set, then back to the model's
  local rs = assert(kefu.rules_compile(sm, (RULES:gsub("emotion.anger > 80", "emotion.anger > 99"))))
  local c = assert(sm:session({rules = rs}))
  rs:close()   -- the session holds its own reference
  eq(#c:turn("气死我了!!!").rules, 0)
  assert(c:use_rules(nil))
  eq(c:turn("气死我了!!!", {time_ms = 1}).rules[1], "angry")
  assert(c:use_rules(assert(kefu.rules_compile(sm, RULES))))
  eq(c:turn("气死我了!!!", {time_ms = 2}).rules[1], "angry")
  -- the model closed (or collected) while sessions live: they go on,
  -- the model is freed with the last of them
  sm:close()
  eq(select(3, sm:classify("x")), kefu.E_STATE)
  eq(select(3, sm:session()), kefu.E_STATE)
  eq(a:turn("hello there", {time_ms = 10}).intent, "greeting")
  a:close(); b:close()
  sm = nil
  collectgarbage("collect")
  eq(c:turn("hello there", {time_ms = 10}).intent, "greeting")
  c = nil
  collectgarbage("collect")
  -- sessions left to the collector together with their model
  local m2 = assert(kefu.load_buffer(SESSION_MODEL))
  local keep = {}
  for i = 1, 5 do keep[i] = m2:session(); keep[i]:turn("hello") end
  m2, keep = nil, nil
  collectgarbage("collect")
end)

-- A minimal JSON reader for comparing with `kefu triage` output.
local function json_decode(str)
  local pos = 1
  local function ws() pos = str:find("[^ \t\r\n]", pos) or #str + 1 end
  local value
  local function utf8char(cp)
    if cp < 0x80 then return string.char(cp) end
    if cp < 0x800 then return string.char(0xC0 + math.floor(cp / 64), 0x80 + cp % 64) end
    if cp < 0x10000 then
      return string.char(0xE0 + math.floor(cp / 4096), 0x80 + math.floor(cp / 64) % 64, 0x80 + cp % 64)
    end
    return string.char(0xF0 + math.floor(cp / 262144), 0x80 + math.floor(cp / 4096) % 64,
                       0x80 + math.floor(cp / 64) % 64, 0x80 + cp % 64)
  end
  local function str_()
    local out = {}
    pos = pos + 1
    while true do
      local c = str:sub(pos, pos)
      if c == '"' then pos = pos + 1; return table.concat(out) end
      if c == "\\" then
        local e = str:sub(pos + 1, pos + 1)
        local map = {b = "\b", f = "\f", n = "\n", r = "\r", t = "\t"}
        if e == "u" then
          local cp = tonumber(str:sub(pos + 2, pos + 5), 16)
          pos = pos + 6
          if cp >= 0xD800 and cp < 0xDC00 then
            local lo = tonumber(str:sub(pos + 2, pos + 5), 16)
            cp = 0x10000 + (cp - 0xD800) * 1024 + (lo - 0xDC00)
            pos = pos + 6
          end
          out[#out + 1] = utf8char(cp)
        else
          out[#out + 1] = map[e] or e
          pos = pos + 2
        end
      else
        out[#out + 1] = c
        pos = pos + 1
      end
    end
  end
  function value()
    ws()
    local c = str:sub(pos, pos)
    if c == "{" then
      local t = {}
      pos = pos + 1; ws()
      if str:sub(pos, pos) == "}" then pos = pos + 1; return t end
      while true do
        ws(); local k = str_(); ws(); pos = pos + 1
        t[k] = value(); ws()
        local d = str:sub(pos, pos); pos = pos + 1
        if d == "}" then return t end
      end
    elseif c == "[" then
      local t = {}
      pos = pos + 1; ws()
      if str:sub(pos, pos) == "]" then pos = pos + 1; return t end
      while true do
        t[#t + 1] = value(); ws()
        local d = str:sub(pos, pos); pos = pos + 1
        if d == "]" then return t end
      end
    elseif c == '"' then return str_()
    elseif str:sub(pos, pos + 3) == "true" then pos = pos + 4; return true
    elseif str:sub(pos, pos + 4) == "false" then pos = pos + 5; return false
    elseif str:sub(pos, pos + 3) == "null" then pos = pos + 4; return nil
    else
      local num = str:match("^-?[%d%.eE+-]+", pos)
      pos = pos + #num
      return tonumber(num)
    end
  end
  return value()
end

test("session output matches kefu triage", function()
  local cli = ROOT .. "/build/default/bin/kefu"
  local conv = ROOT .. "/examples/conversations.jsonl"
  local model = ROOT .. "/examples/default-model.yaml"
  local f = io.open(cli) if not f then print("     (no kefu CLI; skipped)") return end
  f:close()
  local dm = kefu.load(model)
  if not dm then print("     (default model not loadable; skipped)") return end
  local p = assert(io.popen("'" .. cli .. "' triage -m '" .. model .. "' '" .. conv .. "'"))
  local want = {}
  for line in p:lines() do want[#want + 1] = json_decode(line) end
  p:close()
  local sessions, n = {}, 0
  for line in io.lines(conv) do
    local rec = json_decode(line)
    n = n + 1
    local s = sessions[rec.conversation]
    if not s then s = assert(dm:session()); sessions[rec.conversation] = s end
    local r = assert(s:turn(rec.text, {time_ms = rec.time_ms, channel = rec.channel,
                                      customer = rec.customer}))
    local w = want[n]
    local where = "line " .. n .. ": "
    eq(r.turn, w.turn, where .. "turn")
    eq(r.intent, w.intent, where .. "intent")
    near(r.confidence, w.confidence, 6e-5, where .. "confidence")
    eq(r.out_of_scope, w.out_of_scope, where .. "oos")
    eq(#r.entities, #w.entities, where .. "entities")
    for i, e in ipairs(r.entities) do
      eq(e.name, w.entities[i].name); eq(e.value, w.entities[i].value)
      eq(e.char_start, w.entities[i].chars[1]); eq(e.char_end, w.entities[i].chars[2])
      if w.entities[i].bytes then
        eq(e.byte_start, w.entities[i].bytes[1]); eq(e.byte_end, w.entities[i].bytes[2])
      end
    end
    eq(r.missing_slots, w.missing_slots, where .. "missing_slots")
    for _, c in ipairs(kefu.emotions) do near(r.emotion[c], w.emotion[c], 0.051, where .. c) end
    near(r.negativity, w.negativity, 0.051, where .. "negativity")
    near(r.level, w.level, 0.051, where .. "level")
    near(r.trend, w.trend, 0.0051, where .. "trend")
    eq(table.concat(r.rules, ","), table.concat(w.rules, ","), where .. "rules")
    eq(#r.actions, #w.actions, where .. "actions")
    for i, a in ipairs(r.actions) do
      for k, v in pairs(w.actions[i]) do eq(a[k], v, where .. "action " .. k) end
      for k, v in pairs(a) do eq(w.actions[i][k], v, where .. "action " .. k) end
    end
    eq(r.escalated, w.escalated, where .. "escalated")
    eq(r.locked, w.locked, where .. "locked")
    eq(table.concat(r.route.skills, ","), table.concat(w.route.skills, ","), where .. "skills")
    eq(r.route.queue, w.route.queue); eq(r.route.tier, w.route.tier)
    eq(r.route.priority, w.route.priority)
  end
  eq(n, #want, "line count")
  assert(n > 0)
  for _, s in pairs(sessions) do s:close() end
  dm:close()
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
