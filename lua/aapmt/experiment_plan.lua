-- Planning one variant of an experiment (experiment.lua), before any work:
-- its database, split, start weights, model config, vocabulary, training
-- and evaluation resolved and checked, every missing input named, and two
-- fingerprints (fingerprint.lua):
--
--  - the training fingerprint: everything that can change the trained
--    weights (training options with their defaults filled in, metric
--    texts, model config and head, start weights by content or the
--    upstream experiment's training fingerprint, the database by content,
--    the split, the seed, the aapmt version). A run resumes only when it
--    is the same; otherwise it trains afresh.
--  - the result fingerprint: the training one plus what only scoring and
--    reporting read (evaluation tasks and prompts, protocols, paper,
--    report, plots, comparisons). A changed one rescores without training.
--
-- Thread count, progress, comments and the description change neither.
-- Planning reads and hashes files but writes nothing and draws nothing:
-- prepare() does that right before the run (experiment_run.lua).
local a = aapmt
local folder = require "aapmt.run_folder"
local databases = require "aapmt.databases"
local experiment = require "aapmt.experiment"
local config = require "aapmt.train_config"
local database = require "aapmt.experiment_database"
local fingerprint = require "aapmt.fingerprint"
local interrupts = require "aapmt.interrupts"

local M = {}

-- AAPMT's recipe (docs/aapmt.md §4.1, Table 1): what an experiment gets unless it says otherwise.
M.recipe = {optimizer = "adam", lr = 5e-6, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 0, batch_size = 32,
  seed = 42, loss = "sse"}
-- The tasks a database's MOS columns stand for, as AAPMT scored them.
M.tasks = {
  align = {target = "mos_align", column = "score", text = false},
  quality = {target = "mos_quality", column = "quality_score", text = config.task_prompts.quality},
  authenticity = {target = "mos_authenticity", column = "authenticity_score",
    text = config.task_prompts.authenticity},
}
-- How every held-out correlation's 95% interval is drawn (experiment_stats.lua).
M.bootstrap = {resamples = 1000, seed = 20231207, level = 0.95}

-- ImageReward-v1.0's sizes, for configs that add a Metric Transformer.
M.imagereward_v1 = {
  vision = {image_size = 224, patch_size = 16, width = 1024, depth = 24, heads = 16, mlp_ratio = 4.0},
  text = {hidden_size = 768, num_hidden_layers = 12, num_attention_heads = 12, intermediate_size = 3072,
    vocab_size = 30524, max_position_embeddings = 512, layer_norm_eps = 1e-12},
}

local canonical = fingerprint.canonical
local fail_at = experiment.fail_at

-- ---- where things go ----

-- The project folder of an experiment file, and paths relative to it.
function M.project(decl) return databases.project_dir(decl.path) end

local function in_project(project, path)
  if path:sub(1, 1) == "/" then return path end
  return project .. "/" .. path
end

function M.runs_dir(decl, fields)
  local project = M.project(decl)
  if fields.runs then return in_project(project, fields.runs) end
  return databases.runs_dir(project)
end

function M.out_dir(decl, variant)
  local base = M.runs_dir(decl, variant.fields) .. "/" .. decl.name
  return variant.id == "" and base or base .. "/" .. variant.id:gsub("[^%w=,._-]", "_")
end

-- ---- metrics and tasks ----

function M.task_text(name, trained, quality_prompt)
  for _, m in ipairs(trained) do
    if m.name == name and m.text ~= nil then return m.text end
  end
  if name == "quality" and quality_prompt then return quality_prompt end
  return M.tasks[name] and M.tasks[name].text or false
end

local suggestion = experiment.suggestion

-- The trained metrics, each with its target and text resolved, checked
-- against the database's columns.
local function train_metrics(decl, t, quality_prompt, targets)
  local list = type(t.metrics) == "string" and {t.metrics} or t.metrics or {"quality"}
  if #list == 0 then fail_at(decl, "metrics", "train.metrics must name at least one metric") end
  local has, offered = {}, {}
  for _, target in ipairs(targets) do
    has[target] = true
    offered[#offered + 1] = target:gsub("^mos_", "")
  end
  local out = {}
  for i, m in ipairs(list) do
    m = type(m) == "string" and {name = m} or m
    local target = m.target or ("mos_" .. m.name)
    if not has[target] then
      if m.target then
        fail_at(decl, "metrics", "train.metrics[%d] (%s): the database has no column %s (it has %s)", i, m.name,
          target, table.concat(targets, ", "))
      end
      fail_at(decl, "metrics", "train.metrics[%d]: unknown metric '%s'%s; the database rates %s", i, m.name,
        suggestion(m.name, offered), table.concat(offered, ", "))
    end
    local text = m.text
    if text == nil then text = m.name == "quality" and quality_prompt or config.task_prompts[m.name] or false end
    out[i] = {name = m.name, target = m.target, text = text}
  end
  return out
end

-- The outputs of a Metric Transformer head, or nil for the MLP or a Lua head.
local function head_outputs(f, trained_names)
  local head = f.head or "mlp"
  if head == "mlp" or experiment.lua_head(f) then return nil end
  local block = type(head) == "table" and head or {kind = head}
  if block.metrics then return block.metrics end
  if block.kind == "coded" then return {"align", "quality", "authenticity"} end
  return trained_names
end

-- ---- the model config ----

-- The model config text for this variant: the base file, or ImageReward-
-- v1.0, with the Metric Transformer block when the head asks for one; nil
-- when the base file is used as it is.
local function model_config_text(decl, f, metric_names)
  local head = f.head or "mlp"
  if f.model_config then
    local text = folder.read(f.model_config)
    if not text then fail_at(decl, "model_config", "model_config %s does not exist or cannot be read", f.model_config) end
    local ok, err = interrupts.pcall(a.read_model_config, f.model_config)
    if not ok then fail_at(decl, "model_config", "%s", tostring(err)) end
  end
  if head == "mlp" or experiment.lua_head(f) then return nil end
  local block = {}
  for k, v in pairs(type(head) == "table" and head or {kind = head}) do block[k] = v end
  if block.kind == "metric_attention" and not block.metrics then block.metrics = metric_names end
  if f.model_config then
    return folder.read(f.model_config):gsub("}%s*$", "") .. ', "metric_head": '
      .. folder.json(block):gsub("\n%s*", " ") .. "}\n"
  end
  local cfg = {vision = M.imagereward_v1.vision, text = M.imagereward_v1.text, metric_head = block}
  return folder.json(cfg) .. "\n"
end

-- ---- the start ----

-- Where the weights come from: sets p.start, p.checkpoint or p.upstream,
-- and returns the spec's start line (nil while an input is missing).
local function resolve_start(decl, f, p, ctx, missing)
  local start = f.start or (database.is_demo(f) and "random" or "imagereward")
  p.start = start
  if start == "imagereward" then
    local path, why = databases.imagereward(p.project)
    if not path then missing[#missing + 1] = why; return nil end
    p.checkpoint = path
    return "ImageReward-v1.0 " .. assert(fingerprint.file(path))
  elseif start == "random" then
    if not f.model_config then fail_at(decl, "model_config", "start = \"random\" needs model_config") end
    return "random weights (from_scratch init, from the seed)"
  elseif type(start) == "table" then
    local found, why, mistake = ctx.find(start.experiment, p.variant, start.variant)
    if mistake then fail_at(decl, "start", "start: %s", mistake) end
    if not found then
      if why then missing[#missing + 1] = why; return nil end
      fail_at(decl, "start", "start: no experiment named '%s' in this batch or under %s%s", start.experiment, p.runs,
        suggestion(start.experiment, ctx.names()))
    end
    p.upstream = found
    return string.format("experiment %s%s, trained %s", start.experiment,
      found.variant ~= "" and (" [" .. found.variant .. "]") or "", found.train_fingerprint)
  end
  local path = in_project(p.project, start)
  if not folder.exists(path) then fail_at(decl, "start", "checkpoint %s does not exist", path) end
  p.checkpoint = path
  return "checkpoint " .. assert(fingerprint.file(path))
end

-- ---- the two specs ----

-- The options train.run gets for this variant, checked now (so a bad value
-- stops the batch before any work); experiment_run.lua passes them on as
-- they are, and the training fingerprint is made of them, so what is
-- fingerprinted is what trains.
local function training_options(decl, f, p)
  local t = f.train
  local function fail_key(key, fmt, ...) fail_at(decl, key, fmt, ...) end
  local o = {metrics = p.trained, epochs = p.epochs, seed = p.seed, schedule = t.schedule,
    batch_size = t.batch_size or M.recipe.batch_size, accumulate = t.accumulate or 1, clip = t.clip,
    fix_rate = t.fix_rate or 0, loss = t.loss or M.recipe.loss, loss_weights = t.loss_weights,
    max_length = t.max_length or config.defaults.max_length, device = t.device, precision = t.precision,
    recompute = t.recompute}
  o.optimizer = config.resolve_optimizer({kind = t.optimizer or M.recipe.optimizer, lr = t.lr or M.recipe.lr,
    betas = t.betas or M.recipe.betas, eps = t.eps or M.recipe.eps, weight_decay = t.weight_decay}, fail_key)
  o.freeze = t.freeze and config.resolve_patterns(t.freeze, fail_key) or nil
  config.check_values({metrics = o.metrics, optimizer = o.optimizer, schedule = o.schedule, epochs = o.epochs,
    batch_size = o.batch_size, accumulate = o.accumulate, seed = o.seed, max_length = o.max_length, loss = o.loss,
    clip = o.clip, fix_rate = o.fix_rate, eval_every = t.eval_every, device = o.device, precision = o.precision,
    recompute = o.recompute,
    loss_weights = o.loss_weights, head = experiment.lua_head(f) or nil}, fail_key)
  return o
end

-- The training options as fingerprinted: defaults written out, the batch
-- order, the precision where it changes the arithmetic (on the GPU).
local function fingerprinted_training(o, t)
  local out = {}
  for _, k in ipairs({"metrics", "epochs", "schedule", "batch_size", "accumulate", "clip", "fix_rate", "loss",
    "loss_weights", "max_length", "freeze"}) do
    out[k] = o[k]
  end
  for k, v in pairs(o.optimizer) do out[k == "kind" and "optimizer" or k] = v end
  out.schedule = o.schedule or false
  out.clip = o.clip or false
  out.freeze = o.freeze or false
  out.loss_weights = o.loss_weights or "equal"
  -- the background loader draws its own order (train.lua)
  out.batch_order = t.workers and "background loader" or "(seed, epoch)"
  out.device = o.device or "cpu"
  if out.device == "cuda" then out.precision = o.precision or "f32" end   -- the CPU computes in f32 whatever it says
  return out
end

local function training_spec(decl, f, p, start_line, db_line)
  local s = {["aapmt.version"] = a.version, seed = tostring(p.seed), start = start_line, database = db_line}
  local split = f.split or {}
  s.split = split.file and ("file " .. assert(fingerprint.file(split.file)))
    or string.format("seed=%d train_fraction=%s", split.seed or p.seed, canonical(split.train_fraction or 0.8))
  s.model_config = p.model_config_text and ("generated " .. a.sha256(p.model_config_text))
    or f.model_config and assert(fingerprint.file(f.model_config)) or "ImageReward-v1.0"
  if experiment.lua_head(f) then
    s.head = canonical(f.head)
    if p.start_head == "upstream" then s.start_head = "the start experiment's trained head"
    elseif p.start_head then s.start_head = assert(fingerprint.file(p.start_head)) end
  else
    s.head = canonical(f.head or "mlp")
  end
  s.vocab = p.vocab == p.db.vocab and p.db.identity and ("demo vocabulary, " .. p.db.identity)
    or assert(fingerprint.file(p.vocab))
  if p.trains then
    for k, v in pairs(fingerprinted_training(p.train_options, f.train)) do s["train." .. k] = canonical(v) end
  else
    s.train = "false"
  end
  return s
end

local function result_spec(f, p, ctx)
  local s = {train = p.train_fingerprint, bootstrap = canonical(M.bootstrap)}
  local texts = {}
  for i, name in ipairs(p.tasks) do texts[i] = {name, M.task_text(name, p.trained, f.quality_prompt)} end
  local eval = f.evaluate or {}
  s["evaluate.tasks"] = canonical(texts)
  s["evaluate.prompts"] = canonical(p.prompts)
  s["evaluate.protocols"] = canonical(p.protocols)
  s["evaluate.batch_size"] = canonical(eval.batch_size or 16)
  s.paper = canonical(f.paper or false)
  s.report = canonical(f.report or false)
  s.plot = canonical(f.plot == nil and true or f.plot)
  s.replicate = canonical(f.replicate or "seed")
  for i, c in ipairs(p.compare or {}) do
    s["compare." .. i] = string.format("%s [%s] %s", c.name, c.variant, c.fingerprint)
  end
  for _, name in ipairs(f.needs or {}) do s["needs." .. name] = canonical(ctx.fingerprints(name) or "none") end
  return s
end

-- ---- the plan ----

-- The runs this one is compared with: {{experiment=, variant=}, ...};
-- `experiment` defaults to this one (another variant of a sweep).
local function resolve_compare(decl, f, p, ctx, missing)
  local out = {}
  for i, c in ipairs(f.compare or {}) do
    if type(c) == "string" then c = {experiment = c} end
    local name = c.experiment or decl.name
    local self = name == decl.name and (c.variant or p.variant.id) == p.variant.id
    local found, why, mistake
    if not self then found, why, mistake = ctx.find(name, p.variant, c.variant) end
    if mistake then fail_at(decl, "compare", "compare[%d]: %s", i, mistake) end
    if self then
      -- a sweep's reference variant, compared with itself: nothing to do
    elseif not found then
      if why then missing[#missing + 1] = why
      else
        fail_at(decl, "compare", "compare[%d]: no experiment named '%s' in this batch or under %s%s", i, name, p.runs,
          suggestion(name, ctx.names()))
      end
    else
      out[#out + 1] = {name = found.name, variant = found.variant, fingerprint = found.fingerprint, found = found}
    end
  end
  return out
end

-- A context for planning one variant alone: other experiments' results
-- are read from disk (batch.lua gives a richer one).
local function lone_context()
  return {find = function() return nil end, names = function() return {} end, fingerprints = function() return nil end}
end

-- Resolves and checks a variant; raises an error naming the file and line
-- for a mistake. p.missing lists inputs that are not there (the variant
-- waits for them); otherwise p.train_fingerprint and p.fingerprint are set.
function M.plan(decl, variant, ctx)
  ctx = ctx or lone_context()
  local f = variant.fields
  local p = {decl = decl, variant = variant, fields = f, project = M.project(decl), seed = f.seed or M.recipe.seed,
    missing = {}}
  p.runs = M.runs_dir(decl, f)
  p.out = M.out_dir(decl, variant)
  if f.database == false then   -- a report over other experiments' results
    if not f.report then fail_at(decl, "database", "database = false needs a report function") end
    p.report_only = true
    local s = {["aapmt.version"] = a.version, report = canonical(f.report), paper = canonical(f.paper or false)}
    for _, name in ipairs(f.needs or {}) do
      if not ctx.fingerprints(name) then
        fail_at(decl, "needs", "needs: no experiment named '%s' in this batch or under %s%s", name, p.runs,
          suggestion(name, ctx.names()))
      end
      s["needs." .. name] = canonical(ctx.fingerprints(name))
    end
    p.spec, p.fingerprint = s, fingerprint.of(s)
    p.train_fingerprint = p.fingerprint
    return p
  end
  local missing = p.missing
  local db, why = database.resolve(decl, f, p)
  if not db then
    missing[#missing + 1] = why
    db = {targets = databases.known[f.database].targets, title = databases.known[f.database].title}
  end
  p.db = db
  local start_line = resolve_start(decl, f, p, ctx, missing)
  p.trains = f.train and true or false
  p.trained = p.trains and train_metrics(decl, f.train, f.quality_prompt, db.targets) or {}

  local eval = f.evaluate or {}
  p.tasks = {}
  for _, name in ipairs(eval.tasks or {}) do p.tasks[#p.tasks + 1] = name end
  if #p.tasks == 0 then
    for _, target in ipairs(db.targets) do p.tasks[#p.tasks + 1] = target:gsub("^mos_", "") end
  end
  local has = {}
  for _, target in ipairs(db.targets) do has[target] = true end
  local names = {}
  for _, m in ipairs(p.trained) do names[#names + 1] = m.name end
  if #names == 0 then names = p.tasks end
  local outputs = head_outputs(f, names)
  local is_output = {}
  for _, o in ipairs(outputs or {}) do is_output[o] = true end
  for _, name in ipairs(p.tasks) do
    if not M.tasks[name] then
      fail_at(decl, "tasks", "unknown task '%s'%s; the tasks are align, quality and authenticity", name,
        suggestion(name, {"align", "quality", "authenticity"}))
    end
    if not has[M.tasks[name].target] then
      fail_at(decl, "tasks", "task '%s' needs the column %s, which %s does not have", name, M.tasks[name].target,
        db.title)
    end
    if outputs and not is_output[name] then
      fail_at(decl, "tasks", "task '%s' is not an output of the Metric Transformer (%s)", name,
        table.concat(outputs, ", "))
    end
  end
  for _, m in ipairs(p.trained) do
    if outputs and not is_output[m.name] then
      fail_at(decl, "metrics", "metric '%s' is not an output of the Metric Transformer (%s)", m.name,
        table.concat(outputs, ", "))
    end
  end
  p.prompts = eval.prompts or {}
  for i, pr in ipairs(p.prompts) do
    if pr.target and not has[pr.target] then
      fail_at(decl, "prompts", "evaluate.prompts[%d] (%s): the database has no column %s", i, pr.name, pr.target)
    end
  end
  p.protocols = eval.protocols or {"test", "paper_rows"}
  p.head_outputs = names
  p.model_config_text = model_config_text(decl, f, names)
  p.model_config = p.model_config_text and (p.out .. "/model_config.json") or f.model_config
  p.epochs = p.trains and (f.train.epochs or (databases.known[f.database] or {}).epochs or 10) or nil
  if p.trains then p.train_options = training_options(decl, f, p) end

  if f.vocab then
    p.vocab = f.vocab
    if not folder.exists(p.vocab) then fail_at(decl, "vocab", "vocab %s does not exist", p.vocab) end
  elseif db.vocab then
    p.vocab = db.vocab
  elseif p.checkpoint then
    local vocab, vwhy = databases.vocab(nil, p.checkpoint)
    if vocab and folder.exists(vocab) then p.vocab = vocab
    else missing[#missing + 1] = vwhy or ("vocabulary " .. tostring(vocab) .. " is missing: the tokenizer's vocab.txt") end
  elseif p.upstream then
    p.vocab = p.upstream.vocab
  elseif not missing[1] then
    fail_at(decl, "vocab", "a model with random weights needs vocab = \"vocab.txt\"")
  end
  if f.split and f.split.file and not folder.exists(f.split.file) then
    fail_at(decl, "file", "split.file %s does not exist", f.split.file)
  end
  if type(f.paper) == "table" then   -- the filter of published numbers, checked now
    local ok, err = interrupts.pcall(require("aapmt.paper").find, f.paper)
    if not ok then fail_at(decl, "paper", "%s", experiment.user_message(err)) end
  end
  p.compare = resolve_compare(decl, f, p, ctx, missing)
  if #missing > 0 then return p end

  -- A Lua head starts from the trained head of its start: the file beside
  -- a start checkpoint, or what the upstream experiment trains (known from
  -- its plan, or its result, before it has run: prepare() finds the file).
  if experiment.lua_head(f) then
    local beside = p.checkpoint and (p.checkpoint:match("^(.*)/") or ".") .. "/head.safetensors"
    if beside and folder.exists(beside) then
      p.start_head = beside
    elseif p.upstream and p.upstream.trains_lua_head then
      p.start_head = "upstream"
    end
  end

  local db_line = database.identity(decl, db)
  p.train_spec = training_spec(decl, f, p, start_line, db_line)
  p.train_fingerprint = fingerprint.of(p.train_spec)
  p.spec = result_spec(f, p, ctx)
  p.fingerprint = fingerprint.of(p.spec)
  return p
end

-- ---- before the run ----

-- Draws the demo database when it is not there yet and finds the upstream
-- experiment's trained model (which must be the one planned: the same
-- training fingerprint) and its trained Lua head, if any.
function M.prepare(p)
  if p.report_only then return end
  database.draw(p.db)
  if p.upstream then
    local r = p.upstream.read()
    if not (r and r.train_fingerprint == p.upstream.train_fingerprint) then
      fail_at(p.decl, "start", "the result of experiment '%s' is not the one planned (it did not finish, or changed); "
        .. "rerun the batch", p.upstream.name)
    end
    p.checkpoint = r.model
    if p.start_head == "upstream" then p.start_head = (r.model:match("^(.*)/") or ".") .. "/head.safetensors" end
  end
end

-- The generated model config (a Metric Transformer block added), into the
-- variant's folder once it is the plan's.
function M.write_model_config(p)
  if not p.model_config_text then return end
  folder.mkdir(p.out)
  folder.write_atomic(p.model_config, p.model_config_text)
end

return M
