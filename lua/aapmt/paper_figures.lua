-- Report pieces the paper's figure experiments share (experiments/paper/):
-- bars of raw and trained models beside the published bars, Figure 6's
-- sub-metric shares, Table 1's options. Each returns Markdown and draws its
-- plots into ctx.out/plots when gnuplot is there.
local paper = require "aapmt.paper"
local databases = require "aapmt.databases"
local runner = require "aapmt.experiment_run"

local M = {}

local SHORT = {agiqa3k = "3K", aigciqa2023 = "2023"}

local function fmt(v) return type(v) == "number" and string.format("%.4f", v) or "—" end

local function variant_result(ctx, name, database)
  for _, r in ipairs(ctx.results(name)) do
    if r.variant == "database=" .. database then return r.result end
  end
  return nil
end

-- opts: figure ("fig1"), task ("align"), raw, trained (experiment names), title.
function M.bars(ctx, opts)
  local lines = {"| bar | ours, AAPMT's rows | ours, held-out rows | paper |", "| --- | --- | --- | --- |"}
  local groups, values = {}, {}
  for _, db in ipairs({"agiqa3k", "aigciqa2023"}) do
    for _, kind in ipairs({"raw", "trained", "best"}) do
      local entries = paper.find{table = opts.figure, database = db, published = true}
      local published
      for _, e in ipairs(entries) do
        if (kind == "best" and e.protocol == "cited") or (kind ~= "best" and e.model:find("^" .. kind)) then
          published = e
        end
      end
      local r = kind ~= "best" and variant_result(ctx, opts[kind], db) or nil
      local ours = r and r.results.paper_rows and r.results.paper_rows[opts.task]
      local test = r and r.results.test and r.results.test[opts.task]
      local label = kind .. "-" .. SHORT[db]
      lines[#lines + 1] = string.format("| %s | %s / %s | %s / %s | %s / %s |", label, fmt(ours and ours.plcc),
        fmt(ours and ours.srcc), fmt(test and test.plcc), fmt(test and test.srcc),
        fmt(published and published.plcc), fmt(published and published.srcc))
      if ours and ours.plcc and published then
        groups[#groups + 1] = label
        values[#values + 1] = {ours.plcc, ours.srcc, published.plcc, published.srcc}
      end
    end
  end
  local text = table.concat(lines, "\n") .. "\n"
  if ctx.plot and #groups > 0 then
    local made = ctx.plot.bars{out = ctx.out .. "/plots", name = opts.figure, title = opts.title,
      groups = groups, series = {"PLCC", "SRCC", "PLCC (paper)", "SRCC (paper)"}, values = values,
      ylabel = "correlation", yrange = {0, 1}}
    text = text .. "\n" .. (made.missing or ("![" .. opts.title .. "](plots/" .. opts.figure .. ".png)")) .. "\n"
  elseif #groups == 0 then
    text = text .. "\nNo results of " .. opts.raw .. " or " .. opts.trained .. " yet: nothing to draw.\n"
  end
  return text
end

-- Figure 6 from this run's correlations: share_i ∝ 1/(C_base − C_i).
function M.shares(ctx)
  local res = ctx.result.results.paper_rows
  local base = res.quality
  local parts = {}
  for _, p in ipairs(paper.figure6.parts) do
    local s = res[p.name]
    parts[#parts + 1] = {name = p.name, plcc = s.plcc, srcc = s.srcc, paper = p}
  end
  local lines = {string.format("Base (\"%s\"): PLCC %s, SRCC %s (paper %s, %s).\n",
    paper.figure6.base.prompt, fmt(base.plcc), fmt(base.srcc), fmt(paper.figure6.base.plcc),
    fmt(paper.figure6.base.srcc)),
    "| sub-metric | PLCC | SRCC | PLCC share | SRCC share | paper shares |", "| --- | --- | --- | --- | --- | --- |"}
  local shares, valid = {}, {}
  for _, metric in ipairs({"plcc", "srcc"}) do
    valid[metric] = true
    for _, p in ipairs(parts) do
      if not (base[metric] > p[metric]) then valid[metric] = false end
    end
    shares[metric] = valid[metric] and paper.figure6_shares(metric, base, parts) or {}
  end
  for i, p in ipairs(parts) do
    local function pct(m) return shares[m][i] and string.format("%.1f %%", 100 * shares[m][i]) or "—" end
    lines[#lines + 1] = string.format("| %s | %s | %s | %s | %s | %.1f %% / %.1f %% |", p.name, fmt(p.plcc),
      fmt(p.srcc), pct("plcc"), pct("srcc"), p.paper.share.plcc, p.paper.share.srcc)
  end
  for _, metric in ipairs({"plcc", "srcc"}) do
    if not valid[metric] then
      lines[#lines + 1] = string.format("\nA sub-metric text does at least as well as the base in %s: the shares "
        .. "(1/(C_base − C_i)) are undefined there.", metric:upper())
    elseif ctx.plot then
      local slices = {}
      for i, p in ipairs(parts) do slices[i] = {label = p.name, value = shares[metric][i]} end
      ctx.plot.donut{out = ctx.out .. "/plots", name = "fig6_" .. metric,
        title = "Figure 6: quality sub-metric shares (" .. metric:upper() .. ")", slices = slices}
    end
  end
  return table.concat(lines, "\n") .. "\n"
end

-- Table 1: the paper's options beside this program's defaults.
function M.options(ctx)
  local recipe = runner.recipe
  local lines = {"| option | AGIQA-3K paper | AGIQA-3K here | AIGCIQA2023 paper | AIGCIQA2023 here |",
    "| --- | --- | --- | --- | --- |"}
  local function ours(key, db)
    if key == "epochs" then return databases.known[db].epochs end
    return recipe[key]
  end
  local function show(v) return type(v) == "table" and table.concat(v, ", ") or tostring(v) end
  for _, key in ipairs({"epochs", "batch_size", "lr", "betas", "eps", "weight_decay"}) do
    lines[#lines + 1] = string.format("| %s | %s | %s | %s | %s |", key, show(paper.table1.agiqa3k[key]),
      show(ours(key, "agiqa3k")), show(paper.table1.aigciqa2023[key]), show(ours(key, "aigciqa2023")))
  end
  lines[#lines + 1] = string.format("\nOptimizer: %s (torch.optim.Adam's update, bit for bit); loss: %s, the sum "
    .. "of squared errors over each batch; seed %d; no schedule.", recipe.optimizer, recipe.loss, recipe.seed)
  return table.concat(lines, "\n") .. "\n"
end

return M
