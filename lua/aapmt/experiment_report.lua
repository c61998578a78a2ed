-- The report of an experiment run (experiment_run.lua): its numbers beside
-- the published ones, report.md, the plots, and the experiment's own
-- report() hook.
local a = aapmt
local folder = require "aapmt.run_folder"
local experiment = require "aapmt.experiment"

local M = {}

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

local function fmt(v) return type(v) == "number" and string.format("%.4f", v) or "—" end

function M.write(p, result, extra)
  local lines = {string.format("# %s%s", p.decl.name, p.variant.id ~= "" and (" (" .. p.variant.id .. ")") or ""), ""}
  if p.fields.description then lines[#lines + 1] = p.fields.description .. "\n" end
  for _, protocol in ipairs(p.protocols) do
    local r = result.results[protocol]
    if r then
      lines[#lines + 1] = string.format("## %s\n", protocol == "test" and "held-out test rows"
        or "AAPMT's evaluated rows (first N CSV rows, spec §5.3)")
      lines[#lines + 1] = "| task | PLCC | SRCC | KRCC | RMSE | n |"
      lines[#lines + 1] = "| --- | --- | --- | --- | --- | --- |"
      for _, m in ipairs(result.scored) do
        local s = r[m]
        lines[#lines + 1] = string.format("| %s | %s | %s | %s | %s | %d |", m, fmt(s.plcc), fmt(s.srcc), fmt(s.krcc),
          fmt(s.rmse), s.n or 0)
      end
      lines[#lines + 1] = ""
    end
  end
  if #result.paper > 0 then
    lines[#lines + 1] = "## against the paper (AAPMT's evaluated rows)\n"
    lines[#lines + 1] = "| task | model | ours PLCC / SRCC | paper PLCC / SRCC |"
    lines[#lines + 1] = "| --- | --- | --- | --- |"
    for _, row in ipairs(result.paper) do
      lines[#lines + 1] = string.format("| %s | %s | %s / %s | %s / %s |", row.task, tostring(row.model), fmt(row.plcc),
        fmt(row.srcc), fmt(row.paper_plcc), fmt(row.paper_srcc))
    end
  end
  if extra then lines[#lines + 1] = "\n" .. extra end
  folder.write_atomic(p.out .. "/report.md", table.concat(lines, "\n") .. "\n")
end

local function loss_curve(p, plot)
  local path = p.out .. "/train/epochs.csv"
  if not folder.exists(path) then return nil end
  local t = a.read_csv(path)
  local x, y = {}, {}
  for i, row in ipairs(t.rows) do x[i], y[i] = tonumber(row[1]), tonumber(row[4]) end
  if #x == 0 then return nil end
  return plot.lines{out = p.out .. "/plots", name = "training_loss", title = "training loss: " .. p.decl.name,
    xlabel = "epoch", ylabel = "mean loss per step", series = {{name = p.decl.name, x = x, y = y}}}
end

function M.plots(p, result, rows, preds, run, by_protocol)
  if p.fields.plot == false then return {} end
  local ok, plot = pcall(require, "aapmt.plot")
  if not ok then return {} end
  local made = {}
  made[#made + 1] = loss_curve(p, plot)
  local idx = by_protocol.test or by_protocol.paper_rows
  for m, metric in ipairs(run.metrics) do
    local x, y = {}, {}
    for _, i in ipairs(idx) do
      local target = rows[i].targets[metric.target]
      if target then x[#x + 1], y[#y + 1] = target, preds[m][i] end
    end
    local s = result.results.test and result.results.test[metric.name]
    if #x >= 2 then
      made[#made + 1] = plot.scatter{out = p.out .. "/plots", name = "scatter_" .. metric.name,
        title = string.format("%s: %s", p.decl.name, metric.name), x = x, y = y, xlabel = metric.target,
        ylabel = metric.column, fit = true, note = s and s.srcc and string.format("SRCC %.3f", s.srcc) or nil}
    end
  end
  return made
end

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
  local result = {name = p.decl.name, variant = p.variant.id, fingerprint = p.fingerprint, out = p.out,
    scored = {}, results = {}, paper = {}}
  local text = M.custom(p, nil) or ""
  folder.write_atomic(p.out .. "/report.md", string.format("# %s\n\n%s%s\n", p.decl.name,
    p.fields.description and (p.fields.description .. "\n\n") or "", text))
  result.seconds = a.clock() - started
  folder.write_atomic(p.out .. "/result.json", folder.json(result) .. "\n")
  folder.write_atomic(p.out .. "/result.lua", "return " .. folder.lua_value(result) .. "\n")
  return result
end

return M
