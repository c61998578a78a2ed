-- Running one variant of an experiment (experiment.lua), as AAPMT ran its
-- experiments: train (or not: "raw"), score every row of the database with
-- every task's text (so cross-task numbers come free), evaluate each task
-- under each protocol, compare with the published numbers, write the report.
--
-- The variant's folder (runs/<name>[/<sweep values>]) holds train/ (the run
-- folder of train.run), scores.csv (AAPMT's columns, every row), result.json
-- (written last: its presence with the same fingerprint means "done"),
-- report.md and plots/.
local a = aapmt
local lfs = require "lfs"
local folder = require "aapmt.run_folder"
local databases = require "aapmt.databases"
local experiment = require "aapmt.experiment"
local train = require "aapmt.train"
local config = require "aapmt.train_config"
local evaluation = require "aapmt.train_eval"

local M = {}

-- AAPMT's recipe (spec §4.1, Table 1): what an experiment gets unless it says otherwise.
M.recipe = {optimizer = "adam", lr = 5e-6, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 0, batch_size = 32,
  seed = 42, loss = "sse"}
-- The tasks a database's MOS columns stand for, as AAPMT scored them.
M.tasks = {
  align = {target = "mos_align", column = "score", text = false},
  quality = {target = "mos_quality", column = "quality_score", text = config.task_prompts.quality},
  authenticity = {target = "mos_authenticity", column = "authenticity_score",
    text = config.task_prompts.authenticity},
}

-- ImageReward-v1.0's sizes, for configs that add a Metric Transformer.
M.imagereward_v1 = {
  vision = {image_size = 224, patch_size = 16, width = 1024, depth = 24, heads = 16, mlp_ratio = 4.0},
  text = {hidden_size = 768, num_hidden_layers = 12, num_attention_heads = 12, intermediate_size = 3072,
    vocab_size = 30524, max_position_embeddings = 512, layer_norm_eps = 1e-12},
}

-- ---- small helpers ----

-- FNV-1a, 64 bits: a fingerprint of what a result depends on.
local function fnv1a(s)
  local h = -3750763034362895579   -- 0xcbf29ce484222325
  for i = 1, #s do h = (h ~ s:byte(i)) * 1099511628211 end
  return string.format("%016x", h)
end

local function stat(path)
  local attr = path and lfs.attributes(path)
  return attr and string.format("%s:%d:%d", path, attr.size, attr.modification) or tostring(path)
end

local function runs_dir(fields) return fields.runs or os.getenv("AAPMT_RUNS") or "runs" end

function M.out_dir(decl, variant)
  local base = runs_dir(variant.fields) .. "/" .. decl.name
  return variant.id == "" and base or base .. "/" .. variant.id:gsub("[^%w=,._-]", "_")
end

-- ---- the database ----

local function demo_database(decl, opts, fields)
  opts = opts == true and {} or opts
  local o = {images = opts.images or 400, size = opts.size or 32, seed = opts.seed or 42,
    per_prompt = opts.per_prompt or 4}
  local dir = string.format("%s/.databases/demo-%d-%dpx-seed%d-%dpp", runs_dir(fields), o.images, o.size, o.seed,
    o.per_prompt)
  if not folder.exists(dir .. "/demo.csv") then
    local db = a.demo_db(o)
    folder.mkdir(dir)
    db:write(dir)
    db:free()
  end
  return {kind = "csv", csv = dir .. "/demo.csv", images = dir .. "/images", title = "demo",
    targets = {"mos_quality", "mos_align", "mos_authenticity"}, vocab = dir .. "/vocab.txt", demo = true}
end

-- {kind=, csv=, images=, targets=, title=, ...} or an error naming what is missing.
function M.database(decl, fields)
  local d = fields.database or experiment.fail_at(decl, "database", "'database' is required")
  if d == "demo" then return demo_database(decl, {}, fields) end
  if type(d) == "table" and d.demo then return demo_database(decl, d.demo, fields) end
  if type(d) == "string" then
    local found, why = databases.locate(d)
    if not found then experiment.fail_at(decl, "database", "%s", why) end
    return found
  end
  for _, key in ipairs({"csv", "images"}) do
    if type(d[key]) ~= "string" then experiment.fail_at(decl, "database", "database.%s (a path) is required", key) end
  end
  local known = databases.known[d.kind or ""]
  return {kind = d.kind or "csv", csv = d.csv, images = d.images, skip_missing = d.skip_missing,
    title = d.title or d.csv, targets = d.targets or (known and known.targets) or {}}
end

-- ---- the plan: everything resolved before any work ----

local function task_text(name, trained, quality_prompt)
  for _, m in ipairs(trained) do
    if m.name == name and m.text ~= nil then return m.text end
  end
  if name == "quality" and quality_prompt then return quality_prompt end
  return M.tasks[name] and M.tasks[name].text or false
end

local function train_metrics(t, quality_prompt)
  local list = type(t.metrics) == "string" and {t.metrics} or t.metrics or {"quality"}
  local out = {}
  for i, m in ipairs(list) do
    out[i] = type(m) == "string" and {name = m} or m
    if out[i].name == "quality" and out[i].text == nil then out[i].text = quality_prompt end
  end
  return out
end

-- The model config file for this variant: the base one, or ImageReward-v1.0,
-- with the Metric Transformer block when the head asks for one.
local function model_config(decl, fields, out, metric_names)
  local head = fields.head or "mlp"
  if head == "mlp" then return fields.model_config end
  local block = type(head) == "table" and head or {kind = head}
  if block.kind == "metric_attention" and not block.metrics then block.metrics = metric_names end
  local text
  if fields.model_config then
    text = folder.read(fields.model_config) or experiment.fail_at(decl, "model_config", "cannot read %s",
      fields.model_config)
    text = text:gsub("}%s*$", "") .. ', "metric_head": ' .. folder.json(block):gsub("\n%s*", " ") .. "}\n"
  else
    local cfg = {vision = M.imagereward_v1.vision, text = M.imagereward_v1.text, metric_head = block}
    text = folder.json(cfg) .. "\n"
  end
  folder.mkdir(out)
  local path = out .. "/model_config.json"
  folder.write_atomic(path, text)
  return path
end

-- Resolves a variant: database, split, start weights, model, training and
-- evaluation. upstream(name, variant) gives another experiment's result.
function M.plan(decl, variant, upstream)
  local f = variant.fields
  local p = {decl = decl, variant = variant, fields = f, out = M.out_dir(decl, variant),
    seed = f.seed or M.recipe.seed}
  if f.database == false then   -- a report over other experiments' results
    if not f.report then experiment.fail_at(decl, "database", "database = false needs a report function") end
    p.report_only = true
    p.fingerprint = fnv1a(table.concat({a.version, decl.source_text or "", folder.lua_value(f)}, "\n"))
    for _, name in ipairs(f.needs or {}) do
      local r = upstream and upstream(name, variant)
      p.fingerprint = fnv1a(p.fingerprint .. (r and r.fingerprint or "none"))
    end
    return p
  end
  -- Missing inputs are gathered, so one run names all it waits for.
  local missing = {}
  local function need(ok, value, why)
    if ok then return value end
    missing[#missing + 1] = tostring(why):gsub("^.-experiment '[^']*': ", "")
    if not tostring(why):find(" missing: ") then error(why, 0) end
  end
  do
    local ok, db = pcall(M.database, decl, f)
    p.db = need(ok, db, db)
  end

  local start = f.start or (f.database == "demo" or type(f.database) == "table" and f.database.demo) and "random"
    or "imagereward"
  p.start = start
  if start == "imagereward" then
    local path, why = databases.imagereward()
    p.checkpoint = need(path ~= nil, path, why)
  elseif start == "random" then
    if not f.model_config then experiment.fail_at(decl, "model_config", "start = \"random\" needs model_config") end
  elseif type(start) == "table" then
    local up = upstream and upstream(start.experiment, variant, start.variant)
    if up then
      p.checkpoint, p.upstream_fingerprint = up.model, up.fingerprint
    else
      need(false, nil, string.format("the result of experiment '%s'%s is missing: run it first (aapmt batch "
        .. "runs it first when given both files)", start.experiment,
        start.variant and (" [" .. start.variant .. "]") or ""))
    end
  else
    if not folder.exists(start) then experiment.fail_at(decl, "start", "checkpoint %s does not exist", start) end
    p.checkpoint = start
  end
  if not p.db then experiment.fail_at(decl, "database", "%s", table.concat(missing, "\n")) end
  local t = f.train or false
  p.trained = t and train_metrics(t, f.quality_prompt) or {}
  local eval = f.evaluate or {}
  p.tasks = {}
  for _, name in ipairs(eval.tasks or {}) do p.tasks[#p.tasks + 1] = name end
  if #p.tasks == 0 then
    for _, target in ipairs(p.db.targets) do p.tasks[#p.tasks + 1] = target:gsub("^mos_", "") end
  end
  local has = {}
  for _, target in ipairs(p.db.targets) do has[target] = true end
  for _, name in ipairs(p.tasks) do
    if not M.tasks[name] then experiment.fail_at(decl, "tasks", "unknown task '%s' (align, quality, authenticity)", name) end
    if not has[M.tasks[name].target] then
      experiment.fail_at(decl, "tasks", "task '%s' needs the column %s, which %s does not have", name,
        M.tasks[name].target, p.db.title)
    end
  end
  p.prompts = eval.prompts or {}
  p.protocols = eval.protocols or {"test", "paper_rows"}

  local names = {}
  for _, m in ipairs(p.trained) do names[#names + 1] = m.name end
  if #names == 0 then names = p.tasks end
  p.model_config = model_config(decl, f, p.out, names)
  local vocab, why
  if f.vocab then vocab = f.vocab
  elseif p.db.vocab then vocab = p.db.vocab
  elseif p.checkpoint then vocab, why = databases.vocab(nil, p.checkpoint) end
  if p.checkpoint and (not vocab or not folder.exists(vocab)) then
    need(false, nil, why or ("vocabulary " .. tostring(vocab) .. " is missing: the tokenizer's vocab.txt"))
  elseif not p.checkpoint and not vocab then
    experiment.fail_at(decl, "vocab", "a model with random weights needs vocab = \"vocab.txt\"")
  end
  if #missing > 0 then experiment.fail_at(decl, "start", "%s", table.concat(missing, "\n")) end
  p.vocab = vocab
  p.epochs = t and (t.epochs or (databases.known[f.database] or {}).epochs or 10)
  p.fingerprint = fnv1a(table.concat({a.version, decl.source_text or "", folder.lua_value(f), stat(p.db.csv),
    stat(p.checkpoint), tostring(p.upstream_fingerprint), stat(f.model_config), stat(vocab)}, "\n"))
  return p
end

-- ---- stages ----

local function open_dataset(p)
  local ds = a.dataset{kind = p.db.kind, csv = p.db.csv, images = p.db.images, targets = p.db.targets,
    skip_missing = p.db.skip_missing}
  local split = p.fields.split or {}
  local train_idx, test_idx
  if split.file then
    train_idx, test_idx = ds:split{file = split.file}
  else
    train_idx, test_idx = ds:split{seed = split.seed or p.seed, train_fraction = split.train_fraction}
  end
  return ds, train_idx, test_idx
end

local function train_stage(p, ds, train_idx, test_idx)
  local t = p.fields.train
  local out = p.out .. "/train"
  local spec = p.checkpoint and {checkpoint = p.checkpoint, config = p.model_config}
    or {config = p.model_config, seed = p.seed}
  local resume = folder.exists(out .. "/checkpoints/state.lua")
  local r = train.run{model = spec, vocab = p.vocab, data = ds, split = {train = train_idx, test = test_idx},
    metrics = p.trained, optimizer = {kind = t.optimizer or M.recipe.optimizer, lr = t.lr or M.recipe.lr,
      betas = t.betas or M.recipe.betas, eps = t.eps or M.recipe.eps, weight_decay = t.weight_decay},
    schedule = t.schedule, epochs = p.epochs, batch_size = t.batch_size or M.recipe.batch_size,
    accumulate = t.accumulate, clip = t.clip, fix_rate = t.fix_rate, freeze = t.freeze, loss = t.loss or M.recipe.loss,
    loss_weights = t.loss_weights,
    eval_every = t.eval_every, threads = t.threads, eval_batch_size = t.eval_batch_size, max_length = t.max_length,
    seed = p.seed, out = out, resume = resume,
    source = t.workers and train.loader_source{workers = t.workers} or nil}
  return out .. "/model.safetensors", r
end

-- The texts the model is scored with: one per task, then the extra prompts.
local function scoring_metrics(p)
  local list = {}
  for _, name in ipairs(p.tasks) do
    local task = M.tasks[name]
    list[#list + 1] = {name = name, text = task_text(name, p.trained, p.fields.quality_prompt), target = task.target,
      column = task.column}
  end
  for _, pr in ipairs(p.prompts) do
    list[#list + 1] = {name = pr.name, text = pr.text, target = pr.target or "mos_quality",
      column = pr.name .. "_score"}
  end
  return list
end

local function score_stage(p, model_path, rows)
  local net = model_path and a.imagereward_load(model_path, p.model_config)
    or a.imagereward_random(p.model_config, p.seed)
  local run = {net = net, tokenizer = a.tokenizer(p.vocab), metrics = scoring_metrics(p), max_length = 35,
    image_size = net:image_size(), eval_batch_size = (p.fields.evaluate or {}).batch_size or 16}
  local head = net:config().metric_head
  if head then
    local index = {}
    for i, name in ipairs(head.metrics) do index[name] = i end
    run.head_columns = {}
    for m, metric in ipairs(run.metrics) do
      run.head_columns[m] = index[metric.name] or experiment.fail_at(p.decl, "tasks",
        "task '%s' is not an output of the Metric Transformer (%s)", metric.name, table.concat(head.metrics, ", "))
      metric.text = false
    end
  end
  local preds, raw = evaluation.predict(run, rows)
  evaluation.write_scores(p.out .. "/scores.csv", run, rows, preds, raw)
  net:free()
  run.tokenizer:free()
  return run, preds, raw
end

local function subset(list, idx)
  local out = {}
  for i, j in ipairs(idx) do out[i] = list[j] end
  return out
end

-- Rows of each protocol: the held-out rows; AAPMT's first N CSV rows.
local function protocol_rows(p, rows, test_idx)
  local out = {}
  for _, protocol in ipairs(p.protocols) do
    if protocol == "test" then
      out.test = test_idx
    else
      local first = {}
      for i, r in ipairs(rows) do
        if (r.csv_row or i) <= #test_idx then first[#first + 1] = i end
      end
      out.paper_rows = first
    end
  end
  return out
end

local function evaluate_stage(p, run, rows, preds, raw, by_protocol)
  local results = {}
  for protocol, idx in pairs(by_protocol) do
    local sub_preds, sub_raw = {}, {}
    for m in ipairs(run.metrics) do sub_preds[m], sub_raw[m] = subset(preds[m], idx), subset(raw[m], idx) end
    results[protocol] = evaluation.metrics(run, subset(rows, idx), sub_preds, sub_raw)
  end
  return results
end

-- The published numbers this variant reproduces, beside ours.
local function compare_with_paper(p, results, scored)
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

local function write_report(p, result, extra)
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

local function plots(p, result, rows, preds, run, by_protocol)
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
local function custom_report(p, result)
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

local function report_only(p)
  local started = a.clock()
  folder.mkdir(p.out)
  local result = {name = p.decl.name, variant = p.variant.id, fingerprint = p.fingerprint, out = p.out,
    scored = {}, results = {}, paper = {}}
  local text = custom_report(p, nil) or ""
  folder.write_atomic(p.out .. "/report.md", string.format("# %s\n\n%s%s\n", p.decl.name,
    p.fields.description and (p.fields.description .. "\n\n") or "", text))
  result.seconds = a.clock() - started
  folder.write_atomic(p.out .. "/result.json", folder.json(result) .. "\n")
  folder.write_atomic(p.out .. "/result.lua", "return " .. folder.lua_value(result) .. "\n")
  return result
end

-- Runs a planned variant; returns its result (also written to result.json).
function M.run(p)
  if p.report_only then return report_only(p) end
  local started = a.clock()
  folder.mkdir(p.out)
  local ds, train_idx, test_idx = open_dataset(p)
  local n = ds:size()
  local all = {}
  for i = 1, n do all[i] = i end
  local rows = config.dataset_rows(ds, all)
  local skipped = ds:skipped()
  local model_path, train_result = p.checkpoint, nil
  if p.fields.train then model_path, train_result = train_stage(p, ds, train_idx, test_idx) end
  ds:free()
  local run, preds, raw = score_stage(p, model_path, rows)
  local by_protocol = protocol_rows(p, rows, test_idx)
  local result = {name = p.decl.name, variant = p.variant.id, fingerprint = p.fingerprint, out = p.out,
    database = p.db.title, seed = p.seed, rows = n, skipped = skipped, train_rows = #train_idx, test_rows = #test_idx,
    model = model_path, model_config = p.model_config, trained = p.fields.train and true or false,
    scored = {}, results = evaluate_stage(p, run, rows, preds, raw, by_protocol)}
  for i, metric in ipairs(run.metrics) do result.scored[i] = metric.name end
  if train_result then result.train = {steps = train_result.steps, out = train_result.out} end
  result.paper = compare_with_paper(p, result.results, run.metrics)
  result.plots = plots(p, result, rows, preds, run, by_protocol)
  result.seconds = a.clock() - started
  write_report(p, result, custom_report(p, result))
  folder.write_atomic(p.out .. "/result.json", folder.json(result) .. "\n")
  folder.write_atomic(p.out .. "/result.lua", "return " .. folder.lua_value(result) .. "\n")
  return result
end

-- The finished result of a variant when its fingerprint is still p's.
function M.up_to_date(p)
  local ok, r = pcall(folder.read_lua, p.out .. "/result.lua")
  if ok and r and r.fingerprint == p.fingerprint then return r end
  return nil
end

return M
