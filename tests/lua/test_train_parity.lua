-- A few optimizer steps of a tiny ImageReward against PyTorch
-- (tests/fixtures/make_train_step_fixtures.py): same initial weights, same
-- batches, every dropout 0. Compared: the loss of every step and every
-- final weight, within TOL relative (per tensor: max |ours - torch| <=
-- TOL * max |torch|), and each weight's update within UPDATE_TOL of the
-- tensor's largest; key-bias entries only to a bound (see below). Cases:
-- Adam on every parameter; Adam under fix_rate (frozen tensors stay
-- bit-identical); train.run itself (AdamW, two metrics summed, image files,
-- steps.csv and model.safetensors) against the same in PyTorch.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local lfs = require "lfs"
local train = require "aapmt.train"
local a = aapmt

local TOL = 1e-4
-- Weights move by ~steps * lr, a few percent of their size, so TOL on the
-- weights would let a wrong Adam eps (1e-6 for 1e-8) through; each update
-- (final - initial) must also match within UPDATE_TOL of the tensor's
-- largest update. float32 torch itself is 7e-5 from float64 torch here.
local UPDATE_TOL = 2e-4

local here = arg[0]:match("^(.*)/") or "."
local fixtures = here .. "/../fixtures"
local dir = fixtures .. "/train_step"
local config = dir .. "/tiny_config.json"
local init_path = dir .. "/tiny_init.safetensors"
local cases = dofile(dir .. "/cases.lua")
local E = a.load(dir .. "/expected.safetensors")
local init = a.load(init_path)
local steps = #cases.schedule
local width
do
  local net <close> = a.imagereward_load(init_path, config)
  width = net:config().vision.width
end

-- Softmax ignores a shift shared by every key, so a key bias has no
-- gradient in exact arithmetic; float32 leaves rounding noise (~1e-8, the
-- size of Adam's eps) that Adam scales up to at most about lr per step,
-- differently on each side (float64 torch barely moves them, float32 torch
-- by a few lr). Those entries are held only to 2 * steps * lr.
local function key_bias_range(name)
  if name:find("attn%.qkv%.bias$") then return width + 1, 2 * width end
  if name:find("self%.key%.bias$") then return 1, math.huge end
end

local worst = {loss = 0, weight = 0, update = 0, key_bias = 0}

local function flat(t) return t:to("f64"):reshape(-1):totable() end

-- One tensor that moved: got and want (torch) after the steps, start before.
local function compare_tensor(case, name, got, want, start)
  check.eq(#got, #want, case .. ": size of " .. name)
  local kb_first, kb_last = key_bias_range(name)
  local function is_key_bias(i) return kb_first and i >= kb_first and i <= kb_last end
  local scale, uscale = 0, 0
  for i = 1, #want do
    if not is_key_bias(i) then
      scale = math.max(scale, math.abs(want[i]))
      uscale = math.max(uscale, math.abs(want[i] - start[i]))
    end
  end
  local bound = 2 * steps * cases.lr
  for i = 1, #want do
    local d, du = math.abs(got[i] - want[i]), math.abs((got[i] - start[i]) - (want[i] - start[i]))
    if d ~= d then error(string.format("%s: %s[%d] is %s", case, name, i, tostring(got[i])), 3) end
    if is_key_bias(i) then
      if d > bound then
        error(string.format("%s: key bias %s[%d] is %.9g, torch %.9g: more than %g apart", case, name, i, got[i],
          want[i], bound), 3)
      end
      worst.key_bias = math.max(worst.key_bias, d)
    else
      if d > TOL * scale then
        error(string.format("%s: %s[%d] is %.9g, torch %.9g (error %.3g relative to the tensor, tolerance %g)", case,
          name, i, got[i], want[i], d / scale, TOL), 3)
      end
      if du > UPDATE_TOL * uscale then
        error(string.format("%s: %s[%d] moved by %.9g, in torch by %.9g (error %.3g of the largest update, "
          .. "tolerance %g)", case, name, i, got[i] - start[i], want[i] - start[i], du / uscale, UPDATE_TOL), 3)
      end
      worst.weight = math.max(worst.weight, d / scale)
      if uscale > 0 then worst.update = math.max(worst.update, du / uscale) end
    end
  end
end

-- Compares the final weights of net with E["<case>.final.<name>"]; tensors
-- absent there did not move in torch and must be bit-identical to init.
-- Returns how many tensors were compared with torch's.
local function compare_weights(net, case)
  local moved = 0
  for _, p in ipairs(net:parameters()) do
    local name, got = p.name, flat(p.tensor)
    local start, want = flat(init[name]), E[case .. ".final." .. name]
    if want then
      moved = moved + 1
      compare_tensor(case, name, got, flat(want), start)
    else
      for i = 1, #got do
        if got[i] ~= start[i] then
          error(string.format("%s: %s[%d] moved (%.9g -> %.9g) but stays fixed in torch", case, name, i, start[i],
            got[i]), 2)
        end
      end
    end
  end
  return moved
end

-- got: the loss of each step; key: the fixture's list of them.
local function compare_losses(got, key)
  local want = E[key]:totable()
  check.eq(#got, #want, key .. ": number of steps")
  for s = 1, #want do
    local err = math.abs(got[s] - want[s]) / math.abs(want[s])
    if err > TOL then
      error(string.format("%s: step %d loss %.9g, torch %.9g (relative error %.3g, tolerance %g)", key, s, got[s],
        want[s], err, TOL), 2)
    end
    worst.loss = math.max(worst.loss, err)
  end
end

local function count_fixture_tensors(case)
  local n = 0
  for k in pairs(E) do
    if k:sub(1, #case + 7) == case .. ".final." then n = n + 1 end
  end
  return n
end

-- ---- the engine's own loop: forward in training mode, sse, backward, step ----
local function engine_steps(case)
  local net = a.imagereward_load(init_path, config)
  local params = {}
  if case == "fix" then net:fix_rate(cases.fix_rate) end
  for i, p in ipairs(net:parameters()) do
    if case ~= "fix" then p.tensor.requires_grad = true end
    params[i] = p.tensor
  end
  local opt = a.adam(params, {lr = cases.lr})
  local targets = {}
  for i, r in ipairs(cases.rows) do targets[i] = r.mos_align end
  local losses = {}
  for s = 1, steps do
    local first, last = table.unpack(cases.batches[cases.schedule[s]])
    local n = last - first + 1
    local pixels = E.pixels:narrow(1, first, n):contiguous()
    local ids, mask = E.ids:narrow(1, first, n):contiguous(), E.mask:narrow(1, first, n):contiguous()
    local out = net:forward(pixels, ids, mask, {training = true})
    local y = a.tensor(table.move(targets, first, last, 1, {}))
    -- AAPMT regresses the raw reward of the head (ImageReward.forward).
    local loss = a.sse_loss(out.rewards, y)
    losses[s] = loss:item()
    loss:backward()
    opt:step()
    opt:zero_grad()
  end
  opt:free()
  return net, losses
end

for _, case in ipairs({"adam", "fix"}) do
  local net, losses = engine_steps(case)
  compare_losses(losses, case .. ".loss")
  local moved = compare_weights(net, case)
  check.eq(moved, count_fixture_tensors(case), case .. ": every tensor torch moved was compared")
  net:free()
end
check.truthy(count_fixture_tensors("fix") < count_fixture_tensors("adam"), "fix_rate freezes tensors")

-- ---- train.run on the same rows: one batch of all rows per step ----
do
  local tmp = os.tmpname()
  os.remove(tmp)
  assert(lfs.mkdir(tmp))
  local rows = {}
  for i, r in ipairs(cases.rows) do
    rows[i] = {name = r.image, image = fixtures .. "/image/" .. r.image, prompt = r.prompt,
      targets = {mos_quality = r.mos_quality, mos_align = r.mos_align}}
  end
  local out = tmp .. "/run"
  local result = train.run{model = {checkpoint = init_path, config = config}, vocab = fixtures .. "/tokenizer/vocab.txt",
    train = rows, test = {}, metrics = {"quality", "align"},
    optimizer = {kind = "adamw", lr = cases.lr, weight_decay = cases.weight_decay},
    epochs = steps, batch_size = #rows + 3, max_length = cases.max_length, out = out, progress = false}
  check.eq(result.steps, steps, "train.run: one step per epoch")
  check.eq(train.task_prompts.quality, cases.quality_prompt, "train.run's quality prompt is the fixture's")

  local csv = a.read_csv(out .. "/steps.csv")
  local col = {}
  for i, h in ipairs(csv.header) do col[h] = i end
  local losses, parts = {}, {quality = {}, align = {}}
  for s, row in ipairs(csv.rows) do
    losses[s] = tonumber(row[col.loss])
    parts.quality[s] = tonumber(row[col.loss_quality])
    parts.align[s] = tonumber(row[col.loss_align])
    check.eq(losses[s], result.losses[s], "steps.csv holds the returned loss of step " .. s)
  end
  local if_scores = E["run.loss1_if_scores"]:item()
  if math.abs(losses[1] - if_scores) <= TOL * if_scores then
    error(string.format("train.run: step 1 loss %.9g is what regressing the normalised score gives; AAPMT "
      .. "regresses the raw reward (docs/aapmt.md §3.1, §4.2), torch %.9g", losses[1], E["run.loss"]:totable()[1]))
  end
  compare_losses(losses, "run.loss")
  compare_losses(parts.quality, "run.loss_quality")
  compare_losses(parts.align, "run.loss_align")
  local net = a.imagereward_load(out .. "/model.safetensors", config)
  local moved = compare_weights(net, "run")
  check.eq(moved, count_fixture_tensors("run"), "run: every tensor torch moved was compared")
  net:free()
  os.execute("rm -rf " .. string.format("%q", tmp))
end

print(string.format("train_parity: largest errors: losses %.2e relative, weights %.2e relative (tolerance %g), "
  .. "updates %.2e of the largest (tolerance %g); key biases %.2e apart (bound %g)", worst.loss, worst.weight, TOL,
  worst.update, UPDATE_TOL, worst.key_bias, 2 * steps * cases.lr))
