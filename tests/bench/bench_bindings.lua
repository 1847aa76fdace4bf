-- The Lua side of bench_bindings.sh (any of lua5.1, luajit, lua5.4).
local kefu = require "kefu"
local model_path, messages, passes = arg[1], arg[2], tonumber(arg[3])
local m = assert(kefu.load(model_path))
local msgs = {}
for line in io.lines(messages) do msgs[#msgs + 1] = line end
local best = {1e30, 1e30, 1e30}
local opts = {entities = false}
for _ = 1, passes do
  local t0 = os.clock()
  for i = 1, #msgs do m:classify(msgs[i], opts) end
  local t1 = os.clock()
  for i = 1, #msgs do m:emotion(msgs[i]) end
  local t2 = os.clock()
  local s = m:session()
  local turn = {time_ms = 0}
  for i = 1, #msgs do turn.time_ms = i * 1000; s:turn(msgs[i], turn) end
  local t3 = os.clock()
  s:close()
  best = {math.min(best[1], t1 - t0), math.min(best[2], t2 - t1), math.min(best[3], t3 - t2)}
end
local names = {"classify", "emotion", "turn"}
for i = 1, 3 do print(string.format("%s %.3f", names[i], best[i] / #msgs * 1e6)) end
