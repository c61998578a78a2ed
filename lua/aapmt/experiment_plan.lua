-- Planning one variant of an experiment (experiment.lua): its database,
-- split, start weights, model config, vocabulary, training and evaluation
-- resolved, every missing input named, and the fingerprint of everything
-- the result depends on, before any work (experiment_run.lua does the work).
local a = aapmt
local lfs = require "lfs"
local folder = require "aapmt.run_folder"
local databases = require "aapmt.databases"
local experiment = require "aapmt.experiment"
local config = require "aapmt.train_config"

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
  -- The folder is keyed by the parameters and by what the generator draws
  -- (the first rows' prompts and scores), so a cache from another version
  -- of the generator is never reused.
  local db = a.demo_db(o)
  local drawn = {}
  for i = 1, math.min(3, db:size()) do
    local r = db:row(i)
    drawn[#drawn + 1] = string.format("%s|%.17g|%.17g|%.17g", r.prompt, r.mos_quality, r.mos_align, r.mos_authenticity)
  end
  local dir = string.format("%s/.databases/demo-%d-%dpx-seed%d-%dpp-%s", runs_dir(fields), o.images, o.size, o.seed,
    o.per_prompt, fnv1a(table.concat(drawn, "\n")):sub(1, 8))
  if not folder.exists(dir .. "/demo.csv") then
    folder.mkdir(dir)
    db:write(dir)
  end
  db:free()
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

function M.task_text(name, trained, quality_prompt)
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
  if head == "mlp" or experiment.lua_head(fields) then return fields.model_config end
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

-- What the fingerprint reads of the fields: a Lua head by its layers (the
-- file's text, also fingerprinted, covers how it is built).
local function fingerprinted(f)
  if not experiment.lua_head(f) then return folder.lua_value(f) end
  local shallow = {}
  for k, v in pairs(f) do shallow[k] = v end
  shallow.head = type(f.head) == "function" and "<Lua head function>" or f.head:describe()
  return folder.lua_value(shallow)
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
    p.fingerprint = fnv1a(table.concat({a.version, decl.source_text or "", fingerprinted(f)}, "\n"))
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
  p.fingerprint = fnv1a(table.concat({a.version, decl.source_text or "", fingerprinted(f), stat(p.db.csv),
    stat(p.checkpoint), tostring(p.upstream_fingerprint), stat(f.model_config), stat(vocab)}, "\n"))
  -- A Lua head starts from the trained head beside the start checkpoint
  -- (an upstream experiment's head.safetensors) when there is one.
  p.head_outputs = names
  local beside = experiment.lua_head(f) and p.checkpoint
    and (p.checkpoint:match("^(.*)/") or ".") .. "/head.safetensors"
  if beside and folder.exists(beside) then
    p.start_head = beside
    p.fingerprint = fnv1a(p.fingerprint .. stat(beside))
  end
  return p
end

return M
