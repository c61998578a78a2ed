-- Running experiment files: in dependency order (an experiment that starts
-- from another's result runs after it), skipping variants whose result is
-- up to date (same fingerprint: file, resolved options, inputs), resuming
-- interrupted training, going on past a failure, and writing a summary of
-- every result against the paper (runs/summary.md, runs/summary.csv).
local lfs = require "lfs"
local folder = require "aapmt.run_folder"
local experiment = require "aapmt.experiment"
local runner = require "aapmt.experiment_run"

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
      out[#out + 1] = p
    else
      error(string.format("%s: no such file or folder", p), 0)
    end
  end
  for _, p in ipairs(paths) do walk(p) end
  return out
end

-- Declarations in an order where each comes after the experiments it starts from.
local function ordered(decls)
  local by_name, order, state = {}, {}, {}
  for _, d in ipairs(decls) do
    if by_name[d.name] then
      error(string.format("two experiments are named '%s' (%s and %s)", d.name, by_name[d.name].source, d.source), 0)
    end
    by_name[d.name] = d
  end
  local function visit(d, chain)
    if state[d] == "done" then return end
    if state[d] == "visiting" then
      error("experiments start from each other in a cycle: " .. table.concat(chain, " -> "), 0)
    end
    state[d] = "visiting"
    local deps = {}
    if type(d.fields.start) == "table" then deps[1] = d.fields.start.experiment end
    for _, n in ipairs(d.fields.needs or {}) do deps[#deps + 1] = n end
    for _, name in ipairs(deps) do
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

-- Another experiment's finished result for a variant: the variant named,
-- else the one with the same sweep values, else its only one.
local function upstream_finder(decls_by_name, overrides)
  return function(name, variant, wanted_id)
    local d = decls_by_name[name]
    if not d then return nil end
    local candidates = experiment.variants(d, overrides)
    local pick = #candidates == 1 and candidates[1] or nil
    for _, c in ipairs(candidates) do
      if c.id == (wanted_id or variant.id) then pick = c end
    end
    if not pick then return nil end
    return folder.read_lua(runner.out_dir(d, pick) .. "/result.lua")
  end
end

-- Every finished variant of an experiment: {{variant=, result=}, ...}.
local function results_lister(decls_by_name, overrides)
  return function(name)
    local d = decls_by_name[name]
    if not d then error(string.format("report: no experiment named '%s' in this batch", tostring(name)), 2) end
    local out = {}
    for _, v in ipairs(experiment.variants(d, overrides)) do
      local ok, r = pcall(folder.read_lua, runner.out_dir(d, v) .. "/result.lua")
      if ok and r then out[#out + 1] = {variant = v.id, result = r} end
    end
    return out
  end
end

local function log(fmt, ...) io.stderr:write(string.format(fmt, ...), "\n") end

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

local function write_summary(dir, entries)
  local md = {"# Results", "", "PLCC / SRCC per task; `test` = held-out rows of the content-isolated split, "
    .. "`paper_rows` = the first N CSV rows AAPMT evaluated (spec §5.3).", "",
    "| experiment | variant | status | task | test | paper_rows | paper |", "| --- | --- | --- | --- | --- | --- | --- |"}
  local csv = {folder.csv_line({"experiment", "variant", "status", "task", "protocol", "plcc", "srcc", "krcc", "rmse",
    "n", "paper_plcc", "paper_srcc"})}
  local function pair(s) return s and s.plcc and string.format("%.4f / %.4f", s.plcc, s.srcc) or "—" end
  for _, e in ipairs(entries) do
    local r = e.result
    if not r then
      md[#md + 1] = string.format("| %s | %s | %s | | | | |", e.name, e.variant, e.status)
      csv[#csv + 1] = folder.csv_line({e.name, e.variant, e.status})
    else
      local published = {}
      for _, row in ipairs(r.paper or {}) do published[row.task] = row end
      for _, task in ipairs(r.scored or {}) do
        local test = r.results.test and r.results.test[task]
        local paper_rows = r.results.paper_rows and r.results.paper_rows[task]
        local pub = published[task]
        md[#md + 1] = string.format("| %s | %s | %s | %s | %s | %s | %s |", e.name, e.variant, e.status, task,
          pair(test), pair(paper_rows), pub and string.format("%.4f / %.4f", pub.paper_plcc, pub.paper_srcc) or "")
        for protocol, s in pairs({test = test, paper_rows = paper_rows}) do
          csv[#csv + 1] = folder.csv_line({e.name, e.variant, e.status, task, protocol, s.plcc, s.srcc, s.krcc, s.rmse,
            s.n, pub and pub.paper_plcc or "", pub and pub.paper_srcc or ""})
        end
      end
    end
  end
  folder.mkdir(dir)
  folder.write_atomic(dir .. "/summary.md", table.concat(md, "\n") .. "\n")
  folder.write_atomic(dir .. "/summary.csv", table.concat(csv))
end

-- The user-facing part of an error about a missing database, checkpoint or
-- vocabulary (databases.lua's messages), or nil for any other error.
function M.missing_reason(err)
  local why = tostring(err):gsub("^.-experiment '[^']*': ", "")
  if why:find(" missing: ") then return why end
  return nil
end

-- Runs every variant of every experiment file under paths; overrides
-- (key=value) apply to all. Returns the entries {name, variant, status,
-- result, error} and the number of failures.
function M.run(paths, overrides, opts)
  opts = opts or {}
  local decls, entries, failures = {}, {}, 0
  for _, file in ipairs(M.files(paths)) do
    local ok, decl = pcall(experiment.load, file)
    if ok then
      decls[#decls + 1] = decl
    else
      failures = failures + 1
      entries[#entries + 1] = {name = file, variant = "", status = "failed", error = decl}
      log("FAILED %s: %s", file, decl)
    end
  end
  local by_name = {}
  for _, d in ipairs(decls) do by_name[d.name] = d end
  local upstream = upstream_finder(by_name, overrides)
  local said = {}   -- missing inputs already reported
  local lookup = results_lister(by_name, overrides)
  local runs_dir
  for _, decl in ipairs(ordered(decls)) do
    local ok, variants = pcall(experiment.variants, decl, overrides)
    if not ok then variants = {{id = "", error = variants}} end
    for _, v in ipairs(variants) do
      local entry = {name = decl.name, variant = v.id}
      entries[#entries + 1] = entry
      local plan
      if v.error then
        ok, plan = false, v.error
      else
        ok, plan = pcall(runner.plan, decl, v, upstream)
        if ok then plan.lookup = lookup end
      end
      if not ok then
        entry.status, entry.error = "failed", plan
      else
        runs_dir = runs_dir or plan.out:match("^(.*)/" .. decl.name:gsub("%p", "%%%0"))
        local done = not opts.force and runner.up_to_date(plan)
        if done then
          entry.status, entry.result = "up to date", done
        else
          log("run %s%s", decl.name, v.id ~= "" and (" [" .. v.id .. "]") or "")
          local ran, result = xpcall(runner.run, function(e)
            if type(e) == "string" and e:find("attempt to ") then return debug.traceback(e, 2) end
            return e
          end, plan)
          if ran then entry.status, entry.result = "done", result
          else entry.status, entry.error = "failed", result end
        end
      end
      local reason = entry.error and M.missing_reason(entry.error)
      if reason then
        entry.status, entry.missing = "missing input", reason
        failures = failures + 1
        for line in reason:gmatch("[^\n]+") do
          if not said[line] then log("missing: %s", line) end
          said[line] = true
        end
      elseif entry.status == "failed" then
        failures = failures + 1
        log("FAILED %s%s: %s", decl.name, v.id ~= "" and (" [" .. v.id .. "]") or "", tostring(entry.error))
      else
        log("%s %s%s  %s", entry.status, decl.name, v.id ~= "" and (" [" .. v.id .. "]") or "",
          summary_line(entry.result))
      end
    end
  end
  write_summary(opts.summary_dir or runs_dir or os.getenv("AAPMT_RUNS") or "runs", entries)
  return entries, failures
end

-- `aapmt run FILE [key=value ...]` for a file that returns an experiment:
-- its variants (experiments it starts from must have results already), the
-- report of each printed. Returns the exit status.
function M.run_script(path, ...)
  local overrides = {}
  for _, arg in ipairs({...}) do
    if not arg:find("^[%a_][%w_%.]*=") then
      io.stderr:write(string.format("aapmt: %s: experiment arguments are key=value, got '%s'\n", path, arg))
      return 2
    end
    overrides[#overrides + 1] = arg
  end
  local entries, failures = M.run({path}, overrides)
  for _, e in ipairs(entries) do
    if e.result then
      io.write(folder.read(e.result.out .. "/report.md") or "", "\n")
    end
  end
  return failures > 0 and 1 or 0
end

return M
