-- kefu_json.lua - the JSON lines of `kefu triage` (examples/cli/cmd_triage.c)
-- from the result table of the Lua module's s:turn(), byte for byte: same
-- keys, same order, same number formats.  Plain Lua 5.1 (LuaJIT, Kamailio's
-- app_lua) and 5.4; used by examples/nginx and examples/kamailio.
local format, concat, gsub, byte = string.format, table.concat, string.gsub, string.byte

local M = {}

-- A JSON string as the kefu command line writes it: UTF-8 as is, control
-- characters below 0x20 escaped (DEL, which %c also matches, is kept).
local escapes = { ['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }
local function js(s)
    return '"' .. gsub(s, '[%c"\\]', function(c)
        if escapes[c] then return escapes[c] end
        local b = byte(c)
        return b < 32 and format("\\u%04x", b) or c
    end) .. '"'
end

local function bool(b) return b and "true" or "false" end

local EMOTIONS = { "anger", "anxiety", "disappointment", "sadness", "fear", "joy" }

local function action_json(a)
    local t = { '{"type":"', a.type, '","rule":', js(a.rule) }
    if a.type == "escalate" then
        t[#t + 1] = ',"queue":' .. js(a.queue or "") .. ',"skill":' .. js(a.skill or "")
            .. ',"tier":' .. js(a.tier or "")
    elseif a.type == "priority" then
        if a.raise then t[#t + 1] = format(',"raise":%d', a.raise)
        else t[#t + 1] = format(',"set":%d', a.set) end
    elseif a.type == "suggest" then t[#t + 1] = ',"script":' .. js(a.script or "")
    elseif a.type == "flag" then t[#t + 1] = ',"reason":' .. js(a.reason or "")
    elseif a.type == "tag" then t[#t + 1] = ',"tag":' .. js(a.tag or "")
    end
    t[#t + 1] = "}"
    return concat(t)
end

-- The output line of `kefu triage` (examples/cli/cmd_triage.c), same keys,
-- same order, same number formats.
function M.triage(id, r)
    local o = { '{"conversation":', js(id), format(',"turn":%d,"intent":', r.turn),
                js(r.intent), format(',"confidence":%.4f,"out_of_scope":%s,"entities":[',
                r.confidence, bool(r.out_of_scope)) }
    for i, e in ipairs(r.entities) do
        o[#o + 1] = format('%s{"name":%s,"value":%s,"bytes":[%d,%d],"chars":[%d,%d]}',
            i > 1 and "," or "",
            js(e.name), js(e.value), e.byte_start, e.byte_end, e.char_start, e.char_end)
    end
    o[#o + 1] = format('],"missing_slots":%d,"emotion":{', r.missing_slots)
    for i, c in ipairs(EMOTIONS) do
        o[#o + 1] = format('%s"%s":%.1f', i > 1 and "," or "", c, r.emotion[c])
    end
    o[#o + 1] = format('},"negativity":%.1f,"level":%.1f,"trend":%.2f,"rules":[',
        r.negativity, r.level, r.trend)
    for i, name in ipairs(r.rules) do
        o[#o + 1] = (i > 1 and "," or "") .. js(name)
    end
    o[#o + 1] = '],"actions":['
    for i, a in ipairs(r.actions) do
        o[#o + 1] = (i > 1 and "," or "") .. action_json(a)
    end
    o[#o + 1] = format('],"escalated":%s,"locked":%s,"route":{"skills":[',
        bool(r.escalated), bool(r.locked))
    for i, s in ipairs(r.route.skills) do
        o[#o + 1] = (i > 1 and "," or "") .. js(s)
    end
    o[#o + 1] = format('],"queue":%s,"tier":%s,"priority":%d}}', js(r.route.queue),
        js(r.route.tier), r.route.priority)
    return concat(o)
end


-- {"conversation":...,"error":...,"status":N}: kefu triage's error line
-- (the conversation only when the id is a string, as there).
function M.error(id, msg, code)
    local head = type(id) == "string" and ('{"conversation":' .. js(id) .. ',') or "{"
    return format('%s"error":%s,"status":%d}', head, js(msg), code)
end

M.string = js
return M
