-- Optimizers, clipping, lr schedules and metrics from Lua, against the
-- PyTorch and scipy values of tests/fixtures/train/expected.safetensors
-- (tests/fixtures/make_train_fixtures.py).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local a = aapmt

local here = arg[0]:match("^(.*)/") or "."
local fx = a.load(here .. "/../fixtures/train/expected.safetensors")

local function leaf(t, dtype)
  return t:to(dtype or t:dtype()):clone():requires_grad_()
end

-- Gives p exactly the gradient g: d/dp sum(p * g) = g.
local function give_grad(p, g)
  (p * g:to(p:dtype())):sum():backward()
end

local function max_diff(x, y)
  local d = 0
  for _, v in ipairs((x:to("f64") - y:to("f64")):reshape(-1):totable()) do d = math.max(d, math.abs(v)) end
  return d
end

-- ---- optimizers: three fixture cases, bit for bit ----
local kinds = {[0] = "sgd", "adam", "adamw"}
for _, k in ipairs({2, 5, 7, 10}) do
  local c = fx["optim" .. k .. ".config"]:totable()
  local kind, dtype = kinds[c[1]], c[11] == 32 and "f32" or "f64"
  local opts
  if kind == "sgd" then
    opts = {lr = c[2], momentum = c[8], dampening = c[9], weight_decay = c[6], nesterov = c[10] ~= 0}
  else
    opts = {lr = c[2], betas = {c[3], c[4]}, eps = c[5], weight_decay = c[6], amsgrad = c[7] ~= 0}
  end
  local params = {}
  for p = 0, 2 do params[p + 1] = leaf(fx[("optim%d.init.%d"):format(k, p)], dtype) end
  local opt = a[kind](params, opts)
  for s = 0, 5 do
    opt:zero_grad()
    for p = 0, 2 do
      local g = fx[("optim%d.grad.%d.%d"):format(k, s, p)]
      if g then give_grad(params[p + 1], g) end
    end
    opt:step()
    for p = 0, 2 do
      local d = max_diff(params[p + 1], fx[("optim%d.param.%d.%d"):format(k, s, p)])
      check.eq(d, 0, ("optim%d (%s %s) step %d param %d: difference from torch"):format(k, kind, dtype, s, p))
    end
  end
  check.eq(opt:steps(1), 6, "steps of parameter 1")
  check.eq(opt:steps(2), 5, "parameter 2 had no gradient once")

  -- Checkpoint the state through a file, resume in a fresh optimizer: the
  -- next step agrees bit for bit.
  local path = os.tmpname()
  a.save(opt:state(), path)
  local copies = {}
  for i, p in ipairs(params) do copies[i] = p:detach():clone():requires_grad_() end
  local opt2 = a[kind](copies, opts)
  opt2:load_state((a.load(path)))
  os.remove(path)
  check.eq(opt2:steps(2), 5, "steps after load_state")
  opt:zero_grad()
  opt2:zero_grad()
  for i = 1, 3 do
    give_grad(params[i], params[i]:detach() * 0.5)
    give_grad(copies[i], params[i]:detach() * 0.5)
  end
  opt:step()
  opt2:step()
  for i = 1, 3 do check.eq(max_diff(params[i], copies[i]), 0, "resumed step, param " .. i) end
  opt2:free()
end

-- State names follow PyTorch's 0-based parameter numbers.
do
  local p = a.tensor({1, 2, 3}):requires_grad_()
  local opt = a.adam({p}, {lr = 0.1, amsgrad = true})
  check.truthy(next(opt:state()) == nil, "no state before the first step")
  give_grad(p, a.tensor({1, 1, 1}))
  opt:step()
  local st = opt:state()
  for _, name in ipairs({"0.exp_avg", "0.exp_avg_sq", "0.max_exp_avg_sq", "0.step"}) do
    check.truthy(a.is_tensor(st[name]), "state has " .. name)
  end
  check.eq(st["0.step"]:item(), 1, "step count")
  check.eq(st["0.step"]:dtype(), "i64", "step is i64")
  check.truthy(tostring(opt):find("adam, 1 parameters", 1, true), "tostring: " .. tostring(opt))
  opt:set_lr(0.5)
  check.eq(opt:lr(), 0.5, "set_lr")
  check.eq(#opt:params(), 1, "params")
  check.eq(max_diff(opt:params()[1], p), 0, "params are the optimized tensors")
  opt:zero_grad(false)
  check.tensor(p.grad, {0, 0, 0}, 0, "zero_grad(false) keeps zeroed gradients")
  opt:zero_grad()
  check.eq(p.grad, nil, "zero_grad() drops them")
  opt:free()
  check.raises(function() opt:step() end, "Optimizer:step", "freed")
end

-- ---- clip_grad_norm ----
for k = 0, 4 do
  local c = fx["clip" .. k .. ".config"]:totable()
  local dtype = c[2] == 32 and "f32" or "f64"
  local params = {a.zeros({3, 4}, dtype):requires_grad_(), a.zeros({5}, dtype):requires_grad_(),
                  a.zeros({70}, dtype):requires_grad_()}
  give_grad(params[1], fx["clip" .. k .. ".grad.0"])
  give_grad(params[3], fx["clip" .. k .. ".grad.2"])
  local total = a.clip_grad_norm(params, c[1])
  -- torch sums an f32 norm in float, in its own order: the last bit may differ.
  local tol = dtype == "f32" and 1e-6 or 1e-13
  check.near(total, fx["clip" .. k .. ".total"]:item(), tol, "clip" .. k .. " total")
  check.tensor(params[1].grad, fx["clip" .. k .. ".clipped.0"]:totable(), tol, "clip" .. k .. " gradient 0")
  check.tensor(params[3].grad, fx["clip" .. k .. ".clipped.2"]:totable(), tol, "clip" .. k .. " gradient 2")
  a.zero_grad(params)
  check.eq(params[1].grad, nil, "aapmt.zero_grad")
end

-- ---- schedules: sched(n) is the lr of step n (from 1) ----
local kind_names = {[0] = "constant", "cosine", "linear", "step"}
for k = 0, 8 do
  local c = fx["sched" .. k .. ".config"]:totable()
  local sched = a.schedule{kind = kind_names[c[1]], base_lr = c[2], min_lr = c[3], warmup = math.tointeger(c[4]),
                           total = math.tointeger(c[5]), step_size = math.tointeger(c[6]), gamma = c[7]}
  for n, lr in ipairs(fx["sched" .. k .. ".lr"]:totable()) do
    check.near(sched(n), lr, 1e-12, ("sched%d step %d"):format(k, n))
  end
end
check.raises(function() return a.schedule{kind = "cosine", base_lr = 1e-3, warmup = 5, total = 5} end,
  "lr schedule cosine", "total")
check.raises(function() return a.schedule{kind = "exponential", base_lr = 1} end, "kind must be")
check.raises(function() return a.schedule{base_lr = 1, warmpu = 3} end, "unknown option 'warmpu'")
check.raises(function() return a.schedule{kind = "constant"} end, "base_lr")
check.raises(function() return a.schedule{base_lr = 1}(0) end, "counts from 1")

-- ---- metrics, from tensors and from lists ----
for k = 0, 11 do
  local y, yhat = fx["metric" .. k .. ".y"], fx["metric" .. k .. ".yhat"]
  local e = fx["metric" .. k .. ".expected"]:totable()
  local all = a.metrics.all(y, yhat)
  local from_lists = a.metrics.all(y:totable(), yhat:totable())
  for i, name in ipairs({"plcc", "srcc", "krcc", "rmse"}) do
    local got = all[name]
    if e[i] ~= e[i] then
      check.truthy(got ~= got, ("metric%d %s is nan like scipy (got %s)"):format(k, name, got))
    elseif math.abs(e[i]) == math.huge then
      check.eq(got, e[i], ("metric%d %s"):format(k, name))
    else
      check.near(got, e[i], 1e-12, ("metric%d %s"):format(k, name))
    end
    check.truthy(got == from_lists[name] or (got ~= got and from_lists[name] ~= from_lists[name]),
      "lists and tensors agree")
    check.truthy(got == a.metrics[name](y, yhat) or got ~= got, name .. " alone")
  end
  check.eq(all.n, #y, "n")
end
check.near(a.metrics.srcc({1, 2, 3, 4}, {10, 20, 20, 40}), 0.9486832980505138, 1e-15, "srcc with a tie")
check.near(a.metrics.krcc({1, 2, 3, 4}, {10, 20, 20, 40}), 0.9128709291752769, 1e-15, "krcc with a tie")
check.raises(function() return a.metrics.plcc({1, 2, 3}, {1, 2}) end, "aapmt.metrics.plcc", "3 values", "2")
check.raises(function() return a.metrics.rmse({1, "x"}, {1, 2}) end, "argument #1[2]")

-- ---- errors ----
local w = a.zeros(3):requires_grad_()
check.raises(function() return a.adam({w}, {lr = 1e-3, weightdecay = 0.1}) end, "aapmt.adam", "unknown option 'weightdecay'")
check.raises(function() return a.adam({w = w}) end, "aapmt.adam", "list its tensors")
check.raises(function() return a.adamw({w, 3}) end, "aapmt.adamw", "params[2]")
check.raises(function() return a.adam({w}, {betas = {0.9}}) end, "betas")
check.raises(function() return a.adam({w}, {betas = {0.9, 1.5}}) end, "adam: invalid betas (0.9, 1.5)")
check.raises(function() return a.adam({w, w}) end, "same tensor")
check.raises(function() return a.adam({w * 2}) end, "not a leaf")
check.raises(function() return a.sgd({w}, {nesterov = true}) end, "nesterov")
check.raises(function() return a.adam({a.zeros({2, 3}):transpose(1, 2)}) end, "not contiguous", "[3, 2]")
do
  local opt = a.adam({w})
  check.raises(function() opt:load_state({["0.exp_avg"] = a.zeros(4)}) end, "0.exp_avg", "[4]")
  check.raises(function() opt:load_state({["0.velocity"] = a.zeros(3)}) end, "velocity")
end

-- ---- a few training steps: gradient accumulation, clipping, schedule ----
do
  local x = a.randn({32, 4}, {seed = 3})
  local y = a.linear(x, a.tensor({{1, -2, 0.5, 3}}))
  local wt = a.zeros({1, 4}):requires_grad_()
  local opt = a.adamw({wt}, {lr = 0.1, weight_decay = 0})
  local sched = a.schedule{kind = "cosine", base_lr = 0.1, warmup = 5, total = 200}
  local first, last
  for n = 1, 200 do
    opt:set_lr(sched(n))
    for half = 0, 1 do   -- two micro-batches of 16 accumulate into one step
      local loss = a.sse_loss(a.linear(x:narrow(1, 1 + 16 * half, 16), wt), y:narrow(1, 1 + 16 * half, 16))
      loss:backward()
      if n == 1 and half == 0 then first = loss:item() end
      if n == 200 then last = (last or 0) + loss:item() end
    end
    a.clip_grad_norm({wt}, 10)
    opt:step()
    opt:zero_grad()
  end
  check.truthy(last < first * 1e-3, ("training lowered the loss (%g → %g)"):format(first, last))
end
print("train: ok")
