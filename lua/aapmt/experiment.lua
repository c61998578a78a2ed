-- Experiment files: a declaration of what to run, checked before any work.
--
--   return aapmt.experiment{
--     name = "table6_seeds",              -- default: the file's name
--     description = "...",
--     database = "agiqa3k",               -- "aigciqa2023", "demo", {demo = {images=, size=, ...}}
--                                         -- or {kind = "csv", csv =, images =, targets = {...}}
--     split = {seed = 42, train_fraction = 0.8},   -- seed defaults to the experiment's seed
--     start = "imagereward",              -- "random", a checkpoint path, or {experiment = "name"
--                                         -- [, variant = "seed=42"]}
--     database = false,                   -- (instead) a report over other experiments' results
--     model_config = nil,                 -- JSON (default ImageReward-v1.0; required for "random")
--     vocab = nil,                        -- default: beside the checkpoint, or the demo's
--     head = "mlp",                       -- "coded" | "metric_attention" (the Metric Transformer),
--                                         -- {kind = ..., layers = ...} (its block), or a head
--                                         -- written in Lua: an aapmt.nn module or a function
--                                         -- returning one (train_head.lua)
--     train = {metrics = {"quality"}, epochs = 10, batch_size = 32, lr = 5e-6, ...} or false,
--     evaluate = {tasks = {"quality", "align"}, prompts = {{name=, text=, target=}},
--                 protocols = {"test", "paper_rows"}},
--     quality_prompt = "...",             -- the quality task's text, in training and scoring
--     seed = 42,
--     sweep = {seed = {42, 100, 200}},    -- one run per value (combinations of several keys)
--     needs = {"other"},                  -- experiments whose results report() reads
--     report = function(ctx) ... end,     -- extra report text and plots (see experiment_run.lua)
--     paper = {table = "table6"},         -- which published numbers to compare with
--     plot = true,
--   }
--
-- Defaults are AAPMT's recipe (Adam, lr 5e-6, batch 32, 10 epochs on
-- AGIQA-3K, 50 on AIGCIQA2023, seed 42), so a file states only what differs.
-- Values are overridden from the command line as key=value (seed=100,
-- epochs=2, train.lr=1e-5, head=coded). A misspelt key, a wrong type or a
-- missing file is reported with the file and line of the declaration.
local folder = require "aapmt.run_folder"
local nn = require "aapmt.nn"
local interrupts = require "aapmt.interrupts"

local M = {}
local Declaration = {__name = "aapmt.experiment"}
Declaration.__index = Declaration

-- ---- the schema ----

local any_text = {"string", "function", "boolean"}
M.schema = {
  name = "string", description = "string", database = {"string", "table", "boolean"}, split = "table",
  start = {"string", "table"}, model_config = "string", vocab = "string", head = {"string", "table", "function"},
  train = {"table", "boolean"}, evaluate = "table", seed = "integer", sweep = "table", paper = {"table", "boolean"},
  plot = {"boolean", "table"}, runs = "string", quality_prompt = "string", needs = "table", report = "function",
  compare = "table", replicate = "string",
}
M.train_schema = {
  metrics = {"table", "string"}, epochs = "integer", batch_size = "integer", lr = "number",
  optimizer = "string", betas = "table", eps = "number", weight_decay = "number", schedule = "table",
  accumulate = "integer", clip = "number", fix_rate = "number", freeze = {"table", "string"},
  loss = "string", loss_weights = {"table", "string"}, eval_every = {"string", "integer", "boolean"},
  threads = "integer", workers = "integer", eval_batch_size = "integer", max_length = "integer",
  device = "string", precision = "string", recompute = {"string", "boolean"},
}
M.evaluate_schema = {tasks = "table", prompts = "table", protocols = "table", batch_size = "integer"}
M.split_schema = {seed = "integer", train_fraction = "number", file = "string"}
M.demo_schema = {images = "integer", size = "integer", seed = "integer", per_prompt = "integer"}
M.metric_schema = {name = "string", text = any_text, target = "string"}
M.prompt_schema = {name = "string", text = "string", target = "string"}
M.compare_schema = {experiment = "string", variant = "string"}

-- Command-line keys that mean a nested one.
M.shortcuts = {epochs = "train.epochs", lr = "train.lr", batch_size = "train.batch_size",
  metrics = "train.metrics", threads = "train.threads", workers = "train.workers", device = "train.device",
  precision = "train.precision", recompute = "train.recompute"}

-- ---- errors with the file and line ----

-- The line of the first `key =` in the file's text, or nil.
local function line_of(decl, key)
  if decl.source_text and key then
    local n = 1
    for line in (decl.source_text .. "\n"):gmatch("([^\n]*)\n") do
      if line:find("%f[%w_]" .. key:gsub("%p", "%%%0") .. "%s*=[^=]") then return n end
      n = n + 1
    end
  end
  return nil
end

function M.distance(s, t)   -- Levenshtein, for "did you mean"
  local prev = {}
  for j = 0, #t do prev[j] = j end
  for i = 1, #s do
    local cur = {[0] = i}
    for j = 1, #t do
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (s:byte(i) == t:byte(j) and 0 or 1))
    end
    prev = cur
  end
  return prev[#t]
end

-- " (did you mean 'epochs'?)" for the closest of choices (a list, or the
-- keys of a table), or "".
function M.suggestion(word, choices)
  local best, best_d = nil, 3
  local list = {}
  if #choices > 0 then table.move(choices, 1, #choices, 1, list)
  else for k in pairs(choices) do list[#list + 1] = k end end
  table.sort(list)   -- ties go to the first in order, whatever pairs() gives
  for _, c in ipairs(list) do
    local d = M.distance(word, c)
    if d < best_d then best, best_d = c, d end
  end
  return best and string.format(" (did you mean '%s'?)", best) or ""
end
local suggestion = M.suggestion

-- Raises "FILE:LINE: experiment 'NAME': message" (the line of `key =`, or
-- the file alone when the key is not written in it). A mistake in a key an
-- override set (with_overrides) names the command line instead.
function M.fail_at(decl, key, fmt, ...)
  local message = string.format(fmt, ...)
  local override = key and decl.overridden and decl.overridden[key]
  if override then error(string.format("command line: '%s': %s", override, message), 0) end
  local line = line_of(decl, key)
  error(string.format("%s%s: experiment '%s': %s", decl.source or "?", line and (":" .. line) or "",
    tostring(decl.name or "?"), message), 0)
end

-- An error as the user should read it: positions inside aapmt's own Lua
-- files ("/usr/share/aapmt/lua/aapmt/train.lua:152: ") say nothing to a
-- user and go; a traceback (a bug) is kept whole.
local own_dir = (package.searchpath("aapmt.experiment", package.path) or ""):match("^(.*)/aapmt/[^/]*$")
function M.user_message(err)
  local text = tostring(err)
  if text:find("\nstack traceback:", 1, true) then return text end
  text = text:gsub("^[^\n:]*aapmt/[%w_/]+%.lua:%d+: ", "")
  if own_dir then
    local prefix = own_dir:gsub("%p", "%%%0")
    text = text:gsub("^" .. prefix .. "/[^\n:]+%.lua:%d+: ", "")
  end
  return text
end

local function type_ok(v, want)
  if type(want) == "table" then
    for _, w in ipairs(want) do
      if type_ok(v, w) then return true end
    end
    return false
  end
  if want == "integer" then return math.type(v) == "integer" end
  return type(v) == want
end

local function want_str(want)
  return type(want) == "table" and table.concat(want, " or ") or want
end

local function check_table(decl, t, schema, where)
  for k, v in pairs(t) do
    local want = schema[k]
    if type(k) ~= "string" or not want then
      M.fail_at(decl, tostring(k), "unknown key '%s'%s%s", tostring(k), where and (" in " .. where) or "",
        suggestion(tostring(k), schema))
    end
    if not type_ok(v, want) then
      M.fail_at(decl, k, "'%s%s' must be %s, got %s", where and (where .. ".") or "", k, want_str(want), type(v))
    end
  end
end

-- ---- declaring ----

-- aapmt.experiment{...}: the declaration. Its file is known when it is
-- loaded (M.load), which checks it: `return aapmt.experiment{...}` is a tail
-- call, so the file's own frame is gone by the time this runs.
function M.declare(fields)
  if type(fields) ~= "table" then error("aapmt.experiment: expects a table of fields", 2) end
  return setmetatable({fields = fields, name = fields.name}, Declaration)
end

function M.is_declaration(v)
  return getmetatable(v) == Declaration
end

-- Whether fields.head is a head written in Lua (a module or a function).
function M.lua_head(fields)
  return nn.is_module(fields.head) or type(fields.head) == "function"
end

-- Files an experiment names beside itself (a model config, a vocabulary, a
-- split file, a database) are relative to its folder; checkpoints in
-- `start` are relative to the current directory, like assets/ and runs/.
local function resolve_paths(f, dir)
  local function fix(t, key)
    local v = t and t[key]
    if type(v) == "string" and v:sub(1, 1) ~= "/" then t[key] = dir .. "/" .. v end
  end
  fix(f, "model_config")
  fix(f, "vocab")
  fix(f.split, "file")
  if type(f.database) == "table" then
    fix(f.database, "csv")
    fix(f.database, "images")
  end
end

-- Loads an experiment file: its declaration (an error names the file).
function M.load(path)
  local chunk, err = loadfile(path, "t")
  if not chunk then error(err, 0) end
  local ok, decl = interrupts.pcall(chunk)
  if not ok then   -- the file's own error (an nn layer's, say): named after the file
    local msg = M.user_message(decl)
    error(msg:find(path, 1, true) and msg or (path .. ": " .. msg), 0)
  end
  if not M.is_declaration(decl) then
    error(string.format("%s: an experiment file must return aapmt.experiment{...}, it returned a %s", path,
      type(decl)), 0)
  end
  decl.path, decl.source = path, path
  decl.source_text = folder.read(path)
  decl.name = decl.fields.name or path:match("([^/]+)%.lua$") or "experiment"
  M.check(decl, decl.fields)
  resolve_paths(decl.fields, path:match("^(.*)/") or ".")
  return decl
end

-- Every key and type, nested tables included.
function M.check(decl, f)
  check_table(decl, f, M.schema)
  if type(f.train) == "table" then
    check_table(decl, f.train, M.train_schema, "train")
    local metrics = type(f.train.metrics) == "string" and {f.train.metrics} or f.train.metrics or {}
    for i, m in ipairs(metrics) do
      if type(m) == "table" then
        check_table(decl, m, M.metric_schema, "train.metrics[" .. i .. "]")
        if type(m.name) ~= "string" then M.fail_at(decl, "metrics", "train.metrics[%d] needs name = \"...\"", i) end
      elseif type(m) ~= "string" then M.fail_at(decl, "metrics", "train.metrics[%d] must be a name or a table", i) end
    end
  end
  if f.train == true then M.fail_at(decl, "train", "'train' must be a table of options or false") end
  if f.evaluate then
    check_table(decl, f.evaluate, M.evaluate_schema, "evaluate")
    for i, p in ipairs(f.evaluate.prompts or {}) do
      if type(p) ~= "table" then M.fail_at(decl, "prompts", "evaluate.prompts[%d] must be a table", i) end
      check_table(decl, p, M.prompt_schema, "evaluate.prompts[" .. i .. "]")
      if not p.name or not p.text then M.fail_at(decl, "prompts", "evaluate.prompts[%d] needs name= and text=", i) end
    end
    for _, protocol in ipairs(f.evaluate.protocols or {}) do
      if protocol ~= "test" and protocol ~= "paper_rows" then
        M.fail_at(decl, "protocols", "evaluation protocol '%s' is not 'test' or 'paper_rows'", tostring(protocol))
      end
    end
  end
  if f.split then check_table(decl, f.split, M.split_schema, "split") end
  if type(f.database) == "table" and f.database.demo then
    if type(f.database.demo) ~= "table" then M.fail_at(decl, "demo", "'database.demo' must be a table") end
    check_table(decl, f.database.demo, M.demo_schema, "database.demo")
  end
  if type(f.head) == "string" and f.head ~= "mlp" and f.head ~= "coded" and f.head ~= "metric_attention" then
    M.fail_at(decl, "head", "head '%s' is not 'mlp', 'coded' or 'metric_attention'", f.head)
  end
  if type(f.head) == "table" and not nn.is_module(f.head) and f.head.kind ~= "coded"
      and f.head.kind ~= "metric_attention" then
    M.fail_at(decl, "head", "'head' as a table must be an aapmt.nn module (a head written in Lua) or a Metric "
      .. "Transformer block with kind = \"coded\" or \"metric_attention\", got kind = %s", tostring(f.head.kind))
  end
  if type(f.head) == "table" and not nn.is_module(f.head) and f.head.metrics ~= nil then
    local ok = type(f.head.metrics) == "table" and #f.head.metrics > 0
    for _, name in ipairs(ok and f.head.metrics or {}) do ok = ok and type(name) == "string" end
    if not ok then M.fail_at(decl, "head", "head.metrics must be a list of metric names, e.g. {\"quality\", \"align\"}") end
  end
  if type(f.start) == "table" then
    check_table(decl, f.start, {experiment = "string", variant = "string"}, "start")
    if not f.start.experiment then M.fail_at(decl, "start", "'start' as a table needs experiment = \"name\"") end
  end
  if f.database == true then M.fail_at(decl, "database", "'database' must be a name, a table or false") end
  for i, c in ipairs(f.compare or {}) do
    if type(c) == "table" then
      check_table(decl, c, M.compare_schema, "compare[" .. i .. "]")
      if not (c.experiment or c.variant) then M.fail_at(decl, "compare", "compare[%d] needs experiment= or variant=", i) end
    elseif type(c) ~= "string" then
      M.fail_at(decl, "compare", "compare[%d] must be an experiment name or {experiment=, variant=}", i)
    end
  end
  for i, n in ipairs(f.needs or {}) do
    if type(n) ~= "string" then M.fail_at(decl, "needs", "needs[%d] must be an experiment name", i) end
  end
  if f.sweep then
    for k, values in pairs(f.sweep) do
      if type(values) ~= "table" or #values == 0 then
        M.fail_at(decl, "sweep", "sweep.%s must be a non-empty list of values", tostring(k))
      end
    end
  end
end

-- ---- overrides and sweeps ----

local function copy(t)
  if type(t) ~= "table" or nn.is_module(t) then return t end   -- a Lua head is shared; each run clones it
  local c = {}
  for k, v in pairs(t) do c[k] = copy(v) end
  return c
end

-- "epochs=2" → path {"train", "epochs"}, value 2; numbers and booleans are read as such.
function M.parse_override(text)
  local key, value = text:match("^([%a_][%w_%.]*)=(.*)$")
  if not key then error(string.format("'%s' is not key=value", text), 0) end
  key = M.shortcuts[key] or key
  local parsed = value
  if value == "true" then parsed = true
  elseif value == "false" then parsed = false
  elseif tonumber(value) then parsed = math.tointeger(tonumber(value)) or tonumber(value) end
  local path = {}
  for part in key:gmatch("[^%.]+") do path[#path + 1] = part end
  return path, parsed, key
end

local function set_path(t, path, value)
  for i = 1, #path - 1 do
    if type(t[path[i]]) ~= "table" then t[path[i]] = {} end
    t = t[path[i]]
  end
  t[path[#path]] = value
end

-- The keys a dotted override may reach below the top level.
M.nested_schema = {
  train = M.train_schema, evaluate = M.evaluate_schema, split = M.split_schema,
  start = {experiment = "string", variant = "string"},
  database = {kind = "string", csv = "string", images = "string", targets = "table", skip_missing = "boolean",
    title = "string", demo = "table"},
  ["database.demo"] = M.demo_schema,
}

-- An override's key path and value checked against the schema; a mistake
-- names the command line, never a line of the file.
local function check_override(text, path, value)
  local schema = M.schema
  for i, part in ipairs(path) do
    local key = table.concat(path, ".", 1, i)
    local want = schema[part]
    if not want then
      local choices = schema
      if i == 1 then   -- the top level also takes the shortcuts (epochs=, lr=, ...)
        choices = {}
        for k in pairs(M.schema) do choices[k] = true end
        for k in pairs(M.shortcuts) do choices[k] = true end
      end
      error(string.format("command line: '%s': unknown key '%s'%s", text, key, suggestion(part, choices)), 0)
    end
    if i < #path then
      schema = M.nested_schema[key]
      if not schema then
        -- a free-form table (train.schedule): its keys are checked where it is used
        if type_ok({}, want) then return end
        error(string.format("command line: '%s': '%s' has no keys below it", text, key), 0)
      end
    elseif not type_ok(value, want) then
      error(string.format("command line: '%s': '%s' must be %s, got %s", text, key, want_str(want), type(value)), 0)
    end
  end
end

-- Raises when two overrides set the same key (shortcuts resolved: epochs=
-- is train.epochs=): the second would silently win, and the run would not
-- be the one typed. Commands call it once before reading any file.
function M.check_repeated(overrides)
  local given = {}
  for _, o in ipairs(overrides or {}) do
    local ok, _, _, key = pcall(M.parse_override, o)
    if ok then
      if given[key] then
        error(string.format("command line: '%s' and '%s' both set %s; give it once", given[key], o, key), 0)
      end
      given[key] = o
    end
  end
end

-- The declaration's fields with overrides ({"seed=100", ...}) applied and
-- checked. Later errors about an overridden key (an unknown metric from
-- metrics=qualty) name the command line too: decl.overridden maps the key
-- to the override.
function M.with_overrides(decl, overrides)
  local f = copy(decl.fields)
  decl.overridden = {}
  M.check_repeated(overrides)
  for _, o in ipairs(overrides or {}) do
    local ok, path, value = pcall(M.parse_override, o)
    if not ok then error("command line: " .. tostring(path), 0) end
    check_override(o, path, value)
    decl.overridden[path[#path]] = o
    -- A nested value (epochs=, database.demo.images=) changes only an
    -- experiment that has the block: a batch-wide epochs=1 must not make a
    -- scoring-only experiment train.
    local parent, applies = f, true
    for i = 1, #path - 1 do
      parent = type(parent) == "table" and parent[path[i]] or nil
      if type(parent) ~= "table" then applies = false end
    end
    if applies or #path == 1 then set_path(f, path, value) end
  end
  M.check(decl, f)
  return f
end

-- The runs a declaration stands for: {id=, fields=, values=} per
-- combination of sweep values (id "" without a sweep; values: key → value).
function M.variants(decl, overrides)
  local base = M.with_overrides(decl, overrides)
  local keys = {}
  for k in pairs(base.sweep or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  -- Each combination: a list of {key, value}.
  local combos = {{}}
  for _, k in ipairs(keys) do
    local next_combos = {}
    for _, c in ipairs(combos) do
      for _, v in ipairs(base.sweep[k]) do
        local n = copy(c)
        n[#n + 1] = {k, v}
        next_combos[#next_combos + 1] = n
      end
    end
    combos = next_combos
  end
  local out = {}
  for _, c in ipairs(combos) do
    local fields, id = copy(base), {}
    for _, kv in ipairs(c) do
      local path = {}
      for part in (M.shortcuts[kv[1]] or kv[1]):gmatch("[^%.]+") do path[#path + 1] = part end
      if path[1] == "train" and fields.train == false then fields.train = {} end
      set_path(fields, path, copy(kv[2]))
      id[#id + 1] = string.format("%s=%s", kv[1], type(kv[2]) == "table" and "table" or tostring(kv[2]))
    end
    fields.sweep = nil
    M.check(decl, fields)
    local values = {}
    for _, kv in ipairs(c) do values[kv[1]] = type(kv[2]) == "table" and "table" or kv[2] end
    out[#out + 1] = {id = table.concat(id, ","), fields = fields, values = values}
  end
  return out
end

return M
