-- One process per folder: a training holds its run folder and a batch its
-- experiments' folders for their whole lives, and a second one on the same
-- folder is refused at once, naming the folder and the holder's pid (the
-- holders here are child processes held mid-run on their stdin); a lock
-- left by a dead process never blocks; the shared cache of drawn demo
-- databases never shows a half-drawn folder, even when its drawer is killed.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local lfs = require "lfs"
local files = require "files"
local folder = require "aapmt.run_folder"
local train = require "aapmt.train"
local database = require "aapmt.experiment_database"
local a = aapmt

a.set_num_threads(1)
local absolute = files.absolute
local here = absolute(arg[0]:match("^(.*)/") or ".")
local fixtures = here .. "/../fixtures"
local aapmt_bin = absolute(arg[-1])
local tmp = os.tmpname()
os.remove(tmp)
assert(lfs.mkdir(tmp))

local function sleep(seconds) os.execute("sleep " .. seconds) end

-- Waits (at most 60 s) until path exists; its text then.
local function wait_for(path, what)
  for _ = 1, 3000 do
    local text = folder.read(path)
    if text and text:find("\n") then return text end
    sleep(0.02)
  end
  error("timed out waiting for " .. what, 2)
end

-- A child `aapmt run` of script (Lua text) with its stdin a pipe from here:
-- closing the pipe lets a child that waits on its stdin go on.
local function start_child(name, script)
  local path = tmp .. "/" .. name .. ".lua"
  folder.write_atomic(path, script)
  local pipe = assert(io.popen(string.format("OMP_NUM_THREADS=1 AAPMT_RUNS=%q %q run %q >%q 2>&1", tmp .. "/runs",
    aapmt_bin, path, tmp .. "/" .. name .. ".out"), "w"))
  return pipe, tmp .. "/" .. name .. ".out"
end

-- Lua text for a child: a hook that, at the first step, writes the
-- child's pid to marker and waits on stdin.
local function hold_at_first_step(marker)
  return string.format([[
local function hold(info)
  if info.step == 1 then
    local pid = io.open("/proc/self/stat"):read("a"):match("^(%%d+)")
    local f = io.open(%q, "w")
    f:write(pid, "\n")
    f:close()
    io.read("a")
  end
end
]], marker)
end

-- ---- the binding ----
do
  local path = tmp .. "/held.lock"
  local lock = assert(a.lock_file(path))
  local pid = tonumber(folder.read(path))
  local again, why, holder = a.lock_file(path)
  check.eq(again, nil, "a second lock of one file is refused")
  check.eq(holder, pid, "it names the holder's pid")
  check.truthy(why:find(path, 1, true) and why:find("locked by process " .. pid, 1, true), "the message: " .. why)
  lock:release()
  lock:release()
  check.truthy(not folder.exists(path), "release removes the lock file")
  do
    local closing <close> = assert(a.lock_file(path, {wait = true}))
    check.eq(select(3, a.lock_file(path)), pid, "held inside the block")
  end
  check.truthy(a.lock_file(path), "released on leaving the block")
  check.raises(function() a.lock_file(path, {wiat = true}) end, "unknown option 'wiat'")
end

-- ---- a training holds its run folder ----
local rows = {}
for i, f in ipairs({"rgb_224x224.jpg", "rgb_32x33.png", "grey.jpg", "palette_50x40.png"}) do
  rows[i] = {name = f, image = fixtures .. "/image/" .. f, prompt = i <= 2 and "a red cat" or "a blue boat",
    targets = {mos_quality = i / 2}}
end
local function cfg(out)
  return {model = {config = fixtures .. "/train_run/tiny_config.json", seed = 7},
    vocab = fixtures .. "/tokenizer/vocab.txt", train = rows, test = rows, metrics = {"quality"},
    optimizer = {kind = "adam", lr = 1e-3}, epochs = 2, batch_size = 2, seed = 11, out = out, progress = false}
end

do
  local out, marker = tmp .. "/run", tmp .. "/run.pid"
  folder.write_atomic(tmp .. "/run_cfg.lua", "return " .. folder.lua_value(cfg(out)) .. "\n")
  local child, child_out = start_child("train_child", hold_at_first_step(marker) .. string.format([[
local cfg = dofile(%q)
cfg.on_step = hold
require("aapmt.train").run(cfg)
]], tmp .. "/run_cfg.lua"))
  local pid = math.tointeger(tonumber(wait_for(marker, "the training child's first step")))
  local t0 = a.clock()
  local ok, err = pcall(train.run, cfg(out))
  check.truthy(not ok, "a second training in a held folder is refused")
  check.truthy(a.clock() - t0 < 5, "at once")
  check.truthy(tostring(err):find("train.run: " .. out .. " is in use by process " .. pid, 1, true),
    "the refusal names the folder and the holder's pid: " .. tostring(err))
  check.truthy(child:close(), "the holder goes on and ends well: " .. (folder.read(child_out) or ""))
  local log = folder.read(out .. "/log.txt")
  local _, starts = log:gsub(" start: ", "")
  check.eq(starts, 1, "the folder holds one run: " .. log)
  check.eq(require("aapmt.train_checkpoint").read_state(out).step, 4, "the holder's run ran to its end")
  check.truthy(not folder.exists(out .. "/.lock"), "the lock file goes with the run")

  -- A lock file a killed run left (naming a pid that no longer runs) never blocks.
  folder.write_atomic(out .. "/.lock", pid .. "\n")
  local again = cfg(out)
  again.resume = true
  check.eq(train.run(again).steps, 4, "a stale lock file does not block")
end

-- ---- a batch holds its experiments' folders ----
do
  local csv, runs = tmp .. "/ratings.csv", tmp .. "/runs"
  local lines = {"name,prompt,mos_quality\n"}
  for _, r in ipairs(rows) do
    lines[#lines + 1] = string.format("%s,%s,%g\n", r.name, r.prompt, r.targets.mos_quality)
  end
  folder.write_atomic(csv, table.concat(lines))
  local exp = tmp .. "/held_exp.lua"
  folder.write_atomic(exp, string.format([[
return aapmt.experiment{
  database = {kind = "csv", csv = %q, images = %q, targets = {"mos_quality"}},
  model_config = %q, vocab = %q, split = {train_fraction = 0.5}, plot = false,
  start = "random", train = {metrics = {"quality"}, epochs = 1, batch_size = 2, lr = 1e-3},
}
]], csv, fixtures .. "/image", fixtures .. "/train_run/tiny_config.json", fixtures .. "/tokenizer/vocab.txt"))
  local marker = tmp .. "/batch.pid"
  local child, child_out = start_child("batch_child", hold_at_first_step(marker) .. string.format([[
local train = require "aapmt.train"
local run = train.run
train.run = function(cfg)
  cfg.on_step = hold
  return run(cfg)
end
local _, failures = require("aapmt.batch").run({%q}, {}, {runs_dir = %q})
os.exit(failures == 0 and 0 or 1)
]], exp, runs))
  local pid = math.tointeger(tonumber(wait_for(marker, "the batch child's first step")))
  local err_path = tmp .. "/batch2.err"
  local t0 = a.clock()
  local _, _, status = os.execute(string.format("AAPMT_RUNS=%q %q batch %q >%q 2>%q </dev/null", runs, aapmt_bin, exp,
    tmp .. "/batch2.out", err_path))
  local err = folder.read(err_path) or ""
  check.eq(status, 1, "a second batch of a held experiment is refused: " .. err)
  check.truthy(a.clock() - t0 < 30, "before any work")
  check.truthy(err:find("experiment 'held_exp': " .. runs .. "/held_exp is in use by process " .. pid, 1, true),
    "the refusal names the experiment's folder and the holder's pid: " .. err)
  check.truthy(not err:find("run held_exp", 1, true), "nothing was run: " .. err)
  check.truthy(child:close(), "the holding batch goes on and ends well: " .. (folder.read(child_out) or ""))
  check.truthy(folder.exists(runs .. "/held_exp/result.lua"), "its result is there")
  check.truthy(not folder.exists(runs .. "/.held_exp.lock") and not folder.exists(runs .. "/.summary.lock"),
    "no lock file is left")
end

-- ---- the shared cache of drawn demo databases ----
do
  local runs = tmp .. "/db_runs"
  local spec = {database = {demo = {images = 400, size = 32}}}
  local db = database.resolve(nil, spec, {runs = runs})
  local function complete(dir)
    local csv = folder.read(dir .. "/demo.csv")
    if not (csv and folder.exists(dir .. "/vocab.txt")) then return false end
    local _, n = csv:gsub("\n", "")
    local images = 0
    for name in lfs.dir(dir .. "/images") do
      if name:find("%.png$") then images = images + 1 end
    end
    return n - 1 == 400 and images == 400
  end
  -- A drawer killed halfway: its folder, watched throughout, is never there half drawn.
  local marker = tmp .. "/draw.pid"
  local function kill_while_drawing()
    os.remove(marker)
    local child = start_child("draw_child", string.format([[
local f = io.open(%q, "w")
f:write(io.open("/proc/self/stat"):read("a"):match("^(%%d+)"), "\n")
f:close()
local database = require "aapmt.experiment_database"
database.draw(database.resolve(nil, %s, {runs = %q}))
]], marker, folder.lua_value(spec), runs))
    local pid = math.tointeger(tonumber(wait_for(marker, "the drawing child")))
    local began, half_seen = false, false
    for _ = 1, 3000 do
      if folder.exists(db.dir) and not complete(db.dir) then half_seen = true end
      if folder.exists(db.dir .. ".partial/images") or folder.exists(db.dir .. "/images") then
        began = true
        break
      end
      sleep(0.01)
    end
    check.truthy(began, "the child began drawing")
    os.execute("kill -KILL " .. pid)
    child:close()
    return pid, half_seen
  end
  local pid, half_seen
  for _ = 1, 3 do
    pid, half_seen = kill_while_drawing()
    if half_seen or not (folder.exists(db.dir) and complete(db.dir)) then break end
    folder.remove_tree(db.dir)   -- drawn whole before the kill came: again
  end
  check.truthy(not half_seen and not folder.exists(db.dir),
    "the killed drawing left no half-drawn database under its name")
  check.eq(tonumber(folder.read(db.dir .. ".lock") or ""), pid, "the killed drawer's lock file is left, naming it")
  -- The next process draws it whole, through the dead drawer's leftovers.
  database.draw(db)
  check.truthy(complete(db.dir), "drawn whole after a killed drawing")
  check.truthy(not folder.exists(db.dir .. ".partial") and not folder.exists(db.dir .. ".lock"),
    "nothing left beside it")

    -- Two drawers at the same moment: both end well, with one whole database.
  folder.remove_tree(db.dir)
  local a1, out1 = start_child("draw_a", string.format([[
local database = require "aapmt.experiment_database"
database.draw(database.resolve(nil, %s, {runs = %q}))
]], folder.lua_value(spec), runs))
  local a2, out2 = start_child("draw_b", folder.read(tmp .. "/draw_a.lua"))
  check.truthy(a1:close(), "the first drawer ends well: " .. (folder.read(out1) or ""))
  check.truthy(a2:close(), "the second drawer ends well: " .. (folder.read(out2) or ""))
  check.truthy(complete(db.dir), "one whole database")
end

files.remove_tree(tmp)
print("folder locks: ok")
