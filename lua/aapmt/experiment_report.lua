-- The report of an experiment run (experiment_run.lua): what the run is,
-- its numbers with their intervals beside the published ones, the paired
-- comparisons, report.md with its plots inline, and the experiment's own
-- report() hook; and the report of a sweep over replicates (seeds).
local a = aapmt
local folder = require "aapmt.run_folder"
local experiment = require "aapmt.experiment"
local stats = require "aapmt.experiment_stats"

local M = {}
local fmt, with_interval = stats.fmt, stats.with_interval

-- The published numbers this variant reproduces, beside ours.
function M.compare_with_paper(p, results, scored)
  local ok, paper = pcall(require, "aapmt.paper")
  if not ok or not p.fields.paper then return {} end
  local filter = {}
  for k, v in pairs(p.fields.paper) do filter[k] = v end
  filter.database = filter.database or p.fields.database
  -- Which model a number belongs to: by default this run's kind of model.
  if filter.model == nil and filter.table ~= "table2" then
    filter.model = #p.trained == 1 and "trained " .. p.trained[1].name or (#p.trained == 0 and "raw" or nil)
  end
  if filter.epochs == nil and p.epochs then filter.epochs = p.epochs end
  filter.seed = filter.seed or p.seed
  local seed = filter.seed
  filter.seed = nil
  local by_text = {}
  for _, m in ipairs(scored) do
    if m.text then by_text[m.text] = m.name end
  end
  local rows = {}
  for _, entry in ipairs(paper.find(filter)) do
    -- A published number scored with a text this run did not use is another model's.
    local name = entry.prompt and entry.prompt ~= "" and by_text[entry.prompt] or entry.task
    local usable = not (entry.prompt and entry.prompt ~= "" and not by_text[entry.prompt] and entry.task ~= "align")
    if usable and (entry.seed == nil or entry.seed == seed) then
      local ours = results.paper_rows and results.paper_rows[name]
      rows[#rows + 1] = {id = entry.id, task = name, model = entry.model, published = entry.published,
        paper_plcc = entry.plcc, paper_srcc = entry.srcc, plcc = ours and ours.plcc, srcc = ours and ours.srcc,
        source = entry.source}
    end
  end
  return rows
end

-- ---- what the run is ----

local function text_of(t)
  if t == false or t == nil then return "the image's own prompt" end
  if type(t) == "function" then return "a Lua function of the row" end
  return '"' .. t .. '"'
end

-- Training options that differ from AAPMT's recipe (experiment_plan.lua),
-- from the training spec (one place says what an option resolved to).
local function differing_options(p)
  local plan = require "aapmt.experiment_plan"
  local canonical = require("aapmt.fingerprint").canonical
  local defaults = {optimizer = plan.recipe.optimizer, lr = plan.recipe.lr, betas = plan.recipe.betas,
    eps = plan.recipe.eps, batch_size = plan.recipe.batch_size, loss = plan.recipe.loss, accumulate = 1,
    clip = false, fix_rate = 0, freeze = false, loss_weights = "equal", schedule = false, device = "cpu",
    max_length = 35, batch_order = "(seed, epoch)"}
  local out = {}
  for key, value in pairs(p.train_spec or {}) do
    local option = key:match("^train%.(.+)$")
    if option and option ~= "metrics" and option ~= "epochs" and option ~= "weight_decay" then
      if defaults[option] == nil or canonical(defaults[option]) ~= value then
        out[#out + 1] = string.format("%s = %s", option, value)
      end
    end
  end
  table.sort(out)
  return out
end

local function describe_run(p, result)
  local f = p.fields
  local lines = {"## The run", "", "| | |", "| --- | --- |"}
  local function row(k, v) lines[#lines + 1] = string.format("| %s | %s |", k, (tostring(v):gsub("|", "\\|"))) end
  row("database", string.format("%s (%d rows%s)", result.database, result.rows,
    (result.skipped or 0) > 0 and string.format(", %d skipped for a missing image", result.skipped) or ""))
  local split = f.split or {}
  row("split", split.file and ("test prompts from " .. split.file) or string.format(
    "content-isolated, seed %d, %s of the prompts for training: %d train rows, %d test rows", split.seed or p.seed,
    tostring(split.train_fraction or 0.8), result.train_rows, result.test_rows))
  row("start", p.train_spec and p.train_spec.start or tostring(p.start))
  local head = f.head or "mlp"
  row("head", type(head) == "string" and head or (type(head) == "table" and head.kind) or "a head written in Lua")
  if p.trains then
    local trained = {}
    for _, m in ipairs(p.trained) do trained[#trained + 1] = m.name .. " (" .. text_of(m.text) .. ")" end
    row("trained", string.format("%s; %d epoch%s, seed %d", table.concat(trained, ", "), p.epochs,
      p.epochs == 1 and "" or "s", p.seed))
    local options = differing_options(p)
    row("options unlike AAPMT's", #options > 0 and table.concat(options, "; ") or "none")
  else
    row("trained", "no (scored as it starts)")
  end
  local scored = {}
  for _, name in ipairs(result.scored) do scored[#scored + 1] = name end
  row("scored", table.concat(scored, ", "))
  row("fingerprints", string.format("result `%s`, training `%s`", p.fingerprint:sub(1, 16),
    p.train_fingerprint:sub(1, 16)))
  row("aapmt", a.version)
  lines[#lines + 1] = ""
  return lines
end

-- ---- the tables ----

local function test_table(result)
  local lines = {"## Held-out test rows", "", "95% intervals: a bootstrap of 1000 resamples of the held-out prompts "
    .. "(all images of a prompt together).", "",
    "| task | SRCC | PLCC | KRCC | RMSE | n |", "| --- | --- | --- | --- | --- | --- |"}
  for _, m in ipairs(result.scored) do
    local s = result.results.test[m]
    local ci = s.ci or {}
    lines[#lines + 1] = string.format("| %s | %s | %s | %s | %s | %d |", m, with_interval(s.srcc, ci.srcc),
      with_interval(s.plcc, ci.plcc), with_interval(s.krcc, ci.krcc), fmt(s.rmse), s.n or 0)
  end
  lines[#lines + 1] = ""
  return lines
end

local function paper_rows_table(result)
  local lines = {"## AAPMT's evaluated rows", "", "The first N rows of the CSV, N the test size: what AAPMT's scripts "
    .. "evaluated (docs/aapmt.md §5.3); most were trained on, so they are no held-out result.", "",
    "| task | PLCC | SRCC | KRCC | RMSE | n |", "| --- | --- | --- | --- | --- | --- |"}
  for _, m in ipairs(result.scored) do
    local s = result.results.paper_rows[m]
    lines[#lines + 1] = string.format("| %s | %s | %s | %s | %s | %d |", m, fmt(s.plcc), fmt(s.srcc), fmt(s.krcc),
      fmt(s.rmse), s.n or 0)
  end
  lines[#lines + 1] = ""
  return lines
end

local function comparison_table(result)
  local lines = {"## Compared on the same held-out rows", "",
    "Differences (this run minus the other) with their paired 95% bootstrap intervals: the same resampled prompts "
    .. "for both, so an interval that excludes 0 is a difference the test rows support.", "",
    "| against | task | SRCC here / there | Δ SRCC | Δ PLCC | Δ KRCC |", "| --- | --- | --- | --- | --- | --- |"}
  for _, c in ipairs(result.comparisons) do
    local against = c.name .. (c.variant ~= "" and (" [" .. c.variant .. "]") or "")
    if c.note then lines[#lines + 1] = string.format("| %s | — | %s | | | |", against, c.note) end
    for _, t in ipairs(c.tasks) do
      local d = t.difference or {}
      local there = t.against and (against .. ": " .. t.against) or against
      lines[#lines + 1] = string.format("| %s | %s | %s / %s | %s | %s | %s |", there, t.task, fmt(t.ours.srcc),
        fmt(t.theirs.srcc), d.srcc and with_interval(d.srcc.value, d.srcc) or "—",
        d.plcc and with_interval(d.plcc.value, d.plcc) or "—", d.krcc and with_interval(d.krcc.value, d.krcc) or "—")
    end
  end
  lines[#lines + 1] = ""
  return lines
end

local function paper_table(result)
  local lines = {"## Against the paper (AAPMT's evaluated rows)", "",
    "| task | model | ours PLCC / SRCC | paper PLCC / SRCC |", "| --- | --- | --- | --- |"}
  for _, row in ipairs(result.paper) do
    lines[#lines + 1] = string.format("| %s | %s | %s / %s | %s / %s |", row.task, tostring(row.model), fmt(row.plcc),
      fmt(row.srcc), fmt(row.paper_plcc), fmt(row.paper_srcc))
  end
  lines[#lines + 1] = ""
  return lines
end

-- Plots inline, linked relative to report.md.
local function plot_lines(p, result)
  local lines = {}
  for _, made in ipairs(result.plots or {}) do
    if made.png then
      local rel = made.png:sub(#p.out + 2)
      lines[#lines + 1] = string.format("![%s](%s)", rel:match("([^/]*)%.png$"), rel)
    elseif made.missing then
      lines[#lines + 1] = "(" .. made.missing .. ")"
    end
  end
  if #lines == 0 then return {} end
  table.insert(lines, 1, "## Plots\n")
  lines[#lines + 1] = ""
  return lines
end

function M.write(p, result, extra)
  local lines = {string.format("# %s%s", p.decl.name, p.variant.id ~= "" and (" (" .. p.variant.id .. ")") or ""), ""}
  if p.fields.description then lines[#lines + 1] = p.fields.description .. "\n" end
  local function add(list) for _, l in ipairs(list) do lines[#lines + 1] = l end end
  add(describe_run(p, result))
  if result.results.test then add(test_table(result)) end
  if result.comparisons and #result.comparisons > 0 then add(comparison_table(result)) end
  if result.results.paper_rows then add(paper_rows_table(result)) end
  if #result.paper > 0 then add(paper_table(result)) end
  add(plot_lines(p, result))
  if extra then lines[#lines + 1] = extra end
  folder.write_atomic(p.out .. "/report.md", table.concat(lines, "\n") .. "\n")
end

-- ---- plots ----

function M.plots(p, result, rows, preds, run, by_protocol)
  if p.fields.plot == false then return {} end
  local ok, plot = pcall(require, "aapmt.plot")
  if not ok then return {} end
  local made = {}
  local title = p.decl.name .. (p.variant.id ~= "" and (" (" .. p.variant.id .. ")") or "")
  if p.trains then
    made[#made + 1] = (require("aapmt.loss_plot").draw{steps_csv = p.out .. "/train/steps.csv",
      out = p.out .. "/plots", name = "training_loss", title = "training loss: " .. title})
  end
  local idx = by_protocol.test or by_protocol.paper_rows
  for m, metric in ipairs(run.metrics) do
    local x, y = {}, {}
    for _, i in ipairs(idx) do
      local target = rows[i].targets[metric.target]
      if target then x[#x + 1], y[#y + 1] = target, preds[m][i] end
    end
    local s = result.results.test and result.results.test[metric.name]
    local distinct = false
    for i = 2, #x do distinct = distinct or x[i] ~= x[1] end
    if #x >= 2 and distinct then
      made[#made + 1] = plot.scatter{out = p.out .. "/plots", name = "scatter_" .. metric.name,
        title = string.format("%s: %s", title, metric.name), x = x, y = y, xlabel = metric.target,
        ylabel = metric.column, fit = true, note = s and s.srcc and string.format("held-out SRCC %.3f", s.srcc) or nil}
    end
  end
  return made
end

-- ---- the experiment's own report ----

-- The experiment's own report(ctx): ctx.result (this variant's result, nil
-- for a report over other results), ctx.results(name) (another experiment's
-- results, {variant = id, result = ...} each), ctx.plot (aapmt.plot),
-- ctx.paper (aapmt.paper), ctx.out (this folder; plots go to ctx.out ..
-- "/plots"), ctx.fields. Returns Markdown for report.md, or nil.
function M.custom(p, result)
  if not p.fields.report then return nil end
  local ok_plot, plot = pcall(require, "aapmt.plot")
  local ctx = {result = result, out = p.out, fields = p.fields, plot = ok_plot and plot or nil,
    paper = require "aapmt.paper", results = p.lookup or function() return {} end}
  local text = p.fields.report(ctx)
  if text ~= nil and type(text) ~= "string" then
    experiment.fail_at(p.decl, "report", "report() must return Markdown text or nil, got a %s", type(text))
  end
  return text
end

function M.report_only(p)
  local started = a.clock()
  folder.mkdir(p.out)
  local result = {name = p.decl.name, variant = p.variant.id, source = p.decl.path, overrides = p.overrides or {},
    fingerprint = p.fingerprint, train_fingerprint = p.train_fingerprint, spec = p.spec, out = p.out,
    scored = {}, results = {}, paper = {}, report_only = true}
  local text = M.custom(p, nil) or ""
  folder.write_atomic(p.out .. "/report.md", string.format("# %s\n\n%s%s\n", p.decl.name,
    p.fields.description and (p.fields.description .. "\n\n") or "", text))
  result.seconds = a.clock() - started
  folder.write_atomic(p.out .. "/result.json", folder.json(result) .. "\n")
  folder.write_atomic(p.out .. "/result.lua", "return " .. folder.lua_value(result) .. "\n")
  return result
end

-- ---- a sweep's report ----

-- runs/NAME/report.md for an experiment with several variants: each
-- variant's held-out numbers, and the mean ± sd (min–max) over the
-- replicate key (seed) within each value of the other sweep keys.
function M.write_sweep(dir, name, description, entries, replicate)
  local lines = {"# " .. name, ""}
  if description then lines[#lines + 1] = description .. "\n" end
  lines[#lines + 1] = "## Each variant (held-out test rows, SRCC [95% interval])\n"
  lines[#lines + 1] = "| variant | task | SRCC | PLCC | KRCC | n |"
  lines[#lines + 1] = "| --- | --- | --- | --- | --- | --- |"
  for _, e in ipairs(entries) do
    local r = e.result
    for _, task in ipairs(r.scored or {}) do
      local s = r.results.test and r.results.test[task]
      if s then
        local ci = s.ci or {}
        lines[#lines + 1] = string.format("| [%s](%s/report.md) | %s | %s | %s | %s | %d |", r.variant,
          r.out:sub(#dir + 2), task, with_interval(s.srcc, ci.srcc), with_interval(s.plcc, ci.plcc),
          with_interval(s.krcc, ci.krcc), s.n or 0)
      end
    end
  end
  lines[#lines + 1] = ""
  local groups = stats.aggregate(entries, replicate)
  for _, g in ipairs(groups) do
    lines[#lines + 1] = string.format("## Over %s %s%s\n", replicate, table.concat(g.replicates, ", "),
      g.group ~= "" and (" (" .. g.group .. ")") or "")
    lines[#lines + 1] = "Mean ± standard deviation (min–max) over the replicates.\n"
    lines[#lines + 1] = "| protocol | task | SRCC | PLCC | KRCC |"
    lines[#lines + 1] = "| --- | --- | --- | --- | --- |"
    local by = {}
    for _, row in ipairs(g.rows) do
      by[row.protocol .. "|" .. row.task] = by[row.protocol .. "|" .. row.task] or {protocol = row.protocol,
        task = row.task}
      by[row.protocol .. "|" .. row.task][row.measure] = row
    end
    for _, protocol in ipairs({"test", "paper_rows"}) do
      for _, task in ipairs(entries[1].result.scored or {}) do
        local b = by[protocol .. "|" .. task]
        if b then
          lines[#lines + 1] = string.format("| %s | %s | %s | %s | %s |", protocol, task,
            b.srcc and stats.spread(b.srcc) or "—", b.plcc and stats.spread(b.plcc) or "—",
            b.krcc and stats.spread(b.krcc) or "—")
        end
      end
    end
    lines[#lines + 1] = ""
  end
  folder.mkdir(dir)
  folder.write_atomic(dir .. "/report.md", table.concat(lines, "\n") .. "\n")
  return groups
end

return M
