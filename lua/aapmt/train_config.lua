-- The options of train.run (lua/aapmt/train.lua): checked, defaults filled,
-- metrics given their text and score column, and the train/test rows found
-- and checked (image readable, prompt, every target a number) before any
-- work starts.
local a = aapmt

local M = {}

M.task_prompts = {
  quality = "extremely high quality image, with vivid details",
  authenticity = "very authentic image",
}
-- AAPMT's scoring CSV names the prediction columns like this (docs/aapmt.md §5.1).
M.score_columns = {align = "score", quality = "quality_score", authenticity = "authenticity_score"}

M.defaults = {
  epochs = 1, batch_size = 32, accumulate = 1, loss = "sse", seed = 42, fix_rate = 0,
  checkpoint_every = "epoch", resume = false, max_length = 35, progress = true, eval_every = "epoch",
  paper_rows = false,
}
M.known = {
  model = true, vocab = true, data = true, split = true, train = true, test = true, metrics = true,
  optimizer = true, schedule = true, epochs = true, batch_size = true, accumulate = true, clip = true,
  fix_rate = true, loss = true, seed = true, out = true, checkpoint_every = true, resume = true,
  stop_after_steps = true, eval_batch_size = true, progress = true, on_step = true, source = true,
  max_length = true, threads = true, freeze = true, eval_every = true, paper_rows = true, loss_weights = true,
  head = true, device = true, precision = true, fingerprint = true, spec = true, recompute = true,
}
M.known_optimizer = {kind = true, lr = true, betas = true, eps = true, weight_decay = true}

function M.fail(fmt, ...)
  error("train.run: " .. string.format(fmt, ...), 0)
end
local fail = M.fail

local function resolve_metrics(list)
  if type(list) == "string" then list = {list} end
  if type(list) ~= "table" or #list == 0 then fail("option 'metrics' must be a non-empty list of metric names") end
  local out = {}
  for i, m in ipairs(list) do
    if type(m) == "string" then m = {name = m} end
    if type(m) ~= "table" or type(m.name) ~= "string" then
      fail("metrics[%d] must be a name or a table with name=", i)
    end
    for k in pairs(m) do
      if k ~= "name" and k ~= "target" and k ~= "text" then fail("metrics[%d]: unknown option '%s'", i, tostring(k)) end
    end
    local text = m.text
    if text == nil then text = M.task_prompts[m.name] or false end
    out[i] = {name = m.name, target = m.target or ("mos_" .. m.name), text = text,
      column = M.score_columns[m.name] or (m.name .. "_score")}
  end
  return out
end

-- freeze: Lua patterns matched against parameter names (a string is one).
-- fail(key, fmt, ...) reports a bad value of option `key`.
function M.resolve_patterns(p, fail_key)
  if p == nil then return {} end
  if type(p) == "string" then p = {p} end
  if type(p) ~= "table" then fail_key("freeze", "option 'freeze' must be a Lua pattern or a list of them") end
  for i, pat in ipairs(p) do
    if type(pat) ~= "string" then fail_key("freeze", "freeze[%d] must be a string (a Lua pattern)", i) end
    local ok, err = pcall(string.find, "", pat)
    if not ok then
      fail_key("freeze", "freeze[%d]: bad Lua pattern '%s': %s", i, pat, (tostring(err):gsub("^.-: ", "")))
    end
  end
  return p
end

function M.resolve_optimizer(o, fail_key)
  if o == nil then o = {} end
  if type(o) == "string" then o = {kind = o} end
  if type(o) ~= "table" then fail_key("optimizer", "option 'optimizer' must be a kind name or a table") end
  for k in pairs(o) do
    if not M.known_optimizer[k] then fail_key("optimizer", "optimizer: unknown option '%s'", tostring(k)) end
  end
  local kind = o.kind or "adam"
  if kind ~= "adam" and kind ~= "adamw" then
    fail_key("optimizer", "optimizer kind must be 'adam' or 'adamw', got '%s'", tostring(kind))
  end
  if o.lr ~= nil and not (type(o.lr) == "number" and o.lr > 0) then
    fail_key("lr", "the learning rate must be a positive number, got %s", tostring(o.lr))
  end
  return {kind = kind, lr = o.lr or 5e-6, betas = o.betas or {0.9, 0.999}, eps = o.eps or 1e-8,
    weight_decay = o.weight_decay or (kind == "adamw" and 1e-2 or 0)}
end

-- The values of the options that need no data: counts, names, the
-- schedule. Shared by train.run and the experiment planner, which checks
-- them before any work (fail_key names the option, for the file's line).
-- r.metrics must be resolved (a list).
function M.check_values(r, fail_key)
  for _, key in ipairs({"epochs", "batch_size", "accumulate", "seed", "max_length"}) do
    if math.type(r[key]) ~= "integer" or (key ~= "seed" and r[key] < 1) then
      fail_key(key, "option '%s' must be a positive integer, got %s", key, tostring(r[key]))
    end
  end
  if r.loss ~= "sse" and r.loss ~= "mse" then
    fail_key("loss", "option 'loss' must be 'sse' or 'mse', got '%s'", tostring(r.loss))
  end
  local ce = r.checkpoint_every
  if ce ~= nil and ce ~= "epoch" and ce ~= false and not (math.type(ce) == "integer" and ce >= 1) then
    fail_key("checkpoint_every", "option 'checkpoint_every' must be a step count, 'epoch' or false, got %s", tostring(ce))
  end
  if r.clip ~= nil and not (type(r.clip) == "number" and r.clip > 0) then
    fail_key("clip", "option 'clip' must be a positive number")
  end
  if type(r.fix_rate) ~= "number" or r.fix_rate < 0 or r.fix_rate > 1 then
    fail_key("fix_rate", "option 'fix_rate' must be in [0, 1]")
  end
  local ee = r.eval_every
  if ee ~= nil and ee ~= "epoch" and ee ~= false and not (math.type(ee) == "integer" and ee >= 1) then
    fail_key("eval_every", "option 'eval_every' must be 'epoch', a number of epochs or false, got %s", tostring(ee))
  end
  if r.device ~= nil and r.device ~= "cpu" and r.device ~= "cuda" then
    fail_key("device", "option 'device' must be 'cpu' or 'cuda', got %s", tostring(r.device))
  end
  if r.precision ~= nil and r.precision ~= "f32" and r.precision ~= "tf32" and r.precision ~= "bf16" then
    fail_key("precision", "option 'precision' (matmuls on the GPU) must be 'f32', 'tf32' or 'bf16', got %s",
      tostring(r.precision))
  end
  if r.recompute ~= nil and r.recompute ~= false and r.recompute ~= "block" then
    fail_key("recompute", "option 'recompute' must be 'block' (recompute each ViT block and BERT layer in the "
      .. "backward pass) or false, got %s", tostring(r.recompute))
  end
  if r.device == "cuda" and r.head ~= nil then
    fail_key("device", "option 'head' (a head written in Lua) runs on the CPU only; leave 'device' unset or use the "
      .. "model's own head")
  end
  local lw = r.loss_weights
  if lw ~= nil and lw ~= "dynamic" then
    if type(lw) ~= "table" or #lw ~= #r.metrics then
      fail_key("loss_weights", "option 'loss_weights' must be \"dynamic\" or a list of %d positive numbers (one per "
        .. "metric)", #r.metrics)
    end
    for i, w in ipairs(lw) do
      if type(w) ~= "number" or not (w > 0) then fail_key("loss_weights", "loss_weights[%d] must be a positive number", i) end
    end
  end
  if r.schedule ~= nil then
    if type(r.schedule) ~= "table" then fail_key("schedule", "option 'schedule' must be a table, e.g. {kind = \"cosine\"}") end
    -- The run's length is not known before its rows are: a long one stands
    -- in, so the kind and its settings are checked; train.run checks the
    -- warm-up against the real length.
    local s = {base_lr = r.optimizer.lr, total = 2 ^ 40}
    for k, v in pairs(r.schedule) do s[k] = v end
    local ok, err = pcall(a.schedule, s)
    if not ok then fail_key("schedule", "%s", (tostring(err):gsub("^[^\n:]*%.lua:%d+: ", ""))) end
  end
end

-- Rows as {image=, prompt=, name=, targets={name = value}}; a dataset's
-- positional targets get their column names.
function M.dataset_rows(ds, indices)
  local names, rows = ds:targets(), {}
  for _, i in ipairs(indices) do
    local r = ds:row(i)
    local named = {}
    for t, v in ipairs(r.targets) do named[names[t]] = v end
    r.targets = named
    rows[#rows + 1] = r
  end
  return rows
end

local function pick(list, indices)
  local out = {}
  for i, j in ipairs(indices) do out[i] = list[j] end
  return out
end

-- The train and test rows from cfg.train/cfg.test, or cfg.data and cfg.split.
local function resolve_rows(cfg)
  if cfg.train then
    if cfg.data then fail("give either data (with split) or train/test rows, not both") end
    return cfg.train, cfg.test or {}
  end
  local data = cfg.data
  if data == nil then fail("option 'data' (rows or an aapmt.dataset) or 'train' is required") end
  local is_list = type(data) == "table"
  local n = is_list and #data or data:size()
  local split = cfg.split
  local train_idx, test_idx
  if split == nil then
    fail("option 'split' is required with 'data': {seed=}, {train=, test=} or {test_prompts=}")
  elseif type(split) ~= "table" then
    fail("option 'split' must be a table")
  elseif split.train then
    train_idx, test_idx = split.train, split.test or {}
  elseif is_list then
    local prompts = {}
    for i, r in ipairs(data) do prompts[i] = r.prompt end
    if split.seed then
      train_idx, test_idx = a.split_prompts(prompts, split.seed, split.train_fraction)
    elseif split.test_prompts then
      local held = {}
      for _, p in ipairs(split.test_prompts) do held[p] = true end
      train_idx, test_idx = {}, {}
      for i, p in ipairs(prompts) do table.insert(held[p] and test_idx or train_idx, i) end
    else
      fail("option 'split' needs seed=, train= or test_prompts=")
    end
  else
    train_idx, test_idx = data:split(split)
  end
  -- AAPMT's evaluated rows (train_eval.lua): the first #test rows, in order.
  local first_rows = {}
  for i = 1, math.min(#test_idx, n) do first_rows[i] = i end
  if is_list then return pick(data, train_idx), pick(data, test_idx), pick(data, first_rows) end
  return M.dataset_rows(data, train_idx), M.dataset_rows(data, test_idx), M.dataset_rows(data, first_rows)
end

-- Every row must have an image that opens, a prompt and each metric's target.
local function check_rows(rows, metrics, what)
  for i, r in ipairs(rows) do
    if type(r) ~= "table" then fail("%s row %d is a %s, not a table", what, i, type(r)) end
    if type(r.image) ~= "string" then fail("%s row %d (%s) has no image path", what, i, tostring(r.name)) end
    local f = io.open(r.image, "rb")
    if not f then fail("%s row %d: image %s does not exist or cannot be read", what, i, r.image) end
    f:close()
    if type(r.prompt) ~= "string" then fail("%s row %d (%s) has no prompt", what, i, r.image) end
    if type(r.targets) ~= "table" then fail("%s row %d (%s) has no targets", what, i, r.image) end
    for m, metric in ipairs(metrics) do
      local y = r.targets[metric.target]
      if y == nil then y = r.targets[m] end
      if type(y) ~= "number" then
        fail("%s row %d (%s) has no number for target '%s' (metric %s)", what, i, r.image, metric.target, metric.name)
      end
    end
  end
end

function M.target_of(r, metric, m)
  local y = r.targets[metric.target]
  if y == nil then y = r.targets[m] end
  return y
end

function M.resolve(cfg)
  if type(cfg) ~= "table" then fail("expects a table of options") end
  for k in pairs(cfg) do
    if not M.known[k] then fail("unknown option '%s'", tostring(k)) end
  end
  local r = {}
  for k, v in pairs(M.defaults) do r[k] = v end
  for k, v in pairs(cfg) do r[k] = v end
  if not r.model then fail("option 'model' is required (a checkpoint path or {config=, seed=})") end
  if type(r.vocab) ~= "string" then fail("option 'vocab' (a vocab.txt path) is required") end
  local vf = io.open(r.vocab, "r")
  if not vf then fail("vocab file %s does not exist", r.vocab) end
  vf:close()
  if type(r.out) ~= "string" then fail("option 'out' (the run folder) is required") end
  local function fail_key(_, ...) fail(...) end
  r.metrics = resolve_metrics(r.metrics or {"quality"})
  r.optimizer = M.resolve_optimizer(r.optimizer, fail_key)
  M.check_values(r, fail_key)
  r.eval_batch_size = r.eval_batch_size or r.batch_size
  r.freeze = M.resolve_patterns(r.freeze, fail_key)
  local paper_rows
  r.train_rows, r.test_rows, paper_rows = resolve_rows(cfg)
  if r.paper_rows then
    if type(r.paper_rows) ~= "boolean" then fail("option 'paper_rows' must be true or false") end
    if not paper_rows then
      fail("option 'paper_rows' needs 'data' and 'split' (the first rows of the database), not train/test rows")
    end
    r.paper_rows_list = paper_rows
    check_rows(paper_rows, r.metrics, "paper_rows")
  end
  if #r.train_rows == 0 then fail("no training rows") end
  check_rows(r.train_rows, r.metrics, "train")
  check_rows(r.test_rows, r.metrics, "test")
  return r
end

-- What the run folder's config.lua records: everything but rows, hooks and
-- userdata (described instead).
local function deep_copy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = deep_copy(x) end
  return out
end

function M.recorded_metrics(metrics) return deep_copy(metrics) end

function M.recorded(r)
  local rec = {}
  for k, v in pairs(r) do
    if k == "train_rows" or k == "test_rows" or k == "paper_rows_list" or k == "head" or type(v) == "function" then
      -- not recorded (a Lua head is described by train_head.setup)
    elseif k == "data" then
      rec.data = type(v) == "table" and string.format("<%d rows>", #v) or tostring(v)
    elseif k == "train" or k == "test" then
      rec[k] = string.format("<%d rows>", #v)
    else
      rec[k] = deep_copy(v)   -- as asked: the run later sets metric texts its head feeds
    end
  end
  rec.train_size, rec.test_size = #r.train_rows, #r.test_rows
  rec.threads = a.get_num_threads()
  rec.aapmt_version = a.version
  return rec
end

return M
