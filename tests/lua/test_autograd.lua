-- Autograd from Lua: gradients, a training loop, no_grad, frozen parameters.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local a = aapmt

-- requires_grad: property and method
local w = a.tensor({1, 2, 3}, "f64")
check.eq(w.requires_grad, false, "off by default")
w.requires_grad = true
check.eq(w.requires_grad, true, "set through the field")
check.eq(w.grad, nil, "no grad before backward")
local v = a.tensor({4, 5, 6}, "f64"):requires_grad_()
check.eq(v.requires_grad, true, "requires_grad_()")
check.eq(v:requires_grad_(false).requires_grad, false, "requires_grad_(false)")
v:requires_grad_()

-- d/dw sum(w * v) = v; d/dv = w
local loss = (w * v):sum()
loss:backward()
check.tensor(w.grad, {4, 5, 6})
check.tensor(v.grad, {1, 2, 3})
-- gradients accumulate until zero_grad
;(w * v):sum():backward()
check.tensor(w.grad, {8, 10, 12})
w:zero_grad()
check.eq(w.grad, nil, "zero_grad drops the gradient")

-- a chain through several ops: d/dx mean(exp(2x)) = 2 exp(2x) / n
local x = a.tensor({0, 0.5, 1}, "f64"):requires_grad_()
local y = (x * 2):exp():mean()
y:backward()
check.tensor(x.grad, {2 * math.exp(0) / 3, 2 * math.exp(1) / 3, 2 * math.exp(2) / 3}, 1e-12)

-- explicit seed gradient for a non-scalar root
local s = a.tensor({1, 2}, "f64"):requires_grad_()
local out = s * 3
out:backward(a.tensor({1, 10}, "f64"))
check.tensor(s.grad, {3, 30})

-- frozen parameters: an input without requires_grad gets no gradient
local frozen = a.tensor({{1, 2}, {3, 4}}, "f64")
local trained = a.tensor({{1, 0}, {0, 1}}, "f64"):requires_grad_()
a.matmul(frozen, trained):sum():backward()
check.eq(frozen.grad, nil, "frozen parameter has no grad")
check.tensor(trained.grad, {{4, 4}, {6, 6}})

-- no_grad: nothing is recorded, results come back, the mode is restored
local r1, r2 = a.no_grad(function(p, q)
  check.eq(a.grad_enabled(), false, "grad off inside no_grad")
  return p * 2, q
end, trained, "extra")
check.eq(r1.requires_grad, false, "no history under no_grad")
check.eq(r2, "extra", "no_grad passes arguments and returns results")
check.eq(a.grad_enabled(), true, "grad back on after no_grad")
check.raises(function() a.no_grad(function() error("inside no_grad") end) end, "inside no_grad")
check.eq(a.grad_enabled(), true, "grad back on after an error in no_grad")
check.raises(function() (trained * 2):detach():sum():backward() end, "backward")

-- tostring shows autograd state
check.truthy(tostring(trained):find("requires_grad", 1, true), "tostring shows requires_grad")
check.truthy(tostring(trained * 2):find("grad_fn=", 1, true), "tostring shows grad_fn")

-- a tiny linear regression: gradient steps reduce the loss
local X = a.randn({64, 3}, {seed = 1, dtype = "f64"})
local true_w = a.tensor({{2, -1, 0.5}}, "f64")
local target = a.linear(X, true_w) + 0.3
local W = a.zeros({1, 3}, "f64"):requires_grad_()
local B = a.zeros({1}, "f64"):requires_grad_()
local lr = 0.1
local losses = {}
for step = 1, 60 do
  local l = a.mse_loss(a.linear(X, W, B), target)
  losses[step] = l:item()
  l:backward()
  a.no_grad(function()
    W[1] = W[1] - W.grad[1] * lr
    B[1] = B[1] - B.grad[1] * lr
  end)
  W:zero_grad()
  B:zero_grad()
end
check.truthy(losses[2] < losses[1], "one step reduces the loss")
check.truthy(losses[60] < losses[1] * 1e-3, "training converges")
check.tensor(W, {{2, -1, 0.5}}, 1e-2, "learned weights")
check.near(B[1], 0.3, 1e-2, "learned bias")

-- f32 autograd too
local f = a.tensor({1, 2}):requires_grad_()
;(f * f):sum():backward()
check.tensor(f.grad, {2, 4}, 1e-6)
check.eq(f.grad:dtype(), "f32", "grad has the dtype of the input")
print("ok")

-- randn can make a leaf that requires grad; d(sum x²)/dx = 2x
local xr = a.randn({2, 3}, {seed = 1, requires_grad = true})
assert(xr.requires_grad, "randn{requires_grad=true} makes a trainable leaf")
;(xr * xr):sum():backward()
check.tensor(xr.grad, (xr:detach() * 2):totable(), 1e-6, "gradient of a randn leaf")
