-- Running one variant of an experiment (experiment.lua), as AAPMT ran its
-- experiments: train (or not: "raw"), score every row of the database with
-- every task's text (so cross-task numbers come free), evaluate each task
-- under each protocol, with bootstrap intervals on the held-out rows, then
-- report (experiment_report.lua). The plan comes from experiment_plan.lua.
--
-- The variant's folder (runs/<name>[/<sweep values>]) holds train/ (the run
-- folder of train.run, and trained.lua once training finished), scores.csv
-- (AAPMT's columns, every row), result.json and result.lua (written last:
-- their presence with the same fingerprint means "done"), report.md and
-- plots/. A folder is what it says it is: training resumes only when the
-- training fingerprint is the one the folder was started with; otherwise
-- the old folder is moved aside (VARIANT.superseded-<time>, its
-- checkpoints deleted) or removed (--clean), never mixed with the new run.
local a = aapmt
local nn = require "aapmt.nn"
local folder = require "aapmt.run_folder"
local experiment = require "aapmt.experiment"
local plan = require "aapmt.experiment_plan"
local report = require "aapmt.experiment_report"
local stats = require "aapmt.experiment_stats"
local fingerprint = require "aapmt.fingerprint"
local train = require "aapmt.train"
local config = require "aapmt.train_config"
local evaluation = require "aapmt.train_eval"
local lua_head = require "aapmt.train_head"

local M = {recipe = plan.recipe, tasks = plan.tasks, plan = plan.plan, out_dir = plan.out_dir}

local function log(fmt, ...) io.stderr:write(string.format(fmt, ...), "\n") end

local function label(p)
  return p.decl.name .. (p.variant.id ~= "" and (" [" .. p.variant.id .. "]") or "")
end

-- ---- what the folder holds ----

local read_lua = folder.try_read_lua

-- What the variant's folder was made with: the training fingerprint and
-- spec of its finished training, its checkpoint or its result.
local function folder_holds(p)
  local held = {result = read_lua(p.out .. "/result.lua"), trained = read_lua(p.out .. "/train/trained.lua"),
    state = read_lua(p.out .. "/train/checkpoints/state.lua")}
  local cfg = held.state and held.state.config or {}
  held.train_fingerprint = held.trained and held.trained.train_fingerprint or cfg.fingerprint
    or held.result and held.result.train_fingerprint
  held.train_spec = held.trained and held.trained.train_spec or cfg.spec or held.result and held.result.train_spec
  -- A train/ folder without a state (a run stopped before its first
  -- checkpoint) identifies nothing: train.run starts it over.
  held.anything = held.result or held.trained or held.state
  return held
end

-- Moves the variant's folder aside (or removes it, opts.clean), saying why
-- in one line. A moved folder keeps its reports, scores and final model;
-- its intermediate checkpoints go (gigabytes for the full model).
local function supersede(p, why, opts)
  p.superseded = true
  if opts.clean then
    local freed = folder.remove_tree(p.out)
    log("%s: %s; the earlier run was removed (--clean, %.1f MB)", label(p), why, freed / 2^20)
    return
  end
  local stamp = os.date("!%Y%m%dT%H%M%SZ")
  local dest, n = p.out .. ".superseded-" .. stamp, 1
  while folder.exists(dest) do
    n = n + 1
    dest = string.format("%s.superseded-%s-%d", p.out, stamp, n)
  end
  local ok, err = os.rename(p.out, dest)
  if not ok then error(string.format("cannot move %s aside to %s: %s", p.out, dest, tostring(err)), 0) end
  local freed = folder.remove_tree(dest .. "/train/checkpoints")
  log("%s: %s; the earlier run is kept in %s (its checkpoints removed, %.1f MB freed)", label(p), why, dest,
    freed / 2^20)
end

-- Makes the folder the plan's: returns the state found ("trained": reuse
-- the trained model; "resume"; "fresh").
local function claim_folder(p, opts)
  local held = folder_holds(p)
  if held.anything then
    if opts.force then
      supersede(p, "--force: training afresh", opts)
      return "fresh"
    end
    if held.train_fingerprint ~= p.train_fingerprint then
      local changes = fingerprint.diff(held.train_spec, p.train_spec)
      local why = held.train_spec and #changes > 0 and ("the training changed (" .. fingerprint.describe_diff(changes)
        .. ")") or "its folder holds a run of other options"
      supersede(p, why .. (p.trains and ": training afresh" or ": scoring afresh"), opts)
      return "fresh"
    end
  end
  if held.trained and folder.exists(p.out .. "/train/model.safetensors") then return "trained" end
  if held.state then return "resume" end
  return "fresh"
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

local function train_stage(p, ds, train_idx, test_idx, status)
  local t = p.fields.train
  local out = p.out .. "/train"
  if status == "trained" then
    log("%s: reusing its trained model (the training is unchanged; rescoring)", label(p))
    return out .. "/model.safetensors", read_lua(out .. "/trained.lua")
  end
  local cfg = {model = p.checkpoint and {checkpoint = p.checkpoint, config = p.model_config}
      or {config = p.model_config, seed = p.seed, init = "from_scratch"},
    vocab = p.vocab, data = ds, split = {train = train_idx, test = test_idx}, out = out, resume = status == "resume",
    head = head_builder(p), fingerprint = p.train_fingerprint, spec = p.train_spec,
    source = t.workers and train.loader_source{workers = t.workers} or nil,
    eval_every = t.eval_every, threads = t.threads, eval_batch_size = t.eval_batch_size}
  for k, v in pairs(p.train_options) do cfg[k] = v end   -- what the training fingerprint was made of
  local r = train.run(cfg)
  local trained = {train_fingerprint = p.train_fingerprint, train_spec = p.train_spec, steps = r.steps, out = r.out}
  folder.write_atomic(out .. "/trained.lua", "return " .. folder.lua_value(trained) .. "\n")
  return out .. "/model.safetensors", trained
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
  a.set_matmul_precision(t.precision or "f32")   -- as training ran; never an earlier experiment's
  if t.device == "cuda" then net:to("cuda") end   -- scoring runs where training ran
  local run = {net = net, tokenizer = a.tokenizer(p.vocab), metrics = scoring_metrics(p),
    max_length = t.max_length or config.defaults.max_length,
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

local function prompts_of(rows) local out = {}; for i, r in ipairs(rows) do out[i] = r.prompt end; return out end
local function targets_of(rows, metric, m)
  local out = {}
  for i, r in ipairs(rows) do out[i] = config.target_of(r, metric, m) end
  return out
end

-- Each task under each protocol; on the held-out rows each correlation
-- also gets its bootstrap interval (s.ci.srcc = {low=, high=, ...}).
local function evaluate_stage(p, run, rows, preds, raw, by_protocol)
  local results = {}
  for protocol, idx in pairs(by_protocol) do
    local sub_rows, sub_preds, sub_raw = subset(rows, idx), {}, {}
    for m in ipairs(run.metrics) do sub_preds[m], sub_raw[m] = subset(preds[m], idx), subset(raw[m], idx) end
    results[protocol] = evaluation.metrics(run, sub_rows, sub_preds, sub_raw)
    if protocol == "test" then
      local prompts = prompts_of(sub_rows)
      for m, metric in ipairs(run.metrics) do
        results.test[metric.name].ci = stats.interval(plan.bootstrap, targets_of(sub_rows, metric, m), sub_preds[m],
          prompts)
      end
    end
  end
  return results
end

-- The held-out rows' names, in order: two runs are compared pairwise only
-- on the same rows.
local function test_set(rows, idx)
  local names = {}
  for i, j in ipairs(idx) do names[i] = rows[j].name or rows[j].image end
  return a.sha256(table.concat(names, "\n"))
end

-- Paired intervals of (ours - theirs) per shared task on the held-out rows,
-- against each run named by `compare`; extra prompts also against the task
-- scoring the same MOS column.
local function comparisons(p, run, rows, preds, test_idx, result)
  local out = {}
  local sub_rows = subset(rows, test_idx)
  local prompts = prompts_of(sub_rows)
  local function add(entry, metric, m, theirs_column)
    local ours = subset(preds[m], test_idx)
    entry.tasks[#entry.tasks + 1] = {task = metric.name, ours = result.results.test[metric.name],
      difference = stats.interval(plan.bootstrap, targets_of(sub_rows, metric, m), ours, prompts, theirs_column)}
  end
  for _, c in ipairs(p.compare) do
    local other = c.found.read()
    local entry = {name = c.name, variant = c.variant, tasks = {}}
    out[#out + 1] = entry
    if not other then
      entry.note = "no result"
    elseif other.test_set ~= result.test_set then
      entry.note = "other held-out rows (another split): not compared pairwise"
    else
      local scores = a.read_csv(other.out .. "/scores.csv")
      local col, by_name = {}, {}
      for i, h in ipairs(scores.header) do col[h] = i end
      for _, row in ipairs(scores.rows) do by_name[row[col.name]] = row end
      for m, metric in ipairs(run.metrics) do
        local k = col[metric.column]
        local theirs = other.results.test[metric.name]
        if k and theirs then
          local column = {}
          for i, r in ipairs(sub_rows) do column[i] = tonumber(by_name[r.name or r.image:match("[^/]*$")][k]) end
          add(entry, metric, m, column)
          entry.tasks[#entry.tasks].theirs = theirs
        end
      end
    end
  end
  -- extra prompts against the task of the same MOS column
  local task_of_target = {}
  for m, metric in ipairs(run.metrics) do
    if plan.tasks[metric.name] then task_of_target[metric.target] = m end
  end
  local within = {name = "this run's task texts", variant = "", tasks = {}}
  for m, metric in ipairs(run.metrics) do
    local base = task_of_target[metric.target]
    if not plan.tasks[metric.name] and base then
      add(within, metric, m, subset(preds[base], test_idx))
      within.tasks[#within.tasks].theirs = result.results.test[run.metrics[base].name]
      within.tasks[#within.tasks].against = run.metrics[base].name
    end
  end
  if #within.tasks > 0 then out[#out + 1] = within end
  return out
end

-- What the results were computed with: the variant's fields, functions and
-- Lua heads written out as text.
local function options_of(fields)
  local function clean(v)
    if type(v) == "function" then return "<function> " .. fingerprint.function_source(v) end
    if nn.is_module(v) then return "<nn> " .. v:describe() end
    if type(v) ~= "table" then return v end
    local out = {}
    for k, x in pairs(v) do out[k] = clean(x) end
    return out
  end
  return clean(fields)
end

-- Runs a planned variant; returns its result (also written to result.json).
-- opts.force: train afresh whatever the folder holds; opts.clean: remove a
-- superseded folder instead of moving it aside.
function M.run(p, opts)
  opts = opts or {}
  if p.report_only then return report.report_only(p) end
  local started = a.clock()
  plan.prepare(p)   -- inputs first: nothing is moved aside for a run that cannot start
  local status = claim_folder(p, opts)
  plan.write_model_config(p)
  folder.mkdir(p.out)
  local ds, train_idx, test_idx = open_dataset(p)
  local n = ds:size()
  local all = {}
  for i = 1, n do all[i] = i end
  local rows = config.dataset_rows(ds, all)
  local skipped = ds:skipped()
  local model_path, trained = p.checkpoint, nil
  if p.trains then model_path, trained = train_stage(p, ds, train_idx, test_idx, status) end
  ds:free()
  local run, preds, raw = score_stage(p, model_path, rows)
  local by_protocol = protocol_rows(p, rows, test_idx)
  local result = {name = p.decl.name, variant = p.variant.id, sweep = p.variant.values, source = p.decl.path,
    overrides = p.overrides or {}, fingerprint = p.fingerprint, train_fingerprint = p.train_fingerprint,
    spec = p.spec, train_spec = p.train_spec, out = p.out, database = p.db.title, seed = p.seed, rows = n,
    skipped = skipped, train_rows = #train_idx, test_rows = #test_idx, test_set = test_set(rows, test_idx),
    model = model_path, model_config = p.model_config, vocab = p.vocab, trained = p.trains, scored = {},
    replicate = p.fields.replicate or "seed", options = options_of(p.fields), aapmt_version = a.version,
    results = evaluate_stage(p, run, rows, preds, raw, by_protocol)}
  for i, metric in ipairs(run.metrics) do result.scored[i] = metric.name end
  result.trained_metrics = {}
  for i, m in ipairs(p.trained) do result.trained_metrics[i] = m.name end
  if trained then result.train = {steps = trained.steps, out = p.out .. "/train"} end
  if by_protocol.test then result.comparisons = comparisons(p, run, rows, preds, test_idx, result) end
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
  local r = read_lua(p.out .. "/result.lua")
  if r and r.fingerprint == p.fingerprint then return r end
  return nil
end

return M
