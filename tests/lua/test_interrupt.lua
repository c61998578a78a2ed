-- Ctrl-C in `aapmt batch`: the whole batch stops (the next experiment does
-- not start), the last completed step is checkpointed, the message says
-- which experiment was interrupted and that rerunning resumes it; the rerun
-- ends bit-identical to an uninterrupted run. Progress away from a
-- terminal: a line every few seconds and at each epoch's end, with a rate
-- counting only this process's steps.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local lfs = require "lfs"
local files = require "files"
local folder = require "aapmt.run_folder"
local a = aapmt

if os.getenv("AAPMT_SANITIZE") == "1" then
  print("skipped: the interrupt timing test runs in the release build only")
  os.exit(77)
end

local here = files.absolute(arg[0]:match("^(.*)/") or ".")
local tiny_model = here .. "/../../experiments/demo/tiny_model.json"
local aapmt_bin = files.absolute(arg[-1])
local tmp = os.tmpname()
os.remove(tmp)
assert(lfs.mkdir(tmp))
assert(lfs.mkdir(tmp .. "/exp"))

local function write_exp(name, epochs)
  folder.write_atomic(tmp .. "/exp/" .. name .. ".lua", string.format([[
return aapmt.experiment{
  database = {demo = {images = 160, size = 32, seed = 3, per_prompt = 2}},
  start = "random", model_config = %q, plot = false,
  train = {metrics = {"quality"}, epochs = %d, batch_size = 4, lr = 1e-3, loss = "mse", max_length = 24,
    threads = 1},
  evaluate = {tasks = {"quality"}, protocols = {"test"}},
}
]], tiny_model, epochs))
end
local EPOCHS, TOTAL = 20, 640   -- 128 training rows in batches of 4: 32 steps an epoch
write_exp("a_long", EPOCHS)
write_exp("b_next", 1)

local function command(runs)
  return string.format("cd %q && AAPMT_RUNS=%q AAPMT_CACHE=%q AAPMT_PROGRESS_SECONDS=1000 %q batch %q", tmp, runs,
    tmp .. "/cache", aapmt_bin, tmp .. "/exp")
end

local function lines_of(path)
  local n = 0
  for _ in (folder.read(path) or ""):gmatch("\n") do n = n + 1 end
  return n
end

-- The reference: uninterrupted.
local _, _, status = os.execute(command(tmp .. "/reference") .. " >/dev/null 2>" .. tmp .. "/reference.err")
check.eq(status, 0, "the uninterrupted batch: " .. (folder.read(tmp .. "/reference.err") or ""))
local err = folder.read(tmp .. "/reference.err")
-- progress away from a terminal: one line per epoch end (the interval is long here)
local progress_lines = 0
for _ in err:gmatch("train %d+/" .. TOTAL .. " steps") do progress_lines = progress_lines + 1 end
check.eq(progress_lines, EPOCHS + 1, "the first step and each epoch's end, not every step: " .. err)

-- Interrupted: started in the background, SIGINT once some steps are done.
local runs = tmp .. "/runs"
local steps_csv = runs .. "/a_long/train/steps.csv"
os.execute(string.format("(%s >%q 2>%q </dev/null; echo $? >%q) & echo $! >%q", command(runs), tmp .. "/out",
  tmp .. "/err", tmp .. "/status", tmp .. "/pid"))
local started = a.clock()
while lines_of(steps_csv) < 40 and a.clock() - started < 60 do os.execute("sleep 0.05") end
check.truthy(lines_of(steps_csv) >= 40, "the run got going")
-- the program is the shell's child; its pid is the one whose parent is that shell
local shell = folder.read(tmp .. "/pid"):match("%d+")
os.execute(string.format("pkill -INT -P %s -f %q", shell, aapmt_bin))
while not folder.exists(tmp .. "/status") and a.clock() - started < 120 do os.execute("sleep 0.05") end
local exit_status = tonumber((folder.read(tmp .. "/status") or ""):match("%d+"))
err = folder.read(tmp .. "/err") or ""
local out = folder.read(tmp .. "/out") or ""
check.eq(exit_status, 130, "Ctrl-C ends the batch with status 130: " .. out .. err)
check.truthy(err:find("interrupted: a_long; the batch stops here. Rerun the same command to go on", 1, true),
  "the message names the experiment and what to do: " .. err)
check.truthy(not err:find("missing:", 1, true) and not out:find("missing:", 1, true), "no missing-input advice")
check.truthy(not folder.exists(runs .. "/b_next"), "the next experiment did not start")
local state = folder.read_lua(runs .. "/a_long/train/checkpoints/state.lua")
local done = lines_of(steps_csv) - 1
check.truthy(state and state.step == done, string.format("the last completed step (%d) is checkpointed (state: %s)",
  done, state and state.step))
check.truthy(state.step < TOTAL, "it was interrupted before the end")

-- Rerun: it resumes, the next experiment runs, the result equals the reference.
local _, _, again = os.execute(command(runs) .. " >/dev/null 2>" .. tmp .. "/err2")
err = folder.read(tmp .. "/err2")
check.eq(again, 0, "the rerun: " .. err)
check.truthy(folder.read(runs .. "/a_long/train/log.txt"):find("from step " .. state.step, 1, true), "resumed")
check.truthy(err:find("train %d+/" .. TOTAL .. " steps"), "progress after the resume: " .. err)
for _, f in ipairs({"a_long/train/model.safetensors", "a_long/train/steps.csv", "b_next/train/model.safetensors"}) do
  check.truthy(folder.read(runs .. "/" .. f) == folder.read(tmp .. "/reference/" .. f), f .. " equals the uninterrupted run's")
end
-- Ctrl-C and Lua code, each case in its own process (the second Ctrl-C of
-- a process ends it): outside a hold it stops at the next instruction;
-- inside aapmt.hold_interrupts the held function finishes first; a pcall
-- that turns errors into messages does not swallow it (interrupts.pcall).
do
  -- Ctrl-C from a background shell (system() ignores SIGINT while it
  -- waits, so the signal must come after os.execute returns), then a wait
  -- long enough for it to arrive.
  local ctrl_c = [[os.execute("(sleep 0.1; kill -INT $PPID) &")
    local function wait() local t = aapmt.clock(); while aapmt.clock() - t < 3 do end end
  ]]
  local cases = {
    {"plain", ctrl_c .. [[local x = 0; local ok, e = pcall(function() wait(); x = 1 end)
      print(ok, e, x)]], "false\tinterrupted\t0"},
    {"held", ctrl_c .. [[local x = 0
      local ok, e = pcall(aapmt.hold_interrupts, function() wait(); x = 1 end)
      print(ok, e, x)]], "false\tinterrupted\t1"},
    {"held error", ctrl_c .. [[local ok, e = pcall(aapmt.hold_interrupts, function() wait(); error("own") end)
      print(ok, e)]], "false\tinterrupted"},
    {"interrupts.pcall", ctrl_c .. [[local interrupts = require "aapmt.interrupts"
      local ok, e = pcall(function()
        local inner_ok = interrupts.pcall(wait)
        print("swallowed", inner_ok)
      end)
      print(ok, e)]], "false\tinterrupted"},
  }
  for i, case in ipairs(cases) do
    local script = string.format("%s/case%d.lua", tmp, i)
    folder.write_atomic(script, case[2])
    local p = io.popen(string.format("%q run %q 2>/dev/null", aapmt_bin, script))
    local printed = p:read("a")
    p:close()
    check.eq(printed, case[3] .. "\n", case[1])
  end
end

-- The rate and ETA count only this process's steps: a run resumed at step
-- 200 of 600 that did one step in half a second is at 2 steps/s, 200 s to go.
do
  local progress = require "aapmt.progress"
  local clock, now = a.clock, 100
  a.clock = function() return now end
  local lines = {}
  local write = io.stderr.write
  local stderr = getmetatable(io.stderr).__index
  stderr.write = function(f, ...)
    if f == io.stderr then lines[#lines + 1] = table.concat({...}) return f end
    return write(f, ...)
  end
  local ok, why = pcall(function()
    local bar = progress.new(600, "steps", "", {done = 200})
    now = 100.5
    bar:step(201, nil, true)
    now = 101
    bar:step(202)   -- within the interval: no line
    now = 200
    bar:step(300)
  end)
  stderr.write, a.clock = write, clock
  check.truthy(ok, tostring(why))
  check.eq(#lines, 2, "a line for the milestone and one after the interval, none between: " .. table.concat(lines))
  check.truthy(lines[1]:find("201/600 steps  2.00 steps/s  ETA 200 s", 1, true), lines[1])
  check.truthy(lines[2]:find("300/600 steps  1.00 steps/s  ETA 300 s", 1, true), lines[2])
end

files.remove_tree(tmp)
