-- Faults in a training run (the tiny model of test_train_run.lua):
--   1. SIGKILL at random moments, from outside, many times: every kill
--      leaves a loadable checkpoint, and resuming until done ends bit-
--      identical to an uninterrupted run (model, steps.csv, epochs.csv).
--   2. A full disk while writing (a private tmpfs, or a file-size limit
--      where no tmpfs can be mounted): the run stops with an error naming
--      the file and the cause, the previous checkpoint stays intact, and
--      resuming with space ends bit-identical.
--   3. A training image deleted mid-run: an error naming the image (the
--      synchronous source and the background loader); the checkpoint before
--      is intact and the run resumes once the image is back.
--   4. Impossible sizes: allocations beyond memory or past 2^64 bytes, and a
--      training batch beyond a memory limit, end in "out of memory" naming
--      the shape, never in a crash.
-- The kills come from a seeded generator, so a failure can be replayed.
-- Checks marked PENDING wait for a fix in train.lua/run_folder.lua; they are
-- collected and reported together at the end (the test fails until then).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local lfs = require "lfs"
local folder = require "aapmt.run_folder"
local train = require "aapmt.train"
local checkpoints = require "aapmt.train_checkpoint"
local a = aapmt

a.set_num_threads(2)
local sanitize = os.getenv("AAPMT_SANITIZE") == "1"
local aapmt_bin = arg[-1]
local here = arg[0]:match("^(.*)/") or "."
local fixtures = here .. "/../fixtures"
local config = fixtures .. "/train_run/tiny_config.json"
local vocab = fixtures .. "/tokenizer/vocab.txt"
local image_dir = fixtures .. "/image"

local tmp = os.tmpname()
os.remove(tmp)
assert(lfs.mkdir(tmp))
local t0 = a.clock()

local pending = {}
local function pending_check(ok, what)
  if not ok then
    pending[#pending + 1] = what
    io.stderr:write("PENDING (awaits a fix in train.lua/run_folder.lua): ", what, "\n")
  end
end

local function sh(cmd)
  local ok, how, code = os.execute(cmd)
  return ok, how, code
end

local function q(s) return string.format("%q", s) end

-- ---- the run ----

local files = {"rgb_224x224.jpg", "rgb_32x33.png", "grey.jpg", "palette_50x40.png", "rgb_37x23.png",
  "rgba_45x67.png", "rgb_35x32.png", "la_40x52.png"}
local function make_rows(dir)
  local rows = {}
  for i, f in ipairs(files) do
    rows[i] = {name = f, image = dir .. "/" .. f, prompt = ({"a red cat", "a blue boat", "two dogs", "a house"})[(i + 1) // 2],
      targets = {mos_quality = (i * 37 % 8) / 2}}
  end
  return rows
end
local rows = make_rows(image_dir)

-- 16 steps, a checkpoint every 3 (so a kill loses steps that are redone),
-- a test evaluation every epoch.
local function cfg(out, extra)
  local c = {model = {config = config, seed = 7}, vocab = vocab, train = rows, test = rows,
    metrics = {"quality"}, optimizer = {kind = "adam", lr = 1e-3}, epochs = 4, batch_size = 2,
    checkpoint_every = 3, seed = 11, out = out, progress = false, threads = 2}
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end
local total_steps = 16

-- A child `aapmt run` of the config in a file; arg[2] = "loader" uses the
-- background loader.
local child = tmp .. "/child.lua"
folder.write_atomic(child, [[
aapmt.set_num_threads(2)
local train = require "aapmt.train"
local cfg = dofile(arg[1])
if arg[2] == "loader" then cfg.source = train.loader_source{workers = 2, prefetch = 2} end
if arg[2] == "kill_in_save" then
  -- A killer started as the n-th file write of the run (safetensors or an
  -- atomic text file) begins, to land inside it or just after.
  local folder = require "aapmt.run_folder"
  local pid = io.open("/proc/self/stat"):read("a"):match("^(%d+)")
  local count, n = 0, tonumber(arg[3])
  local function armed(fn)
    return function(...)
      count = count + 1
      if count == n then os.execute(string.format("(sleep %s; kill -KILL %s) &", arg[4], pid)) end
      return fn(...)
    end
  end
  aapmt.save, folder.write_atomic = armed(aapmt.save), armed(folder.write_atomic)
end
train.run(cfg)
]])
local function write_cfg(c, path)
  folder.write_atomic(path, "return " .. folder.lua_value(c) .. "\n")
  return path
end

-- Files of a finished run that must equal the reference's byte for byte.
local compared = {"model.safetensors", "steps.csv", "epochs.csv", "scores.csv", "metrics.json"}

local function same_run(out, ref, what, only)
  for _, name in ipairs(only or compared) do
    local x, y = folder.read(out .. "/" .. name), folder.read(ref .. "/" .. name)
    check.truthy(y, what .. ": the reference has " .. name)
    local same = x == y
    if name == "steps.csv" and not same then
      pending_check(false, what .. ": steps.csv differs from the reference's (" .. tostring(x and #x) .. " vs " ..
        #y .. " bytes)")
    else
      check.truthy(same, what .. ": " .. name .. " is bit-identical to the reference's")
    end
  end
end

-- The checkpoint in force: state.lua reads back and its files load whole.
local function checkpoint_intact(out, what)
  local ok, state = pcall(checkpoints.read_state, out)
  check.truthy(ok, what .. ": state.lua reads back (" .. tostring(state) .. ")")
  if not state then return nil end
  check.truthy(state.step % 3 == 0 or state.step == total_steps, what .. ": checkpoint step " .. state.step)
  for _, key in ipairs({"model", "optimizer"}) do
    local loaded, tensors, names = pcall(a.load, state[key])
    check.truthy(loaded, what .. ": the checkpoint's " .. key .. " file loads (" .. tostring(tensors) .. ")")
    check.truthy(#names > 0, what .. ": the " .. key .. " file holds tensors")
  end
  return state
end

-- Temporary files left by a write that a kill interrupted.
local function temporaries(out)
  local n = 0
  for _, dir in ipairs({out, out .. "/checkpoints"}) do
    if folder.exists(dir) then
      for f in lfs.dir(dir) do
        if f:find("%.tmp") then n = n + 1 end
      end
    end
  end
  return n
end

-- Runs the child; with a delay, SIGKILLs it from outside after that many
-- seconds. Returns the exit status (137: killed) and the child's output.
local function run_child(cfg_path, delay, extra_arg)
  local err = tmp .. "/child.out"
  -- Killed runs go without `timeout`, whose death would leave the run going.
  local cmd = string.format("%s%s run %s %s %s >%s 2>&1", delay and "" or "timeout 120 ", q(aapmt_bin), q(child),
    q(cfg_path), extra_arg or "", q(err))
  if delay then
    cmd = string.format("%s & pid=$!; sleep %.3f; kill -KILL $pid 2>/dev/null; wait $pid; echo $? >%s",
      cmd, delay, q(tmp .. "/rc"))
  else
    cmd = cmd .. "; echo $? >" .. q(tmp .. "/rc")
  end
  sh("exec 2>/dev/null; " .. cmd)
  local rc = tonumber(folder.read(tmp .. "/rc"))
  return rc, folder.read(err) or ""
end

-- The reference: uninterrupted, in a child as the killed runs are.
local ref = tmp .. "/ref"
local started = a.clock()
local rc, out_text = run_child(write_cfg(cfg(ref), tmp .. "/ref_cfg.lua"))
local duration = a.clock() - started
check.eq(rc, 0, "the reference run succeeds: " .. out_text)
check.eq(#a.read_csv(ref .. "/steps.csv").rows, total_steps, "the reference has 16 steps")

-- ---- 1. SIGKILL at random moments ----
do
  math.randomseed(20261126)
  local want = sanitize and 5 or 24
  local kills, mid_write, campaigns, attempts = 0, 0, 0, 0
  while kills < want do
    campaigns = campaigns + 1
    local out = tmp .. "/killed" .. campaigns
    local c = cfg(out)
    local path = write_cfg(c, tmp .. "/killed_cfg.lua")
    local done = false
    for try = 1, 80 do
      attempts = attempts + 1
      -- Anywhere from the program's start to a little past a whole run.
      local delay = math.random() * duration * 1.1
      local status, text = run_child(path, delay)
      if status == 0 then
        done = true
        break
      end
      check.eq(status, 137, string.format("campaign %d try %d: killed by SIGKILL, not failed (%s)", campaigns, try,
        text))
      kills = kills + 1
      if temporaries(out) > 0 then mid_write = mid_write + 1 end
      checkpoint_intact(out, string.format("campaign %d, kill after %.3f s", campaigns, delay))
      if try == 1 then c.resume = true; write_cfg(c, path) end
    end
    check.truthy(done, "campaign " .. campaigns .. " completes within 80 tries")
    io.stderr:write(string.format("campaign %d: %d tries\n", campaigns, attempts))
    same_run(out, ref, "killed " .. campaigns)
  end
  -- Kills aimed at file writes: a killer starts as a write begins.
  local out = tmp .. "/killed_in_write"
  local c = cfg(out)
  local path = write_cfg(c, tmp .. "/killed_cfg.lua")
  local aimed, aimed_mid = 0, 0
  for try = 1, sanitize and 2 or 8 do
    local status, text = run_child(path, nil, string.format("kill_in_save %d %.4f", math.random(1, 6),
      math.random() * 0.004))
    if status == 0 then break end
    check.eq(status, 137, "aimed kill " .. try .. ": killed by SIGKILL (" .. text .. ")")
    aimed = aimed + 1
    if temporaries(out) > 0 then aimed_mid = aimed_mid + 1 end
    checkpoint_intact(out, "aimed kill " .. try)
    c.resume = true
    write_cfg(c, path)
  end
  check.eq(run_child(path), 0, "the run killed in its writes completes")
  same_run(out, ref, "killed in its writes")
  kills, mid_write = kills + aimed, mid_write + aimed_mid
  io.stderr:write(string.format("kills: %d in %d runs of %d campaigns (%d left a temporary file: killed "
    .. "mid-write), reference run %.2f s; at %.1f s\n", kills, attempts + aimed, campaigns + 1, mid_write, duration,
    a.clock() - t0))
end

-- PENDING: a run killed (or stopped) before its first checkpoint leaves
-- steps.csv lines that the restarted run appends to, since open_logs only
-- truncates when a state exists.
do
  local out = tmp .. "/early"
  train.run(cfg(out, {stop_after_steps = 2}))
  check.truthy(not folder.exists(out .. "/checkpoints/state.lua"), "no checkpoint after 2 steps")
  train.run(cfg(out, {resume = true}))
  same_run(out, ref, "stopped before the first checkpoint, then resumed", {"model.safetensors", "steps.csv"})
end

-- ---- 2. A full disk while writing ----

-- A private tmpfs of a given size needs a mount namespace; where none can be
-- made, a file-size limit (EFBIG) stands in for the full disk.
local disk_ok = os.getenv("AAPMT_FAULTS_NO_TMPFS") ~= "1" and
  sh(string.format("unshare -r -m sh -c 'mount -t tmpfs -o size=64k none %s' 2>/dev/null", q(tmp)))
local function run_on_disk(c, kbytes)
  local out = c.out
  local path = write_cfg(c, tmp .. "/disk_cfg.lua")
  local err = tmp .. "/disk.out"
  local script
  if disk_ok then
    -- The folder lives on the tmpfs only inside the namespace: copy it out
    -- before the namespace goes, to the same path (state.lua names files by path).
    script = string.format("unshare -r -m sh -c 'mount -t tmpfs -o size=%dk none %s && "
      .. "%s run %s %s >%s 2>&1; echo $? >%s; cp -a %s/. %s.copy'", kbytes, q(out), q(aapmt_bin), q(child),
      q(path), q(err), q(tmp .. "/rc"), q(out), q(out))
  else
    script = string.format("bash -c \"trap '' XFSZ; ulimit -f %d; %s run %s %s >%s 2>&1; echo \\$? >%s\"", kbytes,
      q(aapmt_bin), q(child), q(path), q(err), q(tmp .. "/rc"))
  end
  sh(script)
  if disk_ok then
    sh(string.format("cp -a %s.copy/. %s && rm -rf %s.copy", q(out), q(out), q(out)))
  end
  return tonumber(folder.read(tmp .. "/rc")), folder.read(err) or ""
end

do
  local how = disk_ok and "No space left on device" or "File too large"
  -- Sizes that fill the disk during the first checkpoint, the second (the
  -- first then stays in force), a later one, and none.
  local sizes = disk_ok and {400, 700, 1100, 1500, 1800, 1890, 1940}
    or {200, 400, 600}
  if sanitize then sizes = disk_ok and {700, 1500, 1900} or {400} end
  local failed_runs, kept = 0, 0
  for _, kb in ipairs(sizes) do
    local out = tmp .. "/disk" .. kb
    lfs.mkdir(out)
    local c = cfg(out)
    if not disk_ok then
      -- A file-size limit hits every checkpoint alike: the first one is
      -- written without it.
      check.eq(run_child(write_cfg(cfg(out, {stop_after_steps = 4}), tmp .. "/disk_first.lua")), 0, "steps 1-4")
      c.resume = true
    end
    local status, text = run_on_disk(c, kb)
    local what = string.format("disk of %d KB", kb)
    if status ~= 0 then
      failed_runs = failed_runs + 1
      check.truthy(status < 128, what .. ": the run fails with an error, not a signal (" .. status .. "): " .. text)
      check.truthy(text:find(how, 1, true), what .. ": the error says '" .. how .. "': " .. text)
      check.truthy(text:find(out, 1, true), what .. ": the error names the file being written: " .. text)
      local state = checkpoint_intact(out, what)
      if state then
        kept = kept + 1
        pending_check(text:find("checkpoint of step " .. state.step, 1, true),
          what .. ": the error says the checkpoint of step " .. state.step .. " is intact: " .. text:match("[^\n]*"))
      end
      local c = cfg(out, {resume = state ~= nil})
      if not state then
        -- No checkpoint: the run starts again (its logs are the early-kill case above).
        sh("rm -rf " .. q(out) .. " && mkdir " .. q(out))
      end
      local rs, rtext = run_child(write_cfg(c, tmp .. "/disk_resume.lua"))
      check.eq(rs, 0, what .. ": resuming with space succeeds: " .. rtext)
      same_run(out, ref, what .. ", resumed")
    else
      same_run(out, ref, what .. " (enough space)")
    end
  end
  check.truthy(failed_runs >= (sanitize and 1 or 3), "several disk sizes made the run fail: " .. failed_runs)
  check.truthy(kept >= 1, "some failure came after a checkpoint, which was kept: " .. kept)
  io.stderr:write(string.format("full disk (%s): %d sizes, %d runs failed, %d with a checkpoint kept; at %.1f s\n",
    disk_ok and "tmpfs" or "ulimit -f", #sizes, failed_runs, kept, a.clock() - t0))
end

-- PENDING: run_folder.write_atomic ignores the result of write and close, so
-- a state.lua that could not be written whole replaces the good one (and the
-- previous checkpoint's files are then removed). Simulated: the write of
-- state.lua.tmp at the second checkpoint fails as on a full disk.
do
  local out = tmp .. "/state_enospc"
  local real_open, calls = io.open, 0
  io.open = function(path, mode)
    local f, err = real_open(path, mode)
    if f and type(path) == "string" and path:find("state%.lua%.tmp$") then
      calls = calls + 1
      if calls == 2 then
        -- A full disk: half the text reaches the file, then the rest fails.
        return setmetatable({}, {__index = {
          write = function(_, text) f:write(text:sub(1, #text // 2)); return nil, "No space left on device", 28 end,
          close = function() f:close(); return nil, "No space left on device", 28 end}})
      end
    end
    return f, err
  end
  local ok, err = pcall(train.run, cfg(out))
  io.open = real_open
  local state_ok, state = pcall(folder.read_lua, out .. "/checkpoints/state.lua")
  pending_check(not ok and tostring(err):find("No space left on device", 1, true),
    "state.lua on a full disk: the run stops with the error (it went on: " .. tostring(ok) .. " " .. tostring(err) .. ")")
  pending_check(state_ok and state and (state.step == 3 or state.step == total_steps),
    "state.lua on a full disk: the checkpoint in force reads back (" .. tostring(state) .. ")")
  if state_ok and state then checkpoint_intact(out, "state.lua on a full disk") end
end

-- ---- 3. An image deleted mid-run ----
for _, source in ipairs({"sync", "loader"}) do
  local dir = tmp .. "/images_" .. source
  lfs.mkdir(dir)
  for _, f in ipairs(files) do sh(string.format("cp %s %s", q(image_dir .. "/" .. f), q(dir .. "/" .. f))) end
  local own_rows = make_rows(dir)
  local victim = own_rows[3].image
  local out = tmp .. "/deleted_" .. source
  local extra = {train = own_rows, test = own_rows}
  if source == "loader" then
    if not a.loader then goto continue end
    extra.source = train.loader_source{workers = 2, prefetch = 2}
  end
  do
    local c = cfg(out, extra)
    -- After the first checkpoint (step 3); epoch 2 reads every image again.
    c.on_step = function(info) if info.step == 4 then os.remove(victim) end end
    local ok, err = pcall(train.run, c)
    check.truthy(not ok, source .. ": the run stops when an image is gone")
    check.truthy(tostring(err):find(victim, 1, true), source .. ": the error names the image: " .. tostring(err))
    local state = checkpoint_intact(out, source .. ": image deleted")
    check.truthy(state and state.step >= 3, source .. ": a checkpoint from before the deletion is in force")
    -- The image back, the run resumes to the end: equal to an unbroken run
    -- of the same source (the loader's order is its own).
    sh(string.format("cp %s %s", q(image_dir .. "/" .. files[3]), q(victim)))
    c.on_step, c.resume = nil, true
    train.run(c)
    local unbroken = tmp .. "/unbroken_" .. source
    train.run(cfg(unbroken, extra))
    same_run(out, unbroken, source .. ": deleted, restored and resumed", {"model.safetensors", "epochs.csv"})
  end
  ::continue::
end

-- ---- 4. Impossible sizes ----
do
  -- In a child, so a crash is reported, not suffered; a sanitizer's
  -- allocator is told to return NULL as malloc does.
  local script = tmp .. "/oom.lua"
  folder.write_atomic(script, [[
local a = aapmt
local before = a.memory()
local function oom(what, fn, ...)
  local ok, err = pcall(fn)
  assert(not ok, what .. ": expected an error, got a tensor")
  for _, frag in ipairs({...}) do
    assert(tostring(err):find(frag, 1, true), what .. ": the error lacks '" .. frag .. "': " .. tostring(err))
  end
  print(what .. ": " .. tostring(err))
end
local P = 2^50   -- past any address space
oom("zeros", function() return a.zeros(P // 4, 2) end, "out of memory", "(281474976710656, 2)")
oom("empty", function() return a.empty({2^25, 2^25}) end, "out of memory", "(33554432, 33554432)")
oom("randn", function() return a.randn(2^26, 2^26, {dtype = "f64"}) end, "out of memory", "f64")
oom("ones", function() return a.ones(3e9, 3e9) end, "out of memory", "(3000000000, 3000000000)", "2^64")
-- A count that wraps int64 (2^32 * 2^32 = 2^64 → 0) must not pass as empty.
oom("zeros wrap", function() return a.zeros(2^32, 2^32) end, "out of memory", "(4294967296, 4294967296)")
oom("zeros wrap 3d", function() return a.zeros(2^31, 2^31, 4) end, "out of memory")
-- An op whose output is impossible: the outer product of two long vectors.
local v = a.zeros(2^25)
oom("matmul", function() return v:reshape(-1, 1):matmul(v:reshape(1, -1)) end, "out of memory")
v = nil
collectgarbage()
collectgarbage()
assert(a.memory() == before, "nothing leaked: " .. a.memory() .. " vs " .. before .. " bytes live")
print("ok")
]])
  sh(string.format("ASAN_OPTIONS=allocator_may_return_null=1:${ASAN_OPTIONS:-} %s run %s >%s 2>&1; echo $? >%s",
    q(aapmt_bin), q(script), q(tmp .. "/oom.out"), q(tmp .. "/rc")))
  local text = folder.read(tmp .. "/oom.out") or ""
  check.eq(tonumber(folder.read(tmp .. "/rc")), 0, "absurd allocations fail cleanly: " .. text)
  check.truthy(text:find("\nok\n", 1, true), "the allocation checks ran to the end: " .. text)

  -- A training batch beyond a memory limit (ulimit -v: the same on any
  -- machine). Sanitizers reserve terabytes of address space, so not there.
  if sanitize then
    io.stderr:write("skipped under the sanitizer: a batch beyond ulimit -v\n")
  else
    local many = {}
    for i = 1, 20000 do
      many[i] = {name = "r" .. i, image = image_dir .. "/rgb_32x33.png", prompt = "a red cat", targets = {mos_quality = i % 5}}
    end
    local out = tmp .. "/huge_batch"
    local c = cfg(out, {train = many, test = {}, batch_size = 20000, epochs = 1})
    local path = write_cfg(c, tmp .. "/huge_cfg.lua")
    sh(string.format("(ulimit -v 1500000; %s run %s %s >%s 2>&1; echo $? >%s)", q(aapmt_bin), q(child), q(path),
      q(tmp .. "/huge.out"), q(tmp .. "/rc")))
    local status, huge = tonumber(folder.read(tmp .. "/rc")), folder.read(tmp .. "/huge.out") or ""
    check.truthy(status ~= 0 and status < 128, "a batch of 20000 under 1.5 GB fails with an error, not a signal ("
      .. status .. "): " .. huge)
    check.truthy(huge:find("out of memory", 1, true) and huge:find("shape (20000", 1, true),
      "the error says out of memory and names the batch's shape: " .. huge)
    io.stderr:write("batch beyond memory: " .. (huge:match("[^\n]*out of memory[^\n]*") or "?") .. "\n")
  end
end

if not os.getenv("AAPMT_KEEP_TMP") then os.execute("rm -rf " .. q(tmp)) end
io.stderr:write(string.format("test_faults: %.1f s\n", a.clock() - t0))
if #pending > 0 then
  error(#pending .. " check(s) wait for a fix in lua/aapmt/train.lua or run_folder.lua:\n  "
    .. table.concat(pending, "\n  "), 0)
end
