-- The Metric Transformer from Lua and in train.run: several metrics from one
-- forward, the head drawn from the run's seed when the checkpoint lacks it,
-- the metric tokens' attention maps, and errors naming the metric.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local lfs = require "lfs"
local train = require "aapmt.train"
local folder = require "aapmt.run_folder"
local a = aapmt

a.set_num_threads(2)
local here = arg[0]:match("^(.*)/") or "."
local fixtures = here .. "/../fixtures"
local attention_cfg = fixtures .. "/train_run/tiny_metric_attention.json"
local coded_cfg = fixtures .. "/train_run/tiny_coded.json"
local plain_cfg = fixtures .. "/train_run/tiny_config.json"
local vocab = fixtures .. "/tokenizer/vocab.txt"
local image_dir = fixtures .. "/image"
local tmp = os.tmpname()
os.remove(tmp)
assert(lfs.mkdir(tmp))

-- ---- the model from Lua ----
do
  local net = a.imagereward_random(attention_cfg, 4)
  local head = net:config().metric_head
  check.eq(head.kind, "metric_attention", "config: kind")
  check.eq(table.concat(head.metrics, ","), "quality,align,authenticity", "config: metric names")
  local tok = a.tokenizer(vocab)
  local ids, mask = tok:encode_batch({"a red cat", "two dogs on a boat"}, 35)
  local pixels = a.preprocess({image_dir .. "/rgb_224x224.jpg", image_dir .. "/grey.jpg"}, 32)
  local out = net:forward(pixels, ids, mask, {metric_attention = true})
  check.shape(out.metric_scores, {2, 3}, "metric scores (B, metrics)")
  check.eq(#out.metric_attention.self, 2, "a self-attention map per layer")
  check.shape(out.metric_attention.self[1], {2, 2, 3, 3}, "metrics attend to metrics (B, heads, M, M)")
  local cross = out.metric_attention.cross[2]
  check.eq(cross:size(3), 3, "cross-attention: one row per metric")
  -- Each metric's attention over the text sums to 1; padding gets nothing.
  local sums = cross:sum(-1):reshape(-1):totable()
  for i, s in ipairs(sums) do check.near(s, 1, 1e-5, "row " .. i .. " sums to 1") end
  local second = cross:select(1, 2):totable()   -- "a red cat" is shorter: its pad keys
  check.truthy(cross:size(4) >= 6, "cross-attention covers the longest prompt")
  local first_row = cross:select(1, 1):select(1, 1):select(1, 1):totable()
  check.eq(first_row[#first_row], 0.0, "a padded key of the shorter prompt gets weight 0")
  check.truthy(second ~= nil, "maps of the second image")
  net:save(tmp .. "/ma.safetensors")
  a.imagereward_random(plain_cfg, 1):save(tmp .. "/plain.safetensors")
  net:free()
  tok:free()
end

-- ---- from the REPL: aapmt.imagereward's metrics and metric attention ----
do
  local IR = require "aapmt.imagereward"
  local model = IR.load{checkpoint = tmp .. "/ma.safetensors", config = attention_cfg, vocab = vocab}
  local m, names = model:metrics("a red cat", {image_dir .. "/grey.jpg", image_dir .. "/rgb_32x33.png"})
  check.eq(#m, 2, "a row per image")
  check.eq(table.concat(names, ","), "quality,align,authenticity", "metric names")
  check.eq(type(m[2].authenticity), "number", "named outputs")
  local maps, metric_names, pieces = model:metric_attention("a red cat", image_dir .. "/grey.jpg")
  check.eq(#maps, 2, "maps per layer")
  check.shape(maps[1].self, {2, 3, 3}, "self: (heads, metrics, metrics)")
  check.shape(maps[2].cross, {2, 3, #pieces}, "cross: (heads, metrics, prompt pieces)")
  check.eq(metric_names[2], "align", "names with the maps")
  model:free()
  -- Only AAPMT's own head keys are left unused under a config without a head.
  check.raises(function() IR.load{checkpoint = tmp .. "/ma.safetensors", config = plain_cfg, vocab = vocab} end,
    "does not fit the model config", "unexpected: metric_attention.tokens")
  local plain = IR.load{checkpoint = tmp .. "/plain.safetensors", config = plain_cfg, vocab = vocab}
  check.raises(function() plain:metrics("x", {image_dir .. "/grey.jpg"}) end, "no Metric Transformer")
  plain:free()
end

-- ---- train.run with the Metric Transformer ----
local files = {"rgb_224x224.jpg", "rgb_32x33.png", "grey.jpg", "palette_50x40.png", "rgb_37x23.png",
  "rgba_45x67.png", "rgb_35x32.png", "la_40x52.png"}
local rows = {}
for i, f in ipairs(files) do
  rows[i] = {name = f, image = image_dir .. "/" .. f, prompt = i % 2 == 0 and "a red cat" or "two dogs",
    targets = {mos_quality = (i * 37 % 8) / 2, mos_align = (i * 5 % 8) / 3, mos_authenticity = i / 3}}
end
local function cfg(out, extra)
  local c = {model = {config = attention_cfg, seed = 2}, vocab = vocab, train = rows, test = rows,
    metrics = {"quality", "align", "authenticity"}, optimizer = {kind = "adam", lr = 3e-3}, epochs = 10,
    batch_size = 4, seed = 11, out = tmp .. "/" .. out, progress = false}
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end

do
  local r = train.run(cfg("attention"))
  local first = (r.losses[1] + r.losses[2]) / 2
  local last = (r.losses[#r.losses] + r.losses[#r.losses - 1]) / 2
  check.truthy(last < 0.5 * first, string.format("three metrics learn together (loss %.4g -> %.4g)", first, last))
  for _, m in ipairs({"quality", "align", "authenticity"}) do
    check.truthy(r.metrics[m] and r.metrics[m].n == 8, m .. " evaluated")
  end
  local scores = a.read_csv(tmp .. "/attention/scores.csv")
  check.eq(table.concat(scores.header, ","),
    "name,prompt,quality_score,score,authenticity_score,mos_quality,mos_align,mos_authenticity",
    "scores.csv: AAPMT's columns, no separate raw columns (the head's outputs are raw)")
  local log = folder.read(tmp .. "/attention/log.txt")
  check.truthy(log:find("Metric Transformer (metric_attention): outputs quality, align, authenticity", 1, true), log)
  local rec = folder.read_lua(tmp .. "/attention/config.lua")
  check.eq(rec.metrics[1].text, false, "config.lua: the head reads each image's own prompt")
end

-- A subset of the outputs, in any order; a checkpoint without the head.
do
  local base = tmp .. "/no_head.safetensors"
  a.imagereward_random(plain_cfg, 3):save(base)
  local r = train.run(cfg("coded", {model = {checkpoint = base, config = coded_cfg}, metrics = {"align", "quality"},
    epochs = 2}))
  check.eq(r.steps, 4, "coded head trains")
  local log = folder.read(tmp .. "/coded/log.txt")
  check.truthy(log:find("not in the checkpoint, initialised randomly from seed 11", 1, true), log)
  local net = a.imagereward_load(base, coded_cfg)
  check.eq(net:metric_head_random(), true, "a checkpoint without the head: random head")
  net:free()
  local trained = a.imagereward_load(tmp .. "/coded/model.safetensors", coded_cfg)
  check.eq(trained:metric_head_random(), false, "the run's model holds its head")
  trained:free()
end

-- Loss weights: fixed, and Appendix B's dynamic re-weighting.
do
  local function steps(out)
    local t = a.read_csv(tmp .. "/" .. out .. "/steps.csv")
    local col = {}
    for i, name in ipairs(t.header) do col[name] = i end
    local list = {}
    for i, row in ipairs(t.rows) do
      list[i] = {}
      for name, j in pairs(col) do list[i][name] = tonumber(row[j]) end
    end
    return list
  end
  train.run(cfg("fixed", {loss_weights = {2, 1, 0.5}, epochs = 1}))
  for _, s in ipairs(steps("fixed")) do
    check.near(s.loss, 2 * s.loss_quality + s.loss_align + 0.5 * s.loss_authenticity, 1e-9 * s.loss,
      "fixed weights: the loss is the weighted sum")
    check.eq(s.weight_quality, 2, "weight column")
  end
  train.run(cfg("dynamic", {loss_weights = "dynamic", epochs = 2}))
  local st = steps("dynamic")
  check.eq(st[1].weight_quality, 1, "dynamic: equal weights at first")
  for i = 2, #st do
    local p = st[i - 1]
    local total = p.weight_quality * p.loss_quality + p.weight_align * p.loss_align +
      p.weight_authenticity * p.loss_authenticity
    check.near(st[i].weight_align, 3 * p.weight_align * p.loss_align / total, 1e-9,
      "dynamic: a weight is its share of the last weighted loss")
    check.near(st[i].weight_quality + st[i].weight_align + st[i].weight_authenticity, 3, 1e-9, "weights sum to 3")
  end
  check.raises(function() train.run(cfg("bad_w", {loss_weights = {1, 2}})) end, "loss_weights", "3 positive numbers")
end

check.raises(function() train.run(cfg("bad", {metrics = {{name = "sharpness", target = "mos_quality"}}})) end,
  "metric 'sharpness' is not an output of the model's Metric Transformer", "quality, align, authenticity")

os.execute(string.format("rm -rf %q", tmp))
