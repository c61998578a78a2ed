-- A head written in Lua (lua/aapmt/nn.lua) in place of ImageReward's MLP:
-- what train.run (train.lua) and the experiments (experiment_run.lua) need
-- to build, bind, run, checkpoint and restore one.
--
--   train.run{..., head = nn.Sequential{nn.Linear(768, 256), nn.GELU(), nn.Linear(256, 1)}}
--   train.run{..., head = function(info) return nn.Sequential{...} end}
--     -- info = {hidden=, outputs=, metrics={names}, seed=}
--
-- The head maps the text encoder's [CLS] feature, (B, hidden), to (B, 1) or
-- (B, #metrics). One column: like the MLP, each metric runs its own forward
-- with its own text and the head scores it. One column per metric: like the
-- Metric Transformer, one forward with each image's own prompt, each metric
-- reading the column of its position. What the head outputs is what the
-- loss fits and what is reported (no normalisation).
--
-- The built-in MLP still runs in the model's forward (its output unused)
-- and is not trained: its mlp.* parameters leave the optimizer. The head's
-- parameters are named "head.<name>" ("head.0.weight"), so freeze patterns
-- reach them. Checkpoints: checkpoints/step-N.head.safetensors beside the
-- step's model file, named in state.lua, written before it; a finished run
-- leaves head.safetensors beside model.safetensors. Resume restores the
-- head from the checkpoint, after checking it describes the same layers.
local a = aapmt
local nn = require "aapmt.nn"
local interrupts = require "aapmt.interrupts"

local M = {FILE = "head.safetensors", PREFIX = "head."}

-- The module from a spec (a module, or a function of info returning one).
function M.build(spec, info, fail)
  local module = spec
  if type(spec) == "function" then
    local ok, built = interrupts.pcall(spec, info)
    if not ok then fail("option 'head': the head function failed: %s", tostring(built)) end
    module = built
  end
  if not nn.is_module(module) then
    fail("option 'head' must be an aapmt.nn module or a function returning one, got a %s", type(module))
  end
  return module
end

-- Binds module to the metrics, after a probe forward on zero features: its
-- width must be 1 or #outputs (the names of the columns, in order). Returns
-- {module=, width=, shared=, columns=, desc=}; a shared head makes every
-- metric read the image's own prompt (metric.text = false).
function M.bind(module, hidden, metrics, outputs, fail)
  local ok, probe = interrupts.pcall(a.no_grad, function() return module:forward(a.zeros(1, hidden)) end)
  if not ok then
    fail("option 'head': %s cannot take the model's (B, %d) f32 features: %s", module:describe(), hidden,
      tostring(probe))
  end
  local size = a.is_tensor(probe) and probe:size() or {}
  if not (#size == 2 and (size[2] == 1 or size[2] == #outputs)) then
    fail("option 'head': %s maps (1, %d) features to %s; it must give (1, 1) or (1, %d) (one per metric: %s)",
      module:describe(), hidden, a.is_tensor(probe) and "(" .. table.concat(size, ", ") .. ")" or "a " .. type(probe),
      #outputs, table.concat(outputs, ", "))
  end
  local bound = {module = module, width = size[2], shared = size[2] > 1, columns = {}, desc = module:describe()}
  local index = {}
  for i, name in ipairs(outputs) do index[name] = i end
  for m, metric in ipairs(metrics) do
    if bound.shared then
      bound.columns[m] = index[metric.name] or fail("metric '%s' is not an output of the head (its outputs: %s)",
        metric.name, table.concat(outputs, ", "))
      metric.text = false
    else
      bound.columns[m] = 1
    end
  end
  return bound
end

-- (B, width) scores of (B, hidden) features; seed set: training (dropout).
function M.scores(bound, features, seed, keep)
  return bound.module:forward(features, {training = seed ~= nil, seed = seed, keep = keep})
end

-- The backbone's parameter list for the optimizer with a Lua head: the
-- built-in MLP out (frozen), the head's parameters in as "head.<name>".
function M.parameter_list(net_list, bound)
  local list = {}
  for _, p in ipairs(net_list) do
    if p.name:find("^mlp%.") then p.tensor.requires_grad = false else list[#list + 1] = p end
  end
  for _, p in ipairs(bound.module:named_parameters()) do
    p.tensor.requires_grad = true
    list[#list + 1] = {name = M.PREFIX .. p.name, tensor = p.tensor}
  end
  return list
end

function M.save(bound, path)
  a.save(bound.module:state_dict(), path)
end

function M.load(bound, path, fail)
  local ok, err = interrupts.pcall(function() bound.module:load_state_dict((a.load(path))) end)
  if not ok then fail("cannot load the head weights %s into %s: %s", path, bound.desc, tostring(err)) end
end

-- train.run's part: the head of r.head bound to run.metrics, restored from
-- the checkpoint on resume; records its description in rec.head. Returns a
-- log line, or nil without a Lua head.
function M.setup(run, r, state, rec, fail)
  local was = state and state.config.head
  if r.head == nil then
    if was then fail("cannot resume: the checkpoint has a Lua head (%s), the options give none", was) end
    return nil
  end
  if run.head_columns then
    fail("option 'head': the model config has a Metric Transformer (\"metric_head\"); a Lua head replaces the MLP "
      .. "head only, so give one or the other")
  end
  local hidden = run.net:config().text.hidden_size
  local names = {}
  for i, metric in ipairs(run.metrics) do names[i] = metric.name end
  local module = M.build(r.head, {hidden = hidden, outputs = #names, metrics = names, seed = r.seed}, fail)
  local bound = M.bind(module, hidden, run.metrics, names, fail)
  if state then
    if was ~= bound.desc then
      fail("cannot resume: the checkpoint's head is %s, the options give %s", tostring(was or "ImageReward's MLP"),
        bound.desc)
    end
    M.load(bound, state.head, fail)
  end
  rec.head = bound.desc
  run.lua_head = bound
  local values = 0
  for _, t in ipairs(module:parameters()) do values = values + t:numel() end
  return string.format("Lua head %s: %d parameter values, %s; ImageReward's MLP is not trained", bound.desc, values,
    bound.shared and "one column per metric, fed each image's own prompt" or "one column, a forward per metric")
end

return M
