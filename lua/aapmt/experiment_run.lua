-- Running one variant of an experiment (experiment.lua), as AAPMT ran its
-- experiments: train (or not: "raw"), score every row of the database with
-- every task's text (so cross-task numbers come free), evaluate each task
-- under each protocol, then report (experiment_report.lua). The plan comes
-- from experiment_plan.lua.
--
-- The variant's folder (runs/<name>[/<sweep values>]) holds train/ (the run
-- folder of train.run), scores.csv (AAPMT's columns, every row), result.json
-- (written last: its presence with the same fingerprint means "done"),
-- report.md and plots/.
local a = aapmt
local nn = require "aapmt.nn"
local folder = require "aapmt.run_folder"
local experiment = require "aapmt.experiment"
local plan = require "aapmt.experiment_plan"
local report = require "aapmt.experiment_report"
local train = require "aapmt.train"
local config = require "aapmt.train_config"
local evaluation = require "aapmt.train_eval"
local lua_head = require "aapmt.train_head"

local M = {recipe = plan.recipe, tasks = plan.tasks, plan = plan.plan, out_dir = plan.out_dir}

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

-- A head written in Lua, fresh for this run: the declaration's module is
-- cloned (it is shared by every variant) or its function called, then the
-- start's trained head loaded when there is one (experiment_plan.lua).
local function head_builder(p)
  if not experiment.lua_head(p.fields) then return nil end
  local function fail(fmt, ...) experiment.fail_at(p.decl, "head", fmt, ...) end
  return function(info)
    local spec = p.fields.head
    local module = lua_head.build(nn.is_module(spec) and spec:clone() or spec, info, fail)
    if p.start_head then lua_head.load({module = module, desc = module:describe()}, p.start_head, fail) end
    return module
  end, fail
end

local function train_stage(p, ds, train_idx, test_idx)
  local t = p.fields.train
  local out = p.out .. "/train"
  local spec = p.checkpoint and {checkpoint = p.checkpoint, config = p.model_config}
    or {config = p.model_config, seed = p.seed, init = "from_scratch"}
  local resume = folder.exists(out .. "/checkpoints/state.lua")
  local r = train.run{model = spec, vocab = p.vocab, data = ds, split = {train = train_idx, test = test_idx},
    metrics = p.trained, optimizer = {kind = t.optimizer or plan.recipe.optimizer, lr = t.lr or plan.recipe.lr,
      betas = t.betas or plan.recipe.betas, eps = t.eps or plan.recipe.eps, weight_decay = t.weight_decay},
    schedule = t.schedule, epochs = p.epochs, batch_size = t.batch_size or plan.recipe.batch_size,
    accumulate = t.accumulate, clip = t.clip, fix_rate = t.fix_rate, freeze = t.freeze, loss = t.loss or plan.recipe.loss,
    loss_weights = t.loss_weights,
    eval_every = t.eval_every, threads = t.threads, eval_batch_size = t.eval_batch_size, max_length = t.max_length,
    device = t.device, precision = t.precision, seed = p.seed, out = out, resume = resume, head = head_builder(p),
    source = t.workers and train.loader_source{workers = t.workers} or nil}
  return out .. "/model.safetensors", r
end

-- The texts the model is scored with: one per task, then the extra prompts.
local function scoring_metrics(p)
  local list = {}
  for _, name in ipairs(p.tasks) do
    local task = plan.tasks[name]
    list[#list + 1] = {name = name, text = plan.task_text(name, p.trained, p.fields.quality_prompt), target = task.target,
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
    or a.imagereward_random(p.model_config, p.seed, {init = "from_scratch"})
  local t = type(p.fields.train) == "table" and p.fields.train or {}
  if t.precision then a.set_matmul_precision(t.precision) end
  if t.device == "cuda" then net:to("cuda") end   -- scoring runs where training ran
  local run = {net = net, tokenizer = a.tokenizer(p.vocab), metrics = scoring_metrics(p), max_length = 35,
    image_size = net:image_size(), eval_batch_size = (p.fields.evaluate or {}).batch_size or 16}
  local lacking, head
  run.head_columns, lacking, head = evaluation.head_columns(net, run.metrics)
  if lacking then
    experiment.fail_at(p.decl, "tasks", "task '%s' is not an output of the Metric Transformer (%s)", lacking,
      table.concat(head.metrics, ", "))
  end
  local build, fail = head_builder(p)
  if build then
    if run.head_columns then fail("a Lua head replaces the MLP head; the model config has a Metric Transformer") end
    local hidden = net:config().text.hidden_size
    local module = build({hidden = hidden, outputs = #p.head_outputs, metrics = p.head_outputs, seed = p.seed})
    run.lua_head = lua_head.bind(module, hidden, run.metrics, p.head_outputs, fail)
    local trained = model_path and (model_path:match("^(.*)/") or ".") .. "/" .. lua_head.FILE
    if p.fields.train and trained then lua_head.load(run.lua_head, trained, fail) end
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

-- Runs a planned variant; returns its result (also written to result.json).
function M.run(p)
  if p.report_only then return report.report_only(p) end
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
  result.trained_metrics = {}
  for i, m in ipairs(p.trained) do result.trained_metrics[i] = m.name end
  if train_result then result.train = {steps = train_result.steps, out = train_result.out} end
  result.paper = report.compare_with_paper(p, result.results, run.metrics)
  result.plots = report.plots(p, result, rows, preds, run, by_protocol)
  result.seconds = a.clock() - started
  report.write(p, result, report.custom(p, result))
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
