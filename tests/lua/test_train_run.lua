-- train.run: a tiny model (32 px) on a few fixture images. Loss falls;
-- two runs are bit-identical; a run stopped (and one killed with SIGKILL)
-- and resumed ends bit-identical to an uninterrupted one; the run folder
-- holds its files; bad options name the option or file.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local lfs = require "lfs"
local train = require "aapmt.train"
local folder = require "aapmt.run_folder"
local a = aapmt

a.set_num_threads(2)
local here = arg[0]:match("^(.*)/") or "."
local fixtures = here .. "/../fixtures"
local config = fixtures .. "/train_run/tiny_config.json"
local vocab = fixtures .. "/tokenizer/vocab.txt"
local image_dir = fixtures .. "/image"

local tmp = os.tmpname()
os.remove(tmp)
assert(lfs.mkdir(tmp))

local files = {"rgb_224x224.jpg", "rgb_32x33.png", "grey.jpg", "palette_50x40.png", "rgb_37x23.png",
  "rgba_45x67.png", "rgb_35x32.png", "la_40x52.png"}
local prompts = {"a red cat", "a red cat", "a blue boat", "a blue boat", "two dogs", "two dogs", "a house",
  "a house"}
local rows = {}
for i, f in ipairs(files) do
  rows[i] = {name = f, image = image_dir .. "/" .. f, prompt = prompts[i],
    targets = {mos_quality = (i * 37 % 8) / 2, mos_align = (i * 5 % 8) / 3}}
end

local function cfg(out, extra)
  local c = {model = {config = config, seed = 7}, vocab = vocab, train = rows, test = rows,
    metrics = {"quality"}, optimizer = {kind = "adam", lr = 1e-3}, epochs = 2, batch_size = 3,
    seed = 11, out = tmp .. "/" .. out, progress = false}
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end

local function same_list(x, y, what)
  check.eq(#x, #y, what .. ": length")
  for i = 1, #x do
    if x[i] ~= y[i] then error(string.format("%s: entry %d differs: %.17g vs %.17g", what, i, x[i], y[i]), 2) end
  end
end

-- The weights of two safetensors files, tensor by tensor, bit for bit.
local function same_weights(p, q, what)
  local x, names = a.load(p)
  local y = a.load(q)
  check.truthy(#names > 0, what .. ": has tensors")
  for _, n in ipairs(names) do
    check.truthy(y[n], what .. ": " .. n .. " in both")
    local d = (x[n]:to("f64") - y[n]:to("f64")):reshape(-1):totable()
    for i, v in ipairs(d) do
      if v ~= 0 then error(string.format("%s: %s[%d] differs by %g", what, n, i, v), 2) end
    end
  end
end

local function step_losses(out)
  local losses = {}
  local text = assert(folder.read(out .. "/steps.csv"))
  local first = true
  for line in text:gmatch("([^\n]*)\n") do
    if not first then losses[#losses + 1] = tonumber(line:match("^[^,]*,[^,]*,[^,]*,[^,]*,([^,]*)")) end
    first = false
  end
  return losses
end

local t0 = a.clock()

-- ---- the loss falls ----
do
  local r = train.run(cfg("learn", {epochs = 12, batch_size = 4, optimizer = {lr = 1e-2}}))
  check.eq(r.steps, 24, "steps: 12 epochs of 2 batches")
  local first = (r.losses[1] + r.losses[2]) / 2
  local last = (r.losses[23] + r.losses[24]) / 2
  check.truthy(last < 0.5 * first, string.format("loss falls (first epoch %.4g, last %.4g)", first, last))
  check.truthy(r.metrics.quality.srcc > 0.5, "SRCC on the trained rows " .. r.metrics.quality.srcc)
end

-- ---- determinism: two runs with dropout, accumulation, clipping and a schedule ----
local rich = {accumulate = 2, clip = 0.5, schedule = {kind = "cosine", warmup = 1}, metrics = {"quality", "align"},
  optimizer = {kind = "adamw", lr = 1e-3, weight_decay = 0.01}, epochs = 3}
do
  local r1 = train.run(cfg("det1", rich))
  local r2 = train.run(cfg("det2", rich))
  check.eq(r1.steps, 6, "steps: 3 epochs of 3 micro-batches in groups of 2")
  same_list(r1.losses, r2.losses, "two identical runs: losses")
  same_weights(tmp .. "/det1/model.safetensors", tmp .. "/det2/model.safetensors", "two identical runs: weights")
  check.eq(folder.read(tmp .. "/det1/scores.csv"), folder.read(tmp .. "/det2/scores.csv"), "two runs: scores.csv")
  -- Recomputing each block in the backward pass changes no bit.
  local with_recompute = {recompute = "block"}
  for k, v in pairs(rich) do with_recompute[k] = v end
  local r5 = train.run(cfg("det5", with_recompute))
  same_list(r1.losses, r5.losses, "recompute = 'block': losses")
  same_weights(tmp .. "/det1/model.safetensors", tmp .. "/det5/model.safetensors", "recompute = 'block': weights")
  check.raises(function() train.run(cfg("det6", {recompute = "layer"})) end, "option 'recompute'", "'block'")
  -- net:forward's recompute keeps block inputs only: less storage held until backward.
  local net = a.imagereward_random(config, 7)
  for _, p in ipairs(net:parameters()) do p.tensor.requires_grad = true end
  local pixels = a.randn({2, 3, 32, 32}, {seed = 1})
  local ids, mask = a.tensor({{101, 7, 102}, {101, 9, 102}}, "i64"), a.ones({2, 3}, {dtype = "i64"})
  local function held(recompute)
    local before = a.memory()
    local out = net:forward(pixels, ids, mask, {training = true, seed = 3, recompute = recompute})
    local bytes = a.memory() - before
    out.scores:sum():backward()
    return bytes
  end
  local stored, recomputed = held(false), held(true)
  check.truthy(recomputed < stored / 2, string.format("held after forward: %d bytes recomputing, %d stored",
    recomputed, stored))
  net:free()
  local r3 = train.run(cfg("det3", {epochs = 3, seed = 12}))
  local r4 = train.run(cfg("det4", {epochs = 3}))
  check.truthy(r3.losses[1] ~= r4.losses[1] or r3.losses[2] ~= r4.losses[2], "another seed gives other losses")
end

-- ---- loss kinds and freezing ----
do
  -- Before any update, step 1 sees the same batch and dropout: mse = sse / B.
  local sse = train.run(cfg("sse", {epochs = 1}))
  local mse = train.run(cfg("mse", {epochs = 1, loss = "mse"}))
  check.near(mse.losses[1] * 3, sse.losses[1], 1e-6, "step 1: mse * batch = sse")
  -- fix_rate 0.5 freezes the text encoder up to layer.1 and the ViT up to
  -- blocks.1 (ImageReward's rule); the head still trains.
  local init = tmp .. "/init.safetensors"
  a.imagereward_random(config, 7):save(init)
  train.run(cfg("frozen", {epochs = 1, fix_rate = 0.5}))
  local before, names = a.load(init)
  local after = a.load(tmp .. "/frozen/model.safetensors")
  local function same(n)
    local d = (before[n]:to("f64") - after[n]:to("f64")):reshape(-1):totable()
    for _, v in ipairs(d) do if v ~= 0 then return false end end
    return true
  end
  local frozen, trained = 0, 0
  for _, n in ipairs(names) do
    if n:find("^blip%.text_encoder%.embeddings") or n:find("^blip%.visual_encoder%.patch_embed") then
      check.truthy(same(n), "fix_rate 0.5 keeps " .. n)
      frozen = frozen + 1
    elseif n:find("^mlp%.") then
      trained = trained + (same(n) and 0 or 1)
    end
  end
  check.truthy(frozen >= 2, "frozen tensors were checked")
  check.truthy(trained >= 1, "the head trains under fix_rate 0.5")
end

-- ---- freezing by name pattern ----
do
  local init = tmp .. "/init_freeze.safetensors"
  a.imagereward_random(config, 7):save(init)
  local r = train.run(cfg("pattern", {epochs = 1, freeze = {"^blip%.visual_encoder%.", "position_embeddings"}}))
  check.eq(r.steps, 3, "frozen run trains")
  local before, names = a.load(init)
  local after = a.load(tmp .. "/pattern/model.safetensors")
  local kept, moved = 0, 0
  for _, n in ipairs(names) do
    local diff = before[n]:to("f64") - after[n]:to("f64")
    local d = (diff * diff):sum():item()
    if n:find("^blip%.visual_encoder%.") or n:find("position_embeddings") then
      check.eq(d, 0, "frozen by pattern: " .. n)
      kept = kept + 1
    elseif n:find("^mlp%.") or n:find("^blip%.text_encoder%.encoder") then
      moved = moved + (d > 0 and 1 or 0)
    end
  end
  check.truthy(kept >= 5, "frozen tensors were checked: " .. kept)
  check.truthy(moved >= 5, "the rest trains: " .. moved)
  check.truthy(folder.read(tmp .. "/pattern/log.txt"):find("trainable: %d+ of %d+ parameter tensors"),
    "log.txt counts the trainable parameters")
  check.raises(function() train.run(cfg("pattern_typo", {freeze = {"^blip%.vision_encoder"}})) end,
    "freeze pattern '^blip%.vision_encoder' matches no parameter")
  check.raises(function() train.run(cfg("pattern_bad", {freeze = "[a"})) end, "freeze[1]: bad Lua pattern '[a'")
  check.raises(function() train.run(cfg("pattern", {resume = true, epochs = 1})) end,
    "cannot resume", "freeze")
end

-- ---- evaluation every epoch ----
do
  local r = train.run(cfg("per_epoch", {epochs = 3, metrics = {"quality", "align"}}))
  local epochs = a.read_csv(tmp .. "/per_epoch/epochs.csv")
  check.eq(table.concat(epochs.header, ","),
    "epoch,steps,images,mean_loss,test_srcc_quality,test_plcc_quality,test_srcc_align,test_plcc_align",
    "epochs.csv has per-metric test columns")
  check.eq(#epochs.rows, 3, "one line per epoch")
  for e = 1, 3 do
    local v = tonumber(epochs.rows[e][5])
    check.truthy(v and v >= -1 and v <= 1, "epoch " .. e .. " test SRCC is a correlation: " .. tostring(epochs.rows[e][5]))
  end
  check.near(tonumber(epochs.rows[3][5]), r.metrics.quality.srcc, 1e-12, "last epoch's SRCC is the final one")
  check.near(tonumber(epochs.rows[3][8]), r.metrics.align.plcc, 1e-12, "last epoch's align PLCC is the final one")
  local log_text = folder.read(tmp .. "/per_epoch/log.txt")
  check.truthy(log_text:find("epoch 1: test quality (n=8): SRCC", 1, true), "log.txt has epoch 1's test")
  local quiet = train.run(cfg("no_eval", {epochs = 2, eval_every = false}))
  local q = a.read_csv(tmp .. "/no_eval/epochs.csv")
  check.eq(q.rows[1][5], "", "eval_every=false: no per-epoch test")
  check.truthy(quiet.metrics.quality.srcc, "eval_every=false still evaluates at the end")
  check.raises(function() train.run(cfg("bad_eval", {eval_every = "step"})) end, "eval_every")
end

-- ---- resume with a metric text written as a Lua function ----
-- (the state file cannot hold a function; its source is what is compared)
do
  local function text(row) return "a photo: " .. row.prompt end
  local metrics = {{name = "quality", text = text}}
  train.run(cfg("fn_text", {metrics = metrics, epochs = 2, checkpoint_every = 1, stop_after_steps = 2}))
  local rest = train.run(cfg("fn_text", {metrics = metrics, epochs = 2, checkpoint_every = 1, resume = true}))
  check.eq(rest.steps, 6, "a run whose metric text is a function resumes")
  local function other(row) return "a picture: " .. row.prompt end
  train.run(cfg("fn_other", {metrics = metrics, epochs = 2, checkpoint_every = 1, stop_after_steps = 2}))
  check.raises(function()
    train.run(cfg("fn_other", {metrics = {{name = "quality", text = other}}, epochs = 2, resume = true}))
  end, "cannot resume", "metrics:", "a picture: ")
  local recorded = folder.read_lua(tmp .. "/fn_text/config.lua")
  check.truthy(tostring(recorded.metrics[1].text):find("a photo: ", 1, true),
    "config.lua records the function's source: " .. tostring(recorded.metrics[1].text))
end

-- ---- resume: stopped, then resumed, equals uninterrupted ----
local resume_opts = {epochs = 3, checkpoint_every = 2}
local full = train.run(cfg("full", resume_opts))
check.eq(full.steps, 9, "uninterrupted: 9 steps")
do
  local opts = {stop_after_steps = 5}
  for k, v in pairs(resume_opts) do opts[k] = v end
  local part = train.run(cfg("stopped", opts))
  check.truthy(part.stopped, "stop_after_steps stops")
  check.eq(part.steps, 5, "stopped after 5 steps")
  check.truthy(not folder.exists(tmp .. "/stopped/model.safetensors"), "a stopped run writes no final model")
  local state = folder.read_lua(tmp .. "/stopped/checkpoints/state.lua")
  check.eq(state.step, 4, "the last checkpoint is at step 4")
  check.raises(function() train.run(cfg("stopped", resume_opts)) end, "already holds a run", "resume = true")
  -- A checkpoint torn by a kill (files written, state.lua not yet) is ignored.
  local torn_model, torn_optim = tmp .. "/stopped/checkpoints/step-00000006.model.safetensors",
    tmp .. "/stopped/checkpoints/step-00000006.optim.safetensors"
  folder.write_atomic(torn_model, "torn")
  folder.write_atomic(torn_optim, "torn")
  opts = {resume = true, recompute = "block"}   -- a resume may trade time for memory
  for k, v in pairs(resume_opts) do opts[k] = v end
  local rest = train.run(cfg("stopped", opts))
  check.eq(rest.steps, 9, "resumed to the end")
  same_list(step_losses(tmp .. "/stopped"), step_losses(tmp .. "/full"), "stopped and resumed: steps.csv losses")
  same_list(step_losses(tmp .. "/full"), full.losses, "steps.csv holds the returned losses")
  same_weights(tmp .. "/stopped/model.safetensors", tmp .. "/full/model.safetensors", "stopped and resumed: weights")
  check.eq(folder.read(tmp .. "/stopped/epochs.csv"), folder.read(tmp .. "/full/epochs.csv"), "epochs.csv")
  check.eq(folder.read(tmp .. "/stopped/scores.csv"), folder.read(tmp .. "/full/scores.csv"), "scores.csv")
  -- Old checkpoints are removed once a newer one is in force.
  local kept = 0
  for f in lfs.dir(tmp .. "/stopped/checkpoints") do
    if f:find("%.safetensors$") then kept = kept + 1 end
  end
  check.eq(kept, 2, "one checkpoint (model + optimizer) kept")
end

-- ---- a copied or moved run folder resumes from its own files ----
do
  local opts = {stop_after_steps = 5}
  for k, v in pairs(resume_opts) do opts[k] = v end
  train.run(cfg("original", opts))
  local state_text = folder.read(tmp .. "/original/checkpoints/state.lua")
  local function copy(from, to) assert(os.execute(string.format("cp -a '%s/%s' '%s/%s'", tmp, from, tmp, to))) end
  local function snapshot(dir)
    local bytes = {}
    for _, sub in ipairs({"", "/checkpoints"}) do
      for f in lfs.dir(dir .. sub) do
        local p = dir .. sub .. "/" .. f
        if lfs.attributes(p, "mode") == "file" then bytes[sub .. "/" .. f] = folder.read(p) end
      end
    end
    return bytes
  end
  local resumed = {resume = true}
  for k, v in pairs(resume_opts) do resumed[k] = v end
  -- A state written before paths were relative names the original's files
  -- by absolute path: the copy must use its own and leave the original be.
  copy("original", "old_copy")
  folder.write_atomic(tmp .. "/old_copy/checkpoints/state.lua",
    (state_text:gsub('"checkpoints/', '"' .. tmp .. '/original/checkpoints/')))
  local before = snapshot(tmp .. "/original")
  check.truthy(state_text:find('"checkpoints/step%-00000004%.model'), "state.lua names its files relative to the run")
  check.eq(train.run(cfg("old_copy", resumed)).steps, 9, "the copy of an old state resumed to the end")
  same_weights(tmp .. "/old_copy/model.safetensors", tmp .. "/full/model.safetensors", "copy resumed: weights")
  local after = snapshot(tmp .. "/original")
  for k, v in pairs(before) do check.truthy(after[k] == v, "the original's " .. k .. " is untouched") end
  for k in pairs(after) do check.truthy(before[k], "nothing new in the original: " .. k) end
  -- A copy given as a relative out, then the original moved away: each resumes.
  copy("original", "relative_copy")
  local up = lfs.currentdir():gsub("[^/]+", "..")
  local rel = cfg("relative_copy", resumed)
  rel.out = up:sub(2) .. tmp .. "/relative_copy"
  check.eq(train.run(rel).steps, 9, "a copy given as a relative out resumed")
  assert(os.rename(tmp .. "/original", tmp .. "/moved"))
  check.eq(train.run(cfg("moved", resumed)).steps, 9, "the moved folder resumed")
  -- A state naming a file outside its folder's step files is refused.
  copy("old_copy", "foreign")
  folder.write_atomic(tmp .. "/foreign/checkpoints/state.lua",
    (state_text:gsub('"checkpoints/step%-00000004%.model%.safetensors"', '"/etc/passwd"')))
  check.raises(function() train.run(cfg("foreign", resumed)) end, "/etc/passwd", "not a step file")
end

-- ---- resume after a real SIGKILL of a child `aapmt run` ----
do
  local aapmt_bin = arg[-1]
  local child = tmp .. "/child.lua"
  local f = assert(io.open(child, "w"))
  f:write(string.format([[
aapmt.set_num_threads(2)
local train = require "aapmt.train"
local cfg = dofile(%q)
cfg.on_step = function(info)
  if info.step == 7 then
    -- SIGKILL ourselves: no cleanup, no flush, as a killed job would end.
    local pid = io.open("/proc/self/stat"):read("a"):match("^(%%d+)")
    os.execute("kill -KILL " .. pid)
    while true do end
  end
end
train.run(cfg)
]], tmp .. "/child_cfg.lua"))
  f:close()
  local c = cfg("killed", resume_opts)
  folder.write_atomic(tmp .. "/child_cfg.lua", "return " .. folder.lua_value(c) .. "\n")
  local ok, how, code = os.execute(string.format("timeout 60 %q run %q 2>%q", aapmt_bin, child, tmp .. "/child.err"))
  check.truthy(not ok, "the child was killed (" .. tostring(how) .. " " .. tostring(code) .. ")")
  local err = folder.read(tmp .. "/child.err") or ""
  check.truthy(not err:find("aapmt:", 1, true), "the child raised no error: " .. err)
  local state = folder.read_lua(tmp .. "/killed/checkpoints/state.lua")
  check.eq(state.step, 6, "the killed run's last checkpoint is at step 6")
  c.resume = true
  local rest = train.run(c)
  check.eq(rest.steps, 9, "killed and resumed to the end")
  check.truthy(folder.read(tmp .. "/killed/log.txt"):find("resume: 8 train rows, 8 test rows, 9 steps (3 per epoch), 2 threads, from step 6 (epoch 3, batch 1)", 1, true),
    "log.txt records the resume")
  same_list(step_losses(tmp .. "/killed"), full.losses, "killed and resumed: losses")
  same_weights(tmp .. "/killed/model.safetensors", tmp .. "/full/model.safetensors", "killed and resumed: weights")
end

-- ---- the background loader as the batch source ----
do
  local function loader_opts(extra)
    local o = {epochs = 3, checkpoint_every = 2, source = train.loader_source{workers = 2, prefetch = 2}}
    for k, v in pairs(extra or {}) do o[k] = v end
    return o
  end
  local l1 = train.run(cfg("loader1", loader_opts()))
  local l2 = train.run(cfg("loader2", loader_opts()))
  check.eq(l1.steps, 9, "loader: 9 steps")
  same_list(l1.losses, l2.losses, "loader: two runs")
  train.run(cfg("loader3", loader_opts({stop_after_steps = 5})))
  train.run(cfg("loader3", loader_opts({resume = true})))
  same_list(step_losses(tmp .. "/loader3"), l1.losses, "loader: stopped and resumed")
  same_weights(tmp .. "/loader3/model.safetensors", tmp .. "/loader1/model.safetensors", "loader: resumed weights")
end

-- ---- the run folder ----
do
  local out = tmp .. "/full"
  for _, name in ipairs({"config.lua", "log.txt", "steps.csv", "epochs.csv", "scores.csv", "metrics.json",
                         "model.safetensors", "checkpoints/state.lua"}) do
    check.truthy(folder.exists(out .. "/" .. name), "run folder has " .. name)
  end
  local rec = folder.read_lua(out .. "/config.lua")
  check.eq(rec.seed, 11, "config.lua: seed")
  check.eq(rec.batch_size, 3, "config.lua: batch_size")
  check.eq(rec.metrics[1].text, "extremely high quality image, with vivid details", "config.lua: the task prompt")
  check.eq(rec.optimizer.kind, "adam", "config.lua: optimizer")
  check.eq(rec.train_size, 8, "config.lua: train_size")
  local scores = a.read_csv(out .. "/scores.csv")
  check.eq(table.concat(scores.header, ","), "name,prompt,quality_score,mos_quality,reward_quality", "scores.csv columns")
  check.eq(#scores.rows, 8, "scores.csv rows")
  check.eq(scores.rows[1][1], "rgb_224x224.jpg", "scores.csv name")
  local epochs = a.read_csv(out .. "/epochs.csv")
  check.eq(#epochs.rows, 3, "epochs.csv: one line per epoch")
  local metrics = folder.read(out .. "/metrics.json")
  for _, key in ipairs({'"quality"', '"srcc"', '"plcc"', '"krcc"', '"rmse"', '"n": 8'}) do
    check.truthy(metrics:find(key, 1, true), "metrics.json has " .. key)
  end
  check.truthy(folder.read(out .. "/log.txt"):find("test quality (n=8): SRCC", 1, true), "log.txt reports the test")
  local rich_scores = a.read_csv(tmp .. "/det1/scores.csv")
  check.eq(table.concat(rich_scores.header, ","), "name,prompt,quality_score,score,mos_quality,mos_align,reward_quality,reward_align",
    "scores.csv columns for quality and align (AAPMT's names)")
end

-- ---- a dataset and the paper's split ----
do
  local csv = tmp .. "/ratings.csv"
  local f = assert(io.open(csv, "w"))
  f:write("name,prompt,mos_quality\n")
  for _, r in ipairs(rows) do f:write(string.format('%s,"%s",%g\n', r.name, r.prompt, r.targets.mos_quality)) end
  f:close()
  local ds = a.dataset{kind = "csv", csv = csv, images = image_dir, targets = {"mos_quality"}}
  local c = cfg("dataset", {epochs = 1})
  c.train, c.test, c.data, c.split = nil, nil, ds, {seed = 42}
  local r = train.run(c)
  local _, test_idx = ds:split{seed = 42}
  check.eq(r.metrics.quality.n, #test_idx, "held-out rows evaluated")
  check.eq(#a.read_csv(tmp .. "/dataset/scores.csv").rows, #test_idx, "scores.csv has the held-out rows")
  -- AAPMT's protocol: the first #test rows of the CSV, scored beside the test.
  c.out, c.paper_rows = tmp .. "/paper", true
  local p = train.run(c)
  local paper = a.read_csv(tmp .. "/paper/scores_paper_rows.csv")
  check.eq(#paper.rows, #test_idx, "paper_rows: as many rows as the test set")
  for i = 1, #test_idx do check.eq(paper.rows[i][1], rows[i].name, "paper_rows: CSV row " .. i) end
  local y, yhat = {}, {}
  for i, row in ipairs(paper.rows) do y[i], yhat[i] = tonumber(row[4]), tonumber(row[3]) end
  check.near(p.paper_rows.quality.srcc, a.metrics.srcc(y, yhat), 1e-12, "paper_rows SRCC from its rows")
  check.eq(p.paper_rows.quality.n, #test_idx, "paper_rows n")
  check.truthy(folder.exists(tmp .. "/paper/metrics_paper_rows.json"), "metrics_paper_rows.json")
  check.truthy(folder.read(tmp .. "/paper/log.txt"):find("paper_rows 1..", 1, true), "log.txt reports paper_rows")
  check.raises(function() train.run(cfg("paper_bad", {paper_rows = true})) end, "paper_rows", "needs 'data'")
  ds:free()
end

-- ---- random weights for training from scratch ----
do
  local net = a.imagereward_random(config, 3, {init = "from_scratch"})
  local function sd(t) return math.sqrt((t * t):mean():item()) end
  local checked = 0
  for _, p in ipairs(net:parameters()) do
    local t, want = p.tensor, nil
    local fan_in = t:dim() >= 2 and t:numel() // t:size(1) or nil
    if p.name:find("^mlp%.layers%.%d+%.weight$") then want = 1 / math.sqrt(fan_in)
    elseif p.name:find("embeddings%.word_embeddings%.weight$") then want = 1
    elseif p.name:find("attention%.self%.query%.weight$") then want = 1 / math.sqrt(3 * fan_in) end
    if want and t:numel() >= 200 then
      check.near(sd(t), want, 0.15 * want, p.name .. ": from-scratch std")
      checked = checked + 1
    end
  end
  check.truthy(checked >= 4, "stds checked: " .. checked)
  local head = net:parameters()[1]
  net:free()
  check.raises(function() a.imagereward_random(config, 3, {init = "xavier"}) end, "init must be", "xavier")
  local r = train.run(cfg("scratch", {model = {config = config, seed = 7, init = "from_scratch"}, epochs = 1}))
  check.eq(r.steps, 3, "train.run from scratch")
  check.truthy(head ~= nil, "parameters listed")
end

-- ---- a metric's text as a Lua function of the row ----
do
  local seen = {}
  local r = train.run(cfg("text_fn", {epochs = 1, metrics = {{name = "quality", text = function(row)
    seen[row.prompt] = true
    return "a photo of " .. row.prompt
  end}}}))
  check.eq(r.steps, 3, "trains with a text function")
  check.truthy(seen["a red cat"] and seen["two dogs"], "the function saw the rows")
  check.raises(function() train.run(cfg("text_bad", {metrics = {{name = "quality", text = function() return 1 end}}}))
  end, "text function returned a number")
end

-- ---- errors name the option or the file ----
check.raises(function() train.run(cfg("bad1", {bogus = 1})) end, "unknown option 'bogus'")
check.raises(function() train.run(cfg("bad2", {optimizer = {kind = "adam", momentum = 0.9}})) end,
  "optimizer: unknown option 'momentum'")
check.raises(function() train.run(cfg("bad3", {loss = "l1"})) end, "loss", "l1")
check.raises(function() train.run(cfg("bad4", {batch_size = 0})) end, "batch_size")
local missing = {}
for i, r in ipairs(rows) do missing[i] = r end
missing[3] = {image = image_dir .. "/no_such.png", prompt = "x", targets = {mos_quality = 1}}
check.raises(function() train.run(cfg("bad5", {train = missing})) end, "no_such.png", "row 3")
check.raises(function() train.run(cfg("bad6", {metrics = {"authenticity"}})) end, "mos_authenticity")
check.raises(function() train.run(cfg("bad7", {model = {config = config, sed = 1}})) end, "unknown option 'sed'")
check.raises(function() train.run(cfg("bad8", {vocab = tmp .. "/nope.txt"})) end, "nope.txt")

os.execute("rm -rf " .. string.format("%q", tmp))
io.stderr:write(string.format("test_train_run: %.1f s\n", a.clock() - t0))
