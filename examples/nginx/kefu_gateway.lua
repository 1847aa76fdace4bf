-- kefu_gateway.lua - a chat triage endpoint for nginx with the Lua module
-- (OpenResty's lua-nginx-module, LuaJIT inside).  See doc/hosts.md.
--
--   POST /triage   body: one input line of `kefu triage`
--     {"conversation": "c1", "text": "...", "time_ms": 0, "channel": "chat",
--      "customer": {"tier": "vip", "value": 1200, "risk": "high"},
--      "wait_ms": ..., "external_emotion": ..., "contacts_7d": ...,
--      "bot_failed": true, "facts": {...}}
--   answer: the output line `kefu triage` prints for it, byte for byte
--   (intent, entities, emotion, rules, actions, escalated, locked, route).
--
-- Each worker loads the model once (init_worker).  A conversation's
-- session lives between requests as a blob in the lua_shared_dict
-- `kefu_sessions`, so any worker can take the next message: restore
-- before the turn, dump after it.  A small lock per conversation (in
-- `kefu_locks`) keeps two messages of one conversation from racing.
local kefu = require "kefu"
local cjson = require "cjson.safe"
local kjson = require "kefu_json"   -- examples/lua: kefu triage's JSON lines

local _M = {}

local model, session, blank   -- per worker
local sessions = ngx.shared.kefu_sessions
local locks = ngx.shared.kefu_locks
local SESSION_TTL = 24 * 3600  -- seconds a quiet conversation is kept
local last_full_warning = 0
local format = string.format
local triage_json = kjson.triage

-- Called by init_worker_by_lua_block in every worker, with the model path
-- written in nginx.conf.
function _M.init_worker(model_path)
    local m, err = kefu.load(model_path)
    if not m then
        ngx.log(ngx.ERR, "kefu: cannot load model ", model_path, ": ", err)
        return
    end
    model = m
    -- One session object per worker, reused for every request: restoring a
    -- blob replaces its whole state, and `blank` is a new conversation.
    session = m:session()
    blank = session:dump()
end

local function reply(status, body)
    ngx.status = status
    ngx.header["Content-Type"] = "application/json"
    ngx.print(body, "\n")
    return ngx.exit(status)
end

-- {"conversation":...,"error":...,"status":N} as kefu triage writes it.
local function error_reply(http, id, msg, code)
    return reply(http, kjson.error(id, msg, code))
end

local KEFU_E_ARG, KEFU_E_SYNTAX, KEFU_E_TYPE = -2, -6, -11

local str_of = { number = "a number", string = "a string" }
local EXACT = 2^53   -- whole numbers a double holds

-- A field of `t`: nil when absent, else its value when it has the type
-- (and for numbers the range), else nil and kefu triage's message.
local function field(t, k, kind, lo, hi)
    local x = t[k]
    if x == nil then return nil end
    if kind == "number" then
        if type(x) ~= "number" or not (x >= lo and x <= hi) then
            -- %.16g as kefu triage writes the bounds
            return nil, format('"%s" must be a number from %.16g to %.16g', k, lo, hi)
        end
    elseif type(x) ~= kind then
        return nil, format('"%s" must be %s', k, str_of[kind])
    end
    return x
end

-- The turn options of the Lua module from a kefu triage input object, or
-- nil and kefu triage's message for a field of the wrong type or range.
local function turn_options(v)
    local o, err = {}
    o.time_ms, err = field(v, "time_ms", "number", -EXACT, EXACT)
    if err then return nil, err end
    o.wait_ms, err = field(v, "wait_ms", "number", -EXACT, EXACT)
    if err then return nil, err end
    o.external_emotion, err = field(v, "external_emotion", "number", -1, 100)
    if err then return nil, err end
    o.contacts_7d, err = field(v, "contacts_7d", "number", 0, 4294967295)
    if err then return nil, err end
    o.channel, err = field(v, "channel", "string")
    if err then return nil, err end
    o.time_ms = o.time_ms or 0
    if v.bot_failed ~= nil and type(v.bot_failed) ~= "boolean" then
        return nil, '"bot_failed" must be true or false'
    end
    o.bot_failed = v.bot_failed == true
    local c = v.customer
    if c == nil then return o end
    if type(c) ~= "table" then return nil, '"customer" must be an object' end
    local cust = {}
    cust.tier, err = field(c, "tier", "string")
    if err then return nil, err end
    cust.value, err = field(c, "value", "number", -1e300, 1e300)
    if err then return nil, err end
    cust.value = cust.value or 0
    local risk = c.risk
    if type(risk) == "table" then
        if #risk > 32 then
            return nil, '"risk" must be a string or a list of at most 32 strings'
        end
        for _, x in ipairs(risk) do
            if type(x) ~= "string" then
                return nil, '"risk" must be a string or a list of strings'
            end
        end
    elseif risk ~= nil and type(risk) ~= "string" then
        return nil, '"risk" must be a string or a list of at most 32 strings'
    end
    cust.risk = risk
    o.customer = cust
    return o
end

-- Host facts (`facts`) keep their values for the rest of a conversation,
-- as in kefu triage.  A session blob does not carry them and restoring a
-- blob does not clear them, so the gateway keeps each conversation's
-- facts as JSON next to its blob and resets the worker's session to
-- exactly those before every turn (otherwise one conversation's facts
-- would leak into the next conversation this worker serves).
local session_facts = {}   -- names currently set on the worker's session

-- Resets the session's host facts to `stored` (decoded JSON or nil), then
-- applies the request's `facts`; returns the merged table (nil when
-- empty) or nil, the library's error message and its status.
local function load_facts(stored, facts)
    for name in pairs(session_facts) do session:set_fact(name, nil) end
    session_facts = {}
    local merged = {}
    for k, x in pairs(stored or {}) do merged[k] = x end
    for k, x in pairs(facts or {}) do
        if x == cjson.null then merged[k] = nil else merged[k] = x end
    end
    local any = false
    for k, x in pairs(merged) do
        local ok, err, code = session:set_fact(k, x)
        if not ok then return nil, err, code end
        session_facts[k] = true
        any = true
    end
    return any and merged or nil
end

local function lock(key)
    for _ = 1, 500 do   -- at most ~1 s
        if locks:add(key, true, 5) then return true end
        ngx.sleep(0.002)
    end
    return false
end

function _M.triage()
    if ngx.req.get_method() ~= "POST" then
        return error_reply(405, nil, "POST a JSON object", KEFU_E_ARG)
    end
    if not model then
        return error_reply(503, nil, "model not loaded (see the error log)", -7)
    end
    ngx.req.read_body()
    local body = ngx.req.get_body_data()
    if not body then
        return error_reply(400, nil, "empty body (or larger than client_body_buffer_size)",
            KEFU_E_SYNTAX)
    end
    local v, perr = cjson.decode(body)
    if type(v) ~= "table" then
        return error_reply(400, nil, v and "a line must be a JSON object" or perr,
            KEFU_E_SYNTAX)
    end
    local id = v.conversation
    if type(v.text) ~= "string" then
        return error_reply(400, id, '"text" (a string) is required', KEFU_E_ARG)
    end
    if id ~= nil and type(id) ~= "string" and
       not (type(id) == "number" and id == math.floor(id) and math.abs(id) <= 2^53) then
        -- an object, a fraction ... would otherwise join another conversation
        return error_reply(400, nil, '"conversation" must be a string or a whole number', KEFU_E_ARG)
    end
    local conv_id = type(id) == "number" and format("%.0f", id) or id or ""
    local opts, terr = turn_options(v)
    if not opts then
        return error_reply(400, id, terr, KEFU_E_ARG)
    end

    local key = "c:" .. conv_id
    if not lock(key) then
        return error_reply(503, id, "conversation busy", -14)
    end
    local blob = sessions:get(key)
    local ok, err, code = session:restore(blob or blank)
    if not ok then   -- a damaged blob: the conversation starts again
        ngx.log(ngx.WARN, "kefu: session ", conv_id, ": ", err, "; starting afresh")
        session:restore(blank)
    end
    local fkey = "f:" .. conv_id
    local stored_facts = blob and sessions:get(fkey)
    local facts
    if v.facts ~= nil and type(v.facts) ~= "table" then
        locks:delete(key)
        return error_reply(400, id, '"facts" must be an object', KEFU_E_TYPE)
    end
    facts, err, code = load_facts(stored_facts and cjson.decode(stored_facts), v.facts)
    if err then
        locks:delete(key)
        return error_reply(400, id, err, code or KEFU_E_TYPE)
    end
    local r
    r, err, code = session:turn(v.text, opts)
    if not r then
        locks:delete(key)
        return error_reply(400, id, err, code or KEFU_E_ARG)
    end
    local stored, serr, forcible = sessions:set(key, session:dump(), SESSION_TTL)
    if stored and facts then
        sessions:set(fkey, cjson.encode(facts), SESSION_TTL)
    elseif stored then
        sessions:delete(fkey)
    end
    locks:delete(key)
    if not stored then
        ngx.log(ngx.ERR, "kefu: cannot keep session ", conv_id, ": ", serr)
    elseif forcible and ngx.now() - last_full_warning >= 60 then
        last_full_warning = ngx.now()   -- once a minute per worker
        ngx.log(ngx.WARN, "kefu: kefu_sessions is full; the least recently used ",
                "sessions are being evicted (make lua_shared_dict kefu_sessions larger)")
    end
    return reply(200, triage_json(conv_id, r))
end

return _M
