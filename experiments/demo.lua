-- The built-in demo: tensors, autograd and a few hundred gradient steps.
--
-- A small MLP head (LayerNorm → Linear → GELU → Linear, the shape of a
-- reward head) learns to score synthetic 64-d "image features" whose true
-- quality is a fixed nonlinear function of them. Run: aapmt run experiments/demo.lua [STEPS]
local a = aapmt
local steps = tonumber(arg and arg[1]) or 300

print("aapmt " .. a.version .. " demo")
local x = a.tensor({{1, 2, 3}, {4, 5, 6}})
print("a tensor, its transpose (a view) and a broadcast sum:")
print(x)
print(x:transpose(1, 2))
print(x + a.tensor({10, 20, 30}))

-- Synthetic data: quality = tanh-like squashing of a random projection.
local n, d, hidden = 512, 64, 128
local features = a.randn({n, d}, {seed = 1})
local direction = a.randn({1, d}, {seed = 2}) / math.sqrt(d)
local z = a.linear(features, direction)
local quality = (z:exp() - (-z):exp()) / (z:exp() + (-z):exp()) * 2.5 + 2.5   -- in (0, 5)

-- Parameters: leaves that require grad.
local function param(shape, seed, scale)
  return (a.randn(shape, {seed = seed}) * scale):requires_grad_()
end
local params = {
  ln_w = a.ones(d):requires_grad_(), ln_b = a.zeros(d):requires_grad_(),
  w1 = param({hidden, d}, 3, 1 / math.sqrt(d)), b1 = a.zeros(hidden):requires_grad_(),
  w2 = param({1, hidden}, 4, 1 / math.sqrt(hidden)), b2 = a.zeros(1):requires_grad_(),
}

local function forward(inputs)
  local h = a.layernorm(inputs, params.ln_w, params.ln_b, 1e-5)
  h = a.linear(h, params.w1, params.b1):gelu()
  return a.linear(h, params.w2, params.b2)
end

-- Plain gradient descent: each step replaces every parameter by a new leaf.
local lr, started = 0.05, a.clock()
for step = 1, steps do
  local loss = a.mse_loss(forward(features), quality)
  loss:backward()
  a.no_grad(function()
    for name, p in pairs(params) do
      params[name] = (p - p.grad * lr):requires_grad_()
    end
  end)
  if step == 1 or step % 50 == 0 or step == steps then
    local rate = step / math.max(a.clock() - started, 1e-9)
    print(string.format("step %4d/%d  loss %.5f  %.0f steps/s  ETA %.1f s", step, steps, loss:item(), rate,
      (steps - step) / rate))
  end
end

local predicted = a.no_grad(function() return forward(features) end)
local final = a.mse_loss(predicted, quality):item()
print(string.format("final mean squared error %.5f (quality variance %.5f)", final,
  ((quality - quality:mean()) * (quality - quality:mean())):mean():item()))
