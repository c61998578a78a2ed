-- runs/summary.md and runs/summary.csv: every result under runs/ that is
-- still what its experiment file says, whichever experiments the last
-- batch ran. A result is current when planning its file as it is now (with
-- the overrides it was run with) gives its result fingerprint; superseded
-- folders (*.superseded-*) are never listed, and results whose file or
-- inputs changed since are counted in one line. Sweeps over a replicate key
-- (seed) also get their mean ± sd (min–max).
local folder = require "aapmt.run_folder"
local stats = require "aapmt.experiment_stats"
local interrupts = require "aapmt.interrupts"
local results = require "aapmt.experiment_results"

local M = {}

-- Whether a result is what its file says now: this batch's plan of the
-- same folder when there is one, else its file planned again with the
-- overrides it ran with, the experiments it starts from planned from their
-- files too (a result started from an edited experiment is not current).
local function current_checker(plans, runs_dir, results)
  local by_out = {}
  for _, list in pairs(plans or {}) do
    for _, p in ipairs(list) do by_out[p.out] = p end
  end
  local experiment = require "aapmt.experiment"
  local context = require "aapmt.experiment_context"
  local decls = {}   -- every experiment file the results name, by experiment name
  for _, r in ipairs(results) do
    if r.source and not decls[r.name] then
      local ok, decl = interrupts.pcall(experiment.load, r.source)
      if ok and decl.name == r.name then decls[r.name] = decl end
    end
  end
  local contexts = {}   -- by overrides
  return function(r)
    local p = by_out[r.out]
    if p then return p.fingerprint == r.fingerprint end
    if not (decls[r.name] and r.fingerprint) then return false end
    local key = table.concat(r.overrides or {}, "\0")
    if not contexts[key] then contexts[key] = {context.lazy(decls, r.overrides, runs_dir)} end
    for _, fresh in ipairs(contexts[key][2](r.name) or {}) do
      if fresh.variant.id == (r.variant or "") then return fresh.fingerprint == r.fingerprint end
    end
    return false
  end
end

local function pair(s) return s and s.plcc and string.format("%s / %s", stats.fmt(s.plcc), stats.fmt(s.srcc)) or "—" end

local function published(r)
  local out = {}
  for _, row in ipairs(r.paper or {}) do out[row.task] = row end
  return out
end

-- Writes summary.md and summary.csv in dir from the current results.
function M.write(dir, plans)
  local all = results.all(dir)
  local is_current = current_checker(plans, dir, all)
  local current, stale = {}, 0
  for _, r in ipairs(all) do
    if is_current(r) then current[#current + 1] = r else stale = stale + 1 end
  end
  table.sort(current, function(x, y)
    if x.name ~= y.name then return x.name < y.name end
    return (x.variant or "") < (y.variant or "")
  end)
  local md = {"# Results", "",
    "Every current result under this folder. Held-out `test` rows of the content-isolated split, with 95% bootstrap "
      .. "intervals over held-out prompts; `paper_rows` = the first N CSV rows AAPMT evaluated (docs/aapmt.md §5.3), where the "
      .. "published numbers were measured.", "",
    "| experiment | variant | task | test SRCC | test PLCC | paper_rows PLCC / SRCC | paper PLCC / SRCC |",
    "| --- | --- | --- | --- | --- | --- | --- |"}
  local csv = {folder.csv_line({"experiment", "variant", "task", "protocol", "measure", "value", "ci_low", "ci_high",
    "n", "replicates", "sd", "min", "max", "paper"})}
  for _, r in ipairs(current) do
    local pub = published(r)
    for _, task in ipairs(r.scored or {}) do
      local test = r.results.test and r.results.test[task]
      local rows = r.results.paper_rows and r.results.paper_rows[task]
      local ci = test and test.ci or {}
      local p = pub[task]
      md[#md + 1] = string.format("| %s | %s | %s | %s | %s | %s | %s |", r.name, r.variant or "", task,
        test and stats.with_interval(test.srcc, ci.srcc) or "—", test and stats.with_interval(test.plcc, ci.plcc) or "—",
        pair(rows), p and string.format("%s / %s", stats.fmt(p.paper_plcc), stats.fmt(p.paper_srcc)) or "")
      for _, protocol in ipairs({"test", "paper_rows"}) do
        local s = protocol == "test" and test or rows
        for _, measure in ipairs(s and {"srcc", "plcc", "krcc", "rmse"} or {}) do
          local interval = protocol == "test" and s.ci and s.ci[measure] or {}
          local paper_value = protocol == "paper_rows" and p and p["paper_" .. measure] or ""
          csv[#csv + 1] = folder.csv_line({r.name, r.variant or "", task, protocol, measure, s[measure] or "",
            interval.low or "", interval.high or "", s.n or "", "", "", "", "", paper_value})
        end
      end
    end
  end
  -- sweeps: each experiment's replicates aggregated
  local by_name, names = {}, {}
  for _, r in ipairs(current) do
    if not by_name[r.name] then by_name[r.name], names[#names + 1] = {}, r.name end
    table.insert(by_name[r.name], {result = r})
  end
  local aggregate_lines = {}
  for _, name in ipairs(names) do
    local replicate = by_name[name][1].result.replicate or "seed"
    for _, g in ipairs(stats.aggregate(by_name[name], replicate)) do
      for _, row in ipairs(g.rows) do
        if row.protocol == "test" and row.measure ~= "krcc" or row.measure == "srcc" then
          aggregate_lines[#aggregate_lines + 1] = string.format("| %s | %s | %s=%s | %s | %s | %s | %s |", name, g.group,
            replicate, table.concat(g.replicates, ","), row.protocol, row.task, row.measure, stats.spread(row))
        end
        csv[#csv + 1] = folder.csv_line({name, g.group, row.task, row.protocol, row.measure, row.mean, "", "", "",
          table.concat(g.replicates, " "), row.sd, row.min, row.max, ""})
      end
    end
  end
  if #aggregate_lines > 0 then
    md[#md + 1] = ""
    md[#md + 1] = "## Over replicates"
    md[#md + 1] = ""
    md[#md + 1] = "Mean ± standard deviation (min–max) over the replicate key, within each value of the others."
    md[#md + 1] = ""
    md[#md + 1] = "| experiment | group | replicates | protocol | task | measure | mean ± sd (min–max) |"
    md[#md + 1] = "| --- | --- | --- | --- | --- | --- | --- |"
    for _, l in ipairs(aggregate_lines) do md[#md + 1] = l end
  end
  if stale > 0 then
    md[#md + 1] = ""
    md[#md + 1] = string.format("%d result%s under this folder %s not listed: %s experiment file or inputs changed "
      .. "since (rerun with aapmt batch).", stale, stale == 1 and "" or "s", stale == 1 and "is" or "are",
      stale == 1 and "its" or "their")
  end
  folder.mkdir(dir)
  folder.write_atomic(dir .. "/summary.md", table.concat(md, "\n") .. "\n")
  folder.write_atomic(dir .. "/summary.csv", table.concat(csv))
  return current, stale
end

return M
