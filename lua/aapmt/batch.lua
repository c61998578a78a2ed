-- Running experiment files: every file loaded and every variant planned
-- and checked first (a mistake anywhere stops the batch before any work,
-- naming the file and line); then in dependency order (an experiment that
-- starts from or is compared with another runs after it), skipping variants
-- whose result is up to date (the same result fingerprint), resuming
-- interrupted training whose training fingerprint is unchanged, training
-- afresh otherwise, going on past a failure, stopping at Ctrl-C; then the
-- report of each sweep over seeds and runs/summary.md and summary.csv over
-- every current result (experiment_summary.lua).
local lfs = require "lfs"
local folder = require "aapmt.run_folder"
local experiment = require "aapmt.experiment"
local runner = require "aapmt.experiment_run"
local planner = require "aapmt.experiment_plan"
local report = require "aapmt.experiment_report"
local summary = require "aapmt.experiment_summary"
local context = require "aapmt.experiment_context"
local results = require "aapmt.experiment_results"
local fingerprint = require "aapmt.fingerprint"
local interrupts = require "aapmt.interrupts"

local M = {}

-- Experiment files under each path (a file, or a folder searched
-- recursively), sorted.
function M.files(paths)
  local out = {}
  local function walk(p)
    local mode = lfs.attributes(p, "mode")
    if mode == "directory" then
      local names = {}
      for name in lfs.dir(p) do
        if name:sub(1, 1) ~= "." then names[#names + 1] = name end
      end
      table.sort(names)
      for _, name in ipairs(names) do
        local child = p .. "/" .. name
        if lfs.attributes(child, "mode") == "directory" or name:find("%.lua$") then walk(child) end
      end
    elseif mode == "file" then
      out[#out + 1] = folder.absolute(p)
    else
      error(string.format("%s: no such file or folder", p), 0)
    end
  end
  for _, p in ipairs(paths) do walk(p) end
  return out
end

local function dependencies(d)
  local deps = {}
  if type(d.fields.start) == "table" then deps[1] = d.fields.start.experiment end
  for _, n in ipairs(d.fields.needs or {}) do deps[#deps + 1] = n end
  for _, c in ipairs(d.fields.compare or {}) do
    local name = type(c) == "string" and c or c.experiment
    if name and name ~= d.name then deps[#deps + 1] = name end
  end
  return deps
end

-- Declarations in an order where each comes after the experiments it
-- starts from, needs or is compared with.
local function ordered(decls, by_name)
  local order, state = {}, {}
  local function visit(d, chain)
    if state[d] == "done" then return end
    if state[d] == "visiting" then
      error(string.format("%s: experiments depend on each other in a cycle: %s", d.source,
        table.concat(chain, " -> ")), 0)
    end
    state[d] = "visiting"
    for _, name in ipairs(dependencies(d)) do
      local up = by_name[name]
      if up then
        local c = {table.unpack(chain)}
        c[#c + 1] = up.name
        visit(up, c)
      end
    end
    state[d] = "done"
    order[#order + 1] = d
  end
  for _, d in ipairs(decls) do visit(d, {d.name}) end
  return order
end

local function log(fmt, ...) io.stderr:write(string.format(fmt, ...), "\n") end

local function label(name, variant) return name .. (variant ~= "" and (" [" .. variant .. "]") or "") end

local read_result_file = folder.try_read_lua
local function read_result(dir) return read_result_file(dir .. "/result.lua") end

-- Every finished variant of an experiment, for report(): {{variant=, result=}, ...}.
local function results_lister(by_name, plans, runs_dir)
  return function(name)
    if not by_name[name] then
      local out = {}
      for _, r in ipairs(results.results_of(runs_dir, name)) do out[#out + 1] = {variant = r.variant, result = r} end
      if #out == 0 then error(string.format("report: no experiment named '%s' in this batch", tostring(name)), 2) end
      return out
    end
    local out = {}
    for _, p in ipairs(plans[name] or {}) do
      local r = read_result(p.out)
      if r and r.fingerprint == p.fingerprint then out[#out + 1] = {variant = p.variant.id, result = r} end
    end
    return out
  end
end

-- ---- the two phases ----

-- The user-facing part of an error about a missing database, checkpoint,
-- vocabulary or upstream result, or nil for any other error.
function M.missing_reason(err)
  local why = tostring(err):gsub("^.-experiment '[^']*': ", "")
  if why:find(" is missing: ") then return why end
  return nil
end

-- Loads and plans everything. Returns the declarations in order, the plans
-- by experiment name, and the mistakes ({name=, variant=, error=}).
local function plan_all(paths, overrides, opts)
  local decls, mistakes = {}, {}
  local by_name = {}
  for _, file in ipairs(M.files(paths)) do
    local ok, decl = interrupts.pcall(experiment.load, file)
    if not ok then
      mistakes[#mistakes + 1] = {name = file, variant = "", error = decl}
    elseif by_name[decl.name] then
      mistakes[#mistakes + 1] = {name = decl.name, variant = "", error = string.format(
        "two experiments are named '%s' (%s and %s)", decl.name, by_name[decl.name].source, decl.source)}
    else
      by_name[decl.name] = decl
      decls[#decls + 1] = decl
    end
  end
  local ok, order = pcall(ordered, decls, by_name)
  if not ok then
    mistakes[#mistakes + 1] = {name = "batch", variant = "", error = order}
    return {}, {}, mistakes, by_name
  end
  local runs_dir = opts.runs_dir or (decls[1] and planner.runs_dir(decls[1], decls[1].fields))
    or require("aapmt.databases").runs_dir()
  local plans = {}
  local function plans_of(name) return plans[name] end
  local ctx = context.new(by_name, plans_of, runs_dir, overrides)
  for _, decl in ipairs(order) do
    local vok, variants = interrupts.pcall(experiment.variants, decl, overrides)
    plans[decl.name] = {}
    if not vok then
      mistakes[#mistakes + 1] = {name = decl.name, variant = "", error = variants}
    else
      for _, v in ipairs(context.planning_order(decl, variants)) do
        local pok, p = interrupts.pcall(planner.plan, decl, v, ctx)
        if pok then
          p.overrides = overrides
          table.insert(plans[decl.name], p)
        else
          mistakes[#mistakes + 1] = {name = decl.name, variant = v.id, error = p}
        end
      end
    end
  end
  fingerprint.flush()
  return order, plans, mistakes, by_name, runs_dir, ctx
end

-- The state of what a plan depends on: nil when it can run, else why not.
local function blocked_by(p, status_of)
  local deps = {}
  if p.upstream then deps[#deps + 1] = p.upstream end
  for _, c in ipairs(p.compare or {}) do deps[#deps + 1] = c.found end
  for _, d in ipairs(deps) do
    if d.plan then
      local s = status_of[d.plan]
      if s ~= "done" and s ~= "up to date" then
        return string.format("waiting for %s (%s)", label(d.name, d.variant), s or "not run")
      end
    end
  end
  return nil
end

local function summary_line(r)
  local parts = {}
  for _, protocol in ipairs({"test", "paper_rows"}) do
    local res = r.results and r.results[protocol]
    if res then
      for _, task in ipairs(r.scored or {}) do
        local s = res[task]
        if s and s.srcc then parts[#parts + 1] = string.format("%s %s %.3f/%.3f", protocol, task, s.plcc, s.srcc) end
      end
    end
  end
  return table.concat(parts, "  ")
end

local function release_all(locks)
  for _, lock in ipairs(locks) do lock:release() end
end

-- Every experiment's folder is this batch's while it runs: a second batch
-- (or `aapmt run`) of the same experiment would train into the same
-- folders, so it is refused before any work, naming the folder and the pid.
-- The lock file sits beside the folder (runs/.NAME.lock), which a changed
-- experiment moves aside. Returns the locks, released together on close.
local function lock_experiments(order, plans)
  local locks, seen = setmetatable({}, {__close = release_all}), {}
  for _, decl in ipairs(order) do
    for _, p in ipairs(plans[decl.name]) do
      local dir = planner.out_dir(decl, {id = "", fields = p.variant.fields})
      if not seen[dir] then
        seen[dir] = true
        local parent, name = dir:match("^(.*)/([^/]+)$")
        folder.mkdir(parent)
        local ok, lock = pcall(folder.lock, dir, {who = string.format("experiment '%s'", decl.name),
          file = parent .. "/." .. name .. ".lock",
          hint = "another aapmt batch or run of this experiment works in it: wait for it to end"})
        if not ok then
          release_all(locks)
          error(lock, 0)
        end
        locks[#locks + 1] = lock
      end
    end
  end
  return locks
end

-- runs/summary.md is over every experiment, so batches of different
-- experiments write it in turn.
local function write_summary(dir, plans)
  folder.mkdir(dir)
  local lock <close> = folder.lock(dir, {file = dir .. "/.summary.lock", wait = true})
  summary.write(dir, plans)
end

local function run_one(p, entry, opts, lookup)
  p.lookup = lookup
  local ran, result = xpcall(runner.run, function(e)
    if type(e) == "string" and e:find("attempt to ") then return debug.traceback(e, 2) end
    return e
  end, p, opts)
  if ran then
    entry.status, entry.result = "done", result
  elseif interrupts.is(result) then
    entry.status = "interrupted"
  else
    entry.status, entry.error = "failed", experiment.user_message(result)
  end
end

-- Runs every variant of every experiment file under paths; overrides
-- (key=value) apply to all. opts: force (train afresh), clean (remove
-- superseded folders), runs_dir. Returns the entries {name, variant,
-- status, result, error, missing}, the number of failures, and whether
-- Ctrl-C stopped the batch.
function M.run(paths, overrides, opts)
  opts = opts or {}
  local planned = table.pack(pcall(plan_all, paths, overrides, opts))
  if not planned[1] then
    fingerprint.flush()   -- the hashes computed so far are kept (Ctrl-C while hashing a database)
    error(planned[2], 0)
  end
  local order, plans, mistakes, by_name, runs_dir = table.unpack(planned, 2, planned.n)
  local entries, failures = {}, 0
  if #mistakes > 0 then
    for _, m in ipairs(mistakes) do
      m.error = experiment.user_message(m.error)
      entries[#entries + 1] = {name = m.name, variant = m.variant, status = "mistake", error = m.error}
    end
    log("nothing was run: %s found before any work", #mistakes == 1 and "a mistake was" or (#mistakes .. " mistakes were"))
    return entries, #mistakes, false
  end
  local locks <close> = lock_experiments(order, plans)
  local lookup = results_lister(by_name, plans, runs_dir)
  local ctx = context.new(by_name, function(name) return plans[name] end, runs_dir, overrides)
  local status_of, said, ran_any, stopped = {}, {}, false, false
  for _, decl in ipairs(order) do
    local list = plans[decl.name]
    for i, p in ipairs(list) do
      local entry = {name = decl.name, variant = p.variant.id}
      entries[#entries + 1] = entry
      if stopped then
        entry.status = "not run"
      elseif #p.missing > 0 then
        entry.status, entry.missing = "missing input", table.concat(p.missing, "\n")
      else
        local waiting = blocked_by(p, status_of)
        if waiting then
          entry.status, entry.error = "waiting", waiting
        else
          if p.report_only then   -- over results as they are now, after what ran before it
            local rok, fresh = interrupts.pcall(planner.plan, decl, p.variant, ctx)
            if rok then
              fresh.overrides = overrides
              list[i], p = fresh, fresh
            end
          end
          local done = not opts.force and runner.up_to_date(p)
          if done then
            entry.status, entry.result = "up to date", done
          else
            log("run %s", label(decl.name, p.variant.id))
            run_one(p, entry, opts, lookup)
            -- a folder moved aside changes what is current, even if the run then failed
            ran_any = ran_any or entry.status == "done" or p.superseded
          end
        end
      end
      status_of[p] = entry.status
      if entry.missing then
        failures = failures + 1
        for line in entry.missing:gmatch("[^\n]+") do
          if not said[line] then log("missing: %s", line) end
          said[line] = true
        end
      elseif entry.status == "interrupted" then
        stopped = true
        local state = read_result_file(p.out .. "/train/checkpoints/state.lua")
        log("interrupted: %s; the batch stops here. Rerun the same command%s to go on: %s", label(decl.name,
          p.variant.id), opts.force and " without --force" or "", state and string.format("its training resumes "
          .. "from step %d", state.step) or "it starts again (no training step was done)")
      elseif entry.status == "failed" or entry.status == "waiting" then
        failures = failures + 1
        log("%s %s: %s", entry.status == "failed" and "FAILED" or "waiting:", label(decl.name, p.variant.id),
          tostring(entry.error))
      elseif entry.result then
        log("%s %s  %s", entry.status, label(decl.name, p.variant.id), summary_line(entry.result))
      end
    end
    -- A sweep's own report, over its variants' current results.
    if #list > 1 and not list[1].report_only then
      local current = {}
      for _, p in ipairs(list) do
        local r = read_result(p.out)
        if r and r.fingerprint == p.fingerprint then current[#current + 1] = {result = r} end
      end
      if #current > 1 then
        interrupts.pcall(report.write_sweep, runs_dir .. "/" .. decl.name, decl.name, decl.fields.description, current,
          decl.fields.replicate or "seed")
      end
    end
  end
  if ran_any then write_summary(opts.summary_dir or runs_dir, plans) end
  fingerprint.flush()
  return entries, failures, stopped
end

-- `aapmt run FILE [--force] [--clean] [key=value ...]` for a file that
-- returns an experiment: its variants (experiments it starts from must have
-- results already), the report of each printed. Returns the exit status.
function M.run_script(path, ...)
  local overrides, opts = {}, {}
  for _, arg in ipairs({...}) do
    if arg == "--force" or arg == "--clean" then
      opts[arg:sub(3)] = true
    elseif not arg:find("^[%a_][%w_%.]*=") then
      io.stderr:write(string.format("aapmt: %s: experiment arguments are key=value, --force or --clean, got '%s'\n",
        path, arg))
      return 2
    else
      overrides[#overrides + 1] = arg
    end
  end
  local ok, entries, failures, stopped = pcall(M.run, {path}, overrides, opts)
  if not ok then
    if not interrupts.is(entries) then error(entries, 0) end
    io.stderr:write("aapmt: interrupted before any experiment ran\n")
    return 130
  end
  for _, e in ipairs(entries) do
    if e.status == "mistake" then io.stderr:write("aapmt: ", tostring(e.error), "\n") end
    if e.result then
      io.write(folder.read(e.result.out .. "/report.md") or "", "\n")
    end
  end
  if stopped then return 130 end
  return failures > 0 and 1 or 0
end

return M
