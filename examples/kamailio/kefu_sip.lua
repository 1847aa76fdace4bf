-- kefu_sip.lua - chat over SIP (MESSAGE requests) triaged by kefu inside
-- Kamailio's app_lua (KEMI: Kamailio calls ksr_request_route for every
-- request).  Plain Lua 5.1, no FFI.  See doc/hosts.md.
--
-- For each MESSAGE with a text/plain body:
--   * the conversation is the From user; its session is restored from a
--     blob kept (hex) in the shared-memory htable `kefu`, the message is
--     triaged, the session is dumped back;
--   * the bot keeps the conversation (not escalated): 200 OK with the
--     triage in X-Kefu-* headers and the `kefu triage` JSON line as body;
--   * a human is needed (escalated): the MESSAGE is relayed, with the
--     X-Kefu-* headers added, to sip:QUEUE@$KEFU_AGENTS (the agents'
--     desk; QUEUE is the routing request's queue, "agents" when none),
--     and the agent's answer goes back to the customer; without
--     KEFU_AGENTS it is rejected with 480;
--   * bad input (empty or non-UTF-8 text, another content type): 4xx.
-- Optional request headers a gateway in front may add: X-Time-Ms (the
-- host clock; default: now), X-Channel, X-Customer-Tier,
-- X-Customer-Value, X-Customer-Risk.
--
-- Kamailio runs this file in every process (SIP workers, timers, the
-- main process), so loading it only sets paths: the model is loaded on
-- the first MESSAGE a worker handles.

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local root = os.getenv("KEFU_ROOT") or (here .. "/../..")
package.cpath = (os.getenv("KEFU_LUA_CPATH") or (root .. "/build/lua5.1/?.so")) .. ";" .. package.cpath
package.path = root .. "/examples/lua/?.lua;" .. package.path

local MODEL = os.getenv("KEFU_MODEL") or (root .. "/examples/default-model.yaml")
local AGENTS = os.getenv("KEFU_AGENTS")   -- host:port of the agents' desk
local HT = "kefu"                        -- modparam("htable", "htable", "kefu=>...")

local kefu, kjson, model, session, blank, load_error

-- The model, once per process, on first use.
local function ready()
    if model then return true end
    if load_error then return false end
    local ok, mod = pcall(require, "kefu")
    if not ok then
        load_error = "cannot load the kefu module: " .. tostring(mod)
    else
        kefu, kjson = mod, require("kefu_json")
        local m, err = kefu.load(MODEL)
        if not m then
            load_error = "cannot load " .. MODEL .. ": " .. tostring(err)
        else
            model = m
            session = m:session()      -- reused: restore replaces its state
            blank = session:dump()
        end
    end
    if load_error then KSR.err("kefu: " .. load_error .. "\n") end
    return model ~= nil
end

local function tohex(s)
    return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end
local function fromhex(h)
    return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end))
end

local function hdr(name)
    local v = KSR.pv.get("$hdr(" .. name .. ")")
    if v == nil or v == "" then return nil end
    return v
end

-- Header values stay on one line.
local function clean(s)
    return (tostring(s):gsub("[%c]", " "))
end

-- Answers statefully when the request has a transaction (MESSAGE: tm then
-- absorbs retransmissions and resends this answer), else statelessly.
local stateful = false
local function reply(code, reason, headers, body, ctype)
    for _, h in ipairs(headers or {}) do
        KSR.hdr.append_to_reply(h .. "\r\n")
    end
    if body then KSR.textops.set_reply_body(body, ctype or "text/plain") end
    if stateful then
        KSR.tm.t_reply(code, reason)
    else
        KSR.sl.sl_send_reply(code, reason)
    end
    return KSR.x.exit()
end

local function now_ms()
    local tv = KSR.pv.get("$TV(Sn)")   -- "seconds.microseconds"
    local ms = tv and tonumber(tv) and math.floor(tonumber(tv) * 1000)
    return ms or os.time() * 1000
end

-- A numeric header: nil when absent, false when it is not a number in
-- [lo, hi] (answered 400: a mistyped header is not read as 0).
local function num_hdr(name, lo, hi)
    local v = hdr(name)
    if v == nil then return nil end
    local x = tonumber(v)
    if not x or x ~= x or x < lo or x > hi then return false end
    return x
end

local function triage_message()
    -- A transaction first: a UDP retransmission of a MESSAGE being (or
    -- already) answered is absorbed by tm instead of being triaged as
    -- the conversation's next message.
    local rc = KSR.tm.t_newtran()
    if rc == 0 then return KSR.x.exit() end     -- retransmission
    if rc < 0 then
        KSR.sl.sl_reply_error()
        return KSR.x.exit()
    end
    stateful = true
    local ctype = (hdr("Content-Type") or "text/plain"):lower()
    if not ctype:match("^text/plain") then
        return reply(415, "Unsupported Media Type", { "Accept: text/plain" })
    end
    local text = KSR.pv.get("$rb") or ""
    if text == "" then
        return reply(400, "Empty Message", { "X-Kefu-Error: the message has no text" })
    end
    if not ready() then
        return reply(500, "Triage Unavailable", { "X-Kefu-Error: " .. clean(load_error) })
    end
    local conv = KSR.pv.get("$fU") or KSR.pv.get("$ci") or ""
    local time_ms = num_hdr("X-Time-Ms", -2^53, 2^53)
    local tier, value, risk = hdr("X-Customer-Tier"), num_hdr("X-Customer-Value", -1e300, 1e300),
                              hdr("X-Customer-Risk")
    if time_ms == false or value == false then
        return reply(400, "Bad Header", { "X-Kefu-Error: " .. (time_ms == false and
            "X-Time-Ms must be a number of milliseconds" or "X-Customer-Value must be a number") })
    end
    local opts = {
        time_ms = time_ms or now_ms(),
        channel = hdr("X-Channel") or "messaging",
    }
    if tier or value or risk then
        opts.customer = { tier = tier, value = value or 0, risk = risk }
    end

    -- One message of a conversation at a time across all processes.
    local key = "c:" .. conv
    KSR.htable.sht_lock(HT, key)
    local stored = KSR.htable.sht_get(HT, key)
    local ok = session:restore(stored and fromhex(stored) or blank)
    if not ok then session:restore(blank) end   -- damaged: start afresh
    local r, err, code = session:turn(text, opts)
    if r then KSR.htable.sht_sets(HT, key, tohex(session:dump())) end
    KSR.htable.sht_unlock(HT, key)
    if not r then
        return reply(400, "Bad Message", { "X-Kefu-Error: " .. clean(err),
                                           "X-Kefu-Status: " .. tostring(code) })
    end

    local rt = r.route
    local headers = {
        "X-Kefu-Intent: " .. clean(r.intent),
        string.format("X-Kefu-Confidence: %.4f", r.confidence),
        "X-Kefu-Escalated: " .. (r.escalated and "yes" or "no"),
        "X-Kefu-Locked: " .. (r.locked and "yes" or "no"),
        string.format("X-Kefu-Route: queue=%s;tier=%s;priority=%d;skills=%s",
            clean(rt.queue), clean(rt.tier), rt.priority, clean(table.concat(rt.skills, ","))),
        string.format("X-Kefu-Turn: %d", r.turn),
        "X-Kefu-Worker: " .. tostring(KSR.pv.get("$pp")),
    }
    if not r.escalated then
        return reply(200, "OK", headers, kjson.triage(conv, r) .. "\n", "application/json")
    end
    -- A human takes it: relay to the agents of the requested queue.
    if not AGENTS then
        return reply(480, "No Agents Configured", headers)
    end
    for _, h in ipairs(headers) do KSR.hdr.append(h .. "\r\n") end
    local queue = rt.queue ~= "" and rt.queue or "agents"
    KSR.pv.sets("$ru", "sip:" .. queue .. "@" .. AGENTS)
    if KSR.tm.t_relay() < 0 then
        KSR.tm.t_reply(500, "Relay Failed")
    end
    return KSR.x.exit()
end

function ksr_request_route()
    stateful = false
    local method = KSR.pv.get("$rm")
    if method == "MESSAGE" then
        return triage_message()
    elseif method == "OPTIONS" then
        return reply(200, "OK", { "Allow: MESSAGE, OPTIONS" })
    elseif method == "ACK" then
        return KSR.x.exit()
    end
    return reply(405, "Method Not Allowed", { "Allow: MESSAGE, OPTIONS" })
end
