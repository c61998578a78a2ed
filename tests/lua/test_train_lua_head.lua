-- train.run and experiments with a head written in Lua (aapmt.nn, train_head.lua):
--  1. ImageReward's own MLP rebuilt as a Lua Sequential from the model's
--     mlp.* weights scores exactly as the built-in head, directly and
--     through train_eval.predict; trained with dropout off, it follows the
--     built-in head's run step for step;
--  2. a new Lua head on a small demo database lowers the loss; a run stopped
--     after one epoch and resumed ends with the head (and losses) of an
--     uninterrupted run; freeze patterns reach head parameters;
--  3. mistakes: a head of the wrong width or dtype, not a module, beside a
--     Metric Transformer, a different head on resume;
--  4. an experiment whose head is a Lua module: checked, run, up to date the
--     second time, its declaration's module left untrained.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local lfs = require "lfs"
local files = require "files"
local nn = require "aapmt.nn"
local train = require "aapmt.train"
local lua_head = require "aapmt.train_head"
local evaluation = require "aapmt.train_eval"
local folder = require "aapmt.run_folder"
local a = aapmt

local absolute = files.absolute
local fixtures = absolute((arg[0]:match("^(.*)/") or ".") .. "/../fixtures")
local dropout_config = fixtures .. "/train_run/tiny_config.json"      -- head dropouts 0.2, 0.2, 0.1
local plain_config = fixtures .. "/demo_learning/tiny_config.json"    -- every dropout 0
local coded_config = fixtures .. "/train_run/tiny_coded.json"
local tmp = os.tmpname()
os.remove(tmp)
assert(lfs.mkdir(tmp))
a.set_num_threads(1)

-- A small demo database: 160 images at 32 px, four a prompt.
local db = a.demo_db{images = 160, size = 32, seed = 5, per_prompt = 4}
db:write(tmp .. "/db")
local rows = {}
for i = 1, #db do
  local r = db:row(i)
  rows[i] = {image = tmp .. "/db/images/" .. r.name, name = r.name, prompt = r.prompt,
    targets = {mos_quality = r.mos_quality, mos_align = r.mos_align}}
end
db:free()
local vocab = tmp .. "/db/vocab.txt"

local function max_diff(x, y)
  check.eq(#x, #y, "lengths")
  local worst = 0
  for i = 1, #x do worst = math.max(worst, math.abs(x[i] - y[i])) end
  return worst
end

local function flat(t) return t:reshape(t:numel()):totable() end

-- ImageReward's head, Linear-Dropout-Linear-Dropout-Linear-Dropout-Linear-Linear,
-- as a Lua Sequential with the model's mlp.* weights: the children's indices
-- 0, 2, 4, 6, 7 are ImageReward's own (mlp.layers.<i>). Sizes from the weights,
-- dropouts from the config's "head" block.
local function imagereward_head(net, config_path)
  local params = {}
  for _, p in ipairs(net:parameters()) do params[p.name] = p.tensor end
  local d = {}
  local listed = folder.read(config_path):match('"dropouts"%s*:%s*%[([^%]]*)%]')
  for v in listed:gmatch("[%d.eE+-]+") do d[#d + 1] = tonumber(v) end
  local function size(i) return params["mlp.layers." .. i .. ".weight"]:size() end
  local s = {size(0), size(2), size(4), size(6), size(7)}
  local function linear(k) return nn.Linear(s[k][2], s[k][1]) end
  local head = nn.Sequential{linear(1), nn.Dropout(d[1]), linear(2), nn.Dropout(d[2]), linear(3), nn.Dropout(d[3]),
    linear(4), linear(5)}
  return head:load_state_dict(params, {prefix = "mlp.layers."})
end

-- ---- 1. ImageReward's MLP in Lua ----
do
  local net = a.imagereward_random(dropout_config, 4)
  local tok = a.tokenizer(fixtures .. "/tokenizer/vocab.txt")
  local head = imagereward_head(net, dropout_config)
  check.eq(tostring(head), "Sequential(Linear(24 -> 40), Dropout(0.2), Linear(40 -> 20), Dropout(0.2), "
    .. "Linear(20 -> 12), Dropout(0.1), Linear(12 -> 6), Linear(6 -> 1))", "the head from the config")
  local batch, paths, prompts = {}, {}, {}
  for i = 1, 8 do batch[i], paths[i], prompts[i] = rows[i], rows[i].image, "a red cat on a sofa" end
  local pixels = a.preprocess(paths, net:image_size())
  local ids, mask = tok:encode_batch(prompts)
  local out = net:forward(pixels, ids, mask)
  local lua_scores = flat(head:forward(out.features))
  local d = max_diff(lua_scores, out.rewards:totable())
  -- The same engine ops on the same weights: equal to the last bit.
  check.eq(d, 0, "the Lua MLP's rewards are the built-in head's")
  check.eq(max_diff(lua_scores, net:head(out.features):totable()), 0, "and model:head's")

  -- Through train_eval.predict, as train.run and the experiments score.
  local metrics = {{name = "quality", text = "a red cat on a sofa", target = "mos_quality", column = "quality_score"}}
  local run = {net = net, tokenizer = tok, metrics = metrics, max_length = 35, image_size = net:image_size(),
    eval_batch_size = 3}
  local _, builtin_raw = evaluation.predict(run, batch)
  run.lua_head = lua_head.bind(head, 24, metrics, {"quality"}, function(...) error(string.format(...)) end)
  local lua_preds, lua_raw = evaluation.predict(run, batch)
  check.eq(max_diff(lua_raw[1], builtin_raw[1]), 0, "predict: raw scores equal")
  check.eq(max_diff(lua_preds[1], lua_raw[1]), 0, "a Lua head's reported score is its output")
  net:free()
  tok:free()
end

-- Trained with every dropout off, the Lua MLP follows the built-in head step for step.
do
  local common = {vocab = vocab, data = rows, split = {seed = 1}, metrics = {"quality"}, epochs = 2, batch_size = 16,
    optimizer = {kind = "adam", lr = 1e-3}, progress = false, threads = 1, eval_every = false}
  local function options(out, head)
    local o = {model = {config = plain_config, seed = 2, init = "from_scratch"}, out = out, head = head}
    for k, v in pairs(common) do o[k] = v end
    return o
  end
  local builtin = train.run(options(tmp .. "/builtin"))
  local start = a.imagereward_random(plain_config, 2, {init = "from_scratch"})
  local head = imagereward_head(start, plain_config)
  start:free()
  local lua = train.run(options(tmp .. "/lua_mlp", head))
  check.eq(#lua.losses, #builtin.losses, "same steps")
  local worst = 0
  for i, l in ipairs(builtin.losses) do
    worst = math.max(worst, math.abs(lua.losses[i] - l) / math.max(1, math.abs(l)))
  end
  check.truthy(worst <= 1e-6, string.format("losses equal to 1e-6 relative (worst %.3g)", worst))
  local trained = a.load(tmp .. "/builtin/model.safetensors")
  local lua_trained = a.load(tmp .. "/lua_mlp/head.safetensors")
  local w = 0
  for _, i in ipairs({0, 2, 4, 6, 7}) do
    w = math.max(w, max_diff(flat(lua_trained[i .. ".weight"]), flat(trained["mlp.layers." .. i .. ".weight"])))
  end
  check.truthy(w <= 1e-6, string.format("trained head weights equal the trained mlp.* (max difference %.3g)", w))
  print(string.format("Lua MLP vs built-in head: %d steps, worst loss difference %.2g, weights %.2g", #lua.losses,
    worst, w))
end

-- ---- 2. a new head: learning, resume, freeze ----
local function new_head(info)
  return nn.Sequential{nn.Linear(info.hidden, 32), nn.LayerNorm(32), nn.GELU(), nn.Dropout(0.1),
    nn.Linear(32, info.outputs), seed = info.seed}
end
local function head_options(out, extra)
  local o = {model = {config = plain_config, seed = 3, init = "from_scratch"}, vocab = vocab, data = rows,
    split = {seed = 1}, metrics = {"quality", "align"}, epochs = 4, batch_size = 16,
    optimizer = {kind = "adam", lr = 1e-3}, progress = false, threads = 1, out = out, head = new_head,
    freeze = {"^head%.1%.", "^blip%.visual_encoder%.patch_embed"}}
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end
do
  local whole = train.run(head_options(tmp .. "/whole"))
  local epochs = a.read_csv(tmp .. "/whole/epochs.csv")
  local first, last = tonumber(epochs.rows[1][4]), tonumber(epochs.rows[#epochs.rows][4])
  print(string.format("new head: mean loss epoch 1 %.4g, epoch 4 %.4g", first, last))
  check.truthy(last < 0.7 * first, string.format("mean loss falls: epoch 1 %.4g, epoch 4 %.4g", first, last))
  check.truthy(whole.metrics.quality.srcc and whole.metrics.align.srcc, "held-out metrics for both")
  local log = folder.read(tmp .. "/whole/log.txt")
  check.truthy(log:find("Lua head Sequential(Linear(64 -> 32), LayerNorm(32, eps=1e-05), GELU, Dropout(0.1), "
    .. "Linear(32 -> 2)): 2210 parameter values, one column per metric", 1, true), log)
  local scores = a.read_csv(tmp .. "/whole/scores.csv")
  check.eq(table.concat(scores.header, ","), "name,prompt,quality_score,score,mos_quality,mos_align",
    "scores.csv: no reward_ columns for a Lua head")
  local trained = a.load(tmp .. "/whole/head.safetensors")
  local init = new_head{hidden = 64, outputs = 2, seed = 42}
  check.eq(max_diff(flat(trained["1.weight"]), flat(init.children[2].weight)), 0, "frozen head.1.* unchanged")
  check.truthy(max_diff(flat(trained["0.weight"]), flat(init.children[1].weight)) > 0, "head.0.weight trained")

  -- Stopped after one epoch, resumed to the end.
  local steps = #whole.losses // 4
  local part = train.run(head_options(tmp .. "/resumed", {stop_after_steps = steps}))
  check.truthy(part.stopped, "stopped after one epoch")
  local state = require("aapmt.train_checkpoint").read_state(tmp .. "/resumed")
  check.truthy(state.head and folder.exists(state.head), "the checkpoint names its head file")
  check.raises(function()
    train.run(head_options(tmp .. "/resumed", {resume = true, head = function(info)
      return nn.Sequential{nn.Linear(info.hidden, 16), nn.Linear(16, info.outputs)}
    end}))
  end, "cannot resume: the checkpoint's head is Sequential(Linear(64 -> 32), LayerNorm",
    "the options give Sequential(Linear(64 -> 16), Linear(16 -> 2))")
  check.raises(function() train.run(head_options(tmp .. "/resumed", {resume = true, head = false})) end,
    "option 'head' must be an aapmt.nn module")
  local rest = train.run(head_options(tmp .. "/resumed", {resume = true}))
  check.eq(rest.steps, #whole.losses, "resumed to the end")
  for i = 1, #rest.losses do
    check.eq(rest.losses[i], whole.losses[steps + i], "resumed loss of step " .. (steps + i))
  end
  local resumed = a.load(tmp .. "/resumed/head.safetensors")
  for name, t in pairs(trained) do
    check.eq(max_diff(flat(resumed[name]), flat(t)), 0, "resumed head " .. name .. " equals the uninterrupted one")
  end
  check.eq(folder.read(tmp .. "/resumed/scores.csv"), folder.read(tmp .. "/whole/scores.csv"), "same scores")
end

-- ---- 3. mistakes ----
do
  local function try(extra, ...)
    local out = tmp .. "/bad" .. math.random(1 << 30)
    check.raises(function() train.run(head_options(out, extra)) end, ...)
  end
  try({head = nn.Sequential{nn.Linear(64, 3)}}, "train.run: option 'head': Sequential(Linear(64 -> 3)) maps (1, 64) "
    .. "features to (1, 3); it must give (1, 1) or (1, 2) (one per metric: quality, align)")
  try({head = nn.Sequential{nn.Linear(64, 1), dtype = "f64"}}, "cannot take the model's (B, 64) f32 features")
  try({head = nn.Sequential{nn.Linear(32, 1)}}, "cannot take the model's (B, 64) f32 features", "linear")
  try({head = 5}, "option 'head' must be an aapmt.nn module or a function returning one, got a number")
  try({head = function() error("no such layer") end}, "the head function failed", "no such layer")
  try({freeze = {"^head%.9"}}, "freeze pattern '^head%.9' matches no parameter name")
  check.raises(function()
    train.run{model = {config = coded_config, seed = 1}, vocab = fixtures .. "/tokenizer/vocab.txt",
      train = {rows[1]}, metrics = {"quality"}, out = tmp .. "/coded", progress = false,
      head = nn.Sequential{nn.Linear(24, 1)}}
  end, "a Lua head replaces the MLP head only")
end

-- ---- 4. an experiment with a Lua head ----
do
  local experiment = require "aapmt.experiment"
  local batch = require "aapmt.batch"
  assert(lfs.mkdir(tmp .. "/exp"))
  local file = tmp .. "/exp/lua_head.lua"
  folder.write_atomic(file, string.format([[
local nn = require "aapmt.nn"
HEAD = nn.Sequential{nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 1), seed = 9}
return aapmt.experiment{
  database = {demo = {images = 120, size = 32, per_prompt = 4, seed = 3}},
  model_config = %q, runs = %q, plot = false,
  head = HEAD,
  train = {metrics = {"quality"}, epochs = 1, batch_size = 16, lr = 1e-3, threads = 1},
  evaluate = {tasks = {"quality", "align"}},
}
]], plain_config, tmp .. "/runs"))
  local entries, failures = batch.run({file}, {}, {summary_dir = tmp .. "/runs"})
  check.eq(failures, 0, "the experiment runs: " .. tostring(entries[1].error))
  local result = entries[1].result
  check.truthy(result.results.test.quality.srcc and result.results.test.align.srcc, "both tasks scored")
  check.truthy(folder.exists(tmp .. "/runs/lua_head/train/head.safetensors"), "the trained head beside the model")
  local scores = a.read_csv(tmp .. "/runs/lua_head/scores.csv")
  check.eq(table.concat(scores.header, ","), "name,prompt,quality_score,score,mos_quality,mos_align", "scores.csv")
  local fresh = nn.Sequential{nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 1), seed = 9}
  check.eq(max_diff(flat(HEAD.children[1].weight), flat(fresh.children[1].weight)), 0,
    "the declaration's module is cloned, not trained")
  entries = batch.run({file}, {}, {summary_dir = tmp .. "/runs"})
  check.eq(entries[1].status, "up to date", "a second batch reuses the result")

  -- A transfer with a Lua head starts from the trained head of its start,
  -- in the batch and on its own alike (the same fingerprint either way).
  local transfer = tmp .. "/exp/lua_transfer.lua"
  folder.write_atomic(transfer, string.format([[
local nn = require "aapmt.nn"
return aapmt.experiment{
  database = {demo = {images = 120, size = 32, per_prompt = 4, seed = 3}},
  model_config = %q, runs = %q, plot = false, start = {experiment = "lua_head"},
  head = nn.Sequential{nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 1), seed = 9},
  train = {metrics = {"quality"}, epochs = 1, batch_size = 16, lr = 1e-3, threads = 1},
  evaluate = {tasks = {"quality"}},
}
]], plain_config, tmp .. "/runs"))
  entries = batch.run({tmp .. "/exp"}, {}, {summary_dir = tmp .. "/runs"})
  local by = {}
  for _, e in ipairs(entries) do by[e.name] = e end
  check.eq(by.lua_transfer.status, "done", "the transfer runs: " .. tostring(by.lua_transfer.error))
  check.eq(by.lua_transfer.result.train_spec.start_head, "the start experiment's trained head", "its start head")
  entries = batch.run({transfer}, {}, {summary_dir = tmp .. "/runs"})
  check.eq(entries[1].status, "up to date", "run on its own, the transfer is the same run")
  entries = batch.run({tmp .. "/exp"}, {}, {summary_dir = tmp .. "/runs"})
  for _, e in ipairs(entries) do check.eq(e.status, "up to date", e.name .. " stays up to date") end
  os.remove(transfer)

  -- Declarations: a function is a head too; other tables must be a block.
  local function declare(head_line)
    local path = tmp .. "/exp/decl.lua"
    folder.write_atomic(path, "local nn = require 'aapmt.nn'\nreturn aapmt.experiment{\n  database = 'demo',\n"
      .. head_line .. "\n}\n")
    return experiment.load(path)
  end
  declare("  head = function(info) return nn.Sequential{nn.Linear(info.hidden, 1)} end,")
  check.raises(function() declare("  head = {layers = 2},") end, "decl.lua:4: experiment 'decl': 'head' as a table "
    .. "must be an aapmt.nn module (a head written in Lua) or a Metric Transformer block")
  check.raises(function() declare("  head = 3,") end, "decl.lua:4:", "'head' must be string or table or function")
end

files.remove_tree(tmp)
print("ok")
