-- lua/aapmt/nn.lua: a Lua Sequential head against torch.nn.Sequential
-- (tests/fixtures/nn_head/, made by make_nn_head_fixtures.py: outputs, the
-- input's and every parameter's gradient, state_dict names), its gradients
-- against central finite differences in float64 (dropout on, with a fixed
-- seed), initialisation, load_state_dict's errors, clone and the keep hook.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local nn = require "aapmt.nn"
local a = aapmt

local here = arg[0]:match("^(.*)/") or "."
local fixture_dir = here .. "/../fixtures/nn_head"

local function max_diff(t, u)
  local x, y = t:reshape(t:numel()):totable(), u:to(t:dtype()):reshape(u:numel()):totable()
  check.eq(#x, #y, "element count")
  local worst = 0
  for i = 1, #x do worst = math.max(worst, math.abs(x[i] - y[i])) end
  return worst
end

-- ---- parity with torch.nn.Sequential (float32, eval mode) ----
do
  local ref = a.load(fixture_dir .. "/expected.safetensors")
  local head = nn.Sequential{nn.Linear(6, 5), nn.LayerNorm(5), nn.GELU(), nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2)}
  local _, names = head:parameters()
  local expected_names = {}
  for line in io.lines(fixture_dir .. "/state_dict_names.txt") do expected_names[#expected_names + 1] = line end
  check.eq(table.concat(names, " "), table.concat(expected_names, " "), "state_dict names and order as torch's")
  local sd = {}
  for _, name in ipairs(expected_names) do sd[name] = ref[name] end
  head:load_state_dict(sd)

  local x = ref.x:clone()
  x.requires_grad = true
  local out = head:forward(x)
  check.shape(out, {3, 2}, "output")
  -- float32 against float32: a few ulps of values of size about 1.
  local TOL = 2e-6
  local d_out = max_diff(out, ref.out)
  check.truthy(d_out <= TOL, string.format("outputs within %g of torch's (max difference %.3g)", TOL, d_out))
  ;(out * ref.w):sum():backward()
  local d_x = max_diff(x.grad, ref["grad.x"])
  check.truthy(d_x <= TOL, string.format("input gradient within %g (max difference %.3g)", TOL, d_x))
  local worst = 0
  for _, p in ipairs(head:named_parameters()) do
    worst = math.max(worst, max_diff(p.tensor.grad, ref["grad." .. p.name]))
  end
  check.truthy(worst <= TOL, string.format("every parameter gradient within %g (max difference %.3g)", TOL, worst))
  print(string.format("torch parity: outputs and gradients agree to %.2g", math.max(d_out, d_x, worst)))
end

-- ---- gradients against central finite differences (float64) ----
do
  local head = nn.Sequential{nn.Linear(5, 4), nn.LayerNorm(4), nn.GELU(), nn.Dropout(0.3), nn.Linear(4, 3), nn.ReLU(),
    nn.Linear(3, 2), seed = 3, dtype = "f64"}
  -- LayerNorm's affine away from ones and zeros, so its gradient means something.
  head.children[2]:load_state_dict{weight = a.rand({4}, {seed = 5, dtype = "f64"}) + 0.5,
    bias = a.rand({4}, {seed = 6, dtype = "f64"}) - 0.5}
  local x = a.randn({3, 5}, {seed = 7, dtype = "f64"})
  x.requires_grad = true
  local w = a.randn({3, 2}, {seed = 8, dtype = "f64"})
  local opts = {training = true, seed = 11}   -- the same dropout mask every call
  local function loss() return (head:forward(x, opts) * w):sum() end

  loss():backward()
  local tensors = {x}
  local names = {"input"}
  for _, p in ipairs(head:named_parameters()) do
    tensors[#tensors + 1], names[#names + 1] = p.tensor, p.name
  end
  check.eq(#tensors, 1 + 8, "input and 8 parameter tensors")
  local EPS, TOL, worst, checked = 1e-6, 1e-7, 0, 0
  a.no_grad(function()
    for k, t in ipairs(tensors) do
      local analytic = t.grad:reshape(t:numel()):totable()
      local flat = t:reshape(t:numel())   -- a view: set() changes t
      for i = 1, t:numel() do
        local v = flat:get(i)
        flat:set(v + EPS, i)
        local up = loss():item()
        flat:set(v - EPS, i)
        local down = loss():item()
        flat:set(v, i)
        local numeric = (up - down) / (2 * EPS)
        local err = math.abs(numeric - analytic[i]) / math.max(1, math.abs(numeric))
        if err > TOL then
          error(string.format("gradient of %s[%d]: backprop %.10g, finite differences %.10g", names[k], i,
            analytic[i], numeric))
        end
        worst, checked = math.max(worst, err), checked + 1
      end
    end
  end)
  print(string.format("gradient check: %d values, worst relative error %.2g", checked, worst))
end

-- ---- initialisation, seeds, dtype ----
do
  local l = nn.Linear(16, 8, {seed = 1})
  local bound = 1 / math.sqrt(16)
  for _, name in ipairs({"weight", "bias"}) do
    for _, v in ipairs(l[name]:reshape(l[name]:numel()):totable()) do
      check.truthy(math.abs(v) <= bound, "Linear init within 1/sqrt(in)")
    end
  end
  check.eq(max_diff(l.weight, nn.Linear(16, 8, {seed = 1}).weight), 0, "same seed, same weights")
  check.truthy(max_diff(l.weight, nn.Linear(16, 8, {seed = 2}).weight) > 0, "another seed, other weights")
  check.truthy(l.weight.requires_grad and l.bias.requires_grad, "parameters require grad")
  check.eq(nn.Linear(3, 2, {bias = false}).bias, nil, "bias = false")
  check.eq(#nn.Linear(3, 2, {bias = false}):parameters(), 1, "no bias parameter")

  local s = nn.Sequential{nn.Linear(8, 8), nn.Linear(8, 8)}
  check.truthy(max_diff(s.children[1].weight, s.children[2].weight) > 0, "a Sequential's equal layers start apart")
  local s2 = nn.Sequential{nn.Linear(8, 8), nn.Linear(8, 8)}
  check.eq(max_diff(s.children[2].weight, s2.children[2].weight), 0, "a Sequential's default seed is fixed")
  local ln = nn.LayerNorm(4)
  check.tensor(ln.weight, {1, 1, 1, 1}, 0, "LayerNorm weight ones")
  check.tensor(ln.bias, {0, 0, 0, 0}, 0, "LayerNorm bias zeros")
  check.eq(nn.Sequential{nn.Linear(2, 2), dtype = "f64"}.children[1].weight:dtype(), "f64", "dtype")
  check.eq(tostring(nn.Sequential{nn.Linear(4, 2), nn.Dropout(0.1), nn.GELU()}),
    "Sequential(Linear(4 -> 2), Dropout(0.1), GELU)", "describe")
end

-- ---- dropout, clone, the keep hook ----
do
  local head = nn.Sequential{nn.Linear(6, 6), nn.Dropout(0.5), nn.Linear(6, 1), seed = 4}
  local x = a.randn({5, 6}, {seed = 1})
  local eval1, eval2 = head:forward(x), head:forward(x, {training = false, seed = 9})
  check.eq(max_diff(eval1, eval2), 0, "eval mode ignores dropout and its seed")
  local t1, t2 = head:forward(x, {training = true, seed = 9}), head:forward(x, {training = true, seed = 9})
  check.eq(max_diff(t1, t2), 0, "training: the seed fixes the dropout mask")
  check.truthy(max_diff(t1, head:forward(x, {training = true, seed = 10})) > 0, "another seed, another mask")
  check.truthy(max_diff(t1, eval1) > 0, "training mode drops")

  local c = head:clone()
  check.eq(max_diff(c:forward(x), eval1), 0, "a clone computes the same")
  a.no_grad(function() c.children[1].weight[1] = 0 end)
  check.eq(max_diff(head:forward(x), eval1), 0, "changing a clone leaves the original")
  check.truthy(c.children[1].weight.requires_grad, "a clone's parameters require grad")

  local kept = {}
  head:forward(x, {training = true, seed = 1, keep = function(t) kept[#kept + 1] = t end})
  check.eq(#kept, 3, "keep sees every tensor made (two linears, one dropout)")
  for _, t in ipairs(kept) do t:free() end
end

-- ---- errors ----
do
  local head = nn.Sequential{nn.Linear(3, 2), nn.LayerNorm(2), nn.Linear(2, 1)}
  local before = head.children[1].weight:totable()
  local err = check.raises(function()
    head:load_state_dict{["0.weight"] = a.zeros(3, 2), ["0.bias"] = a.zeros(2), ["1.weight"] = a.ones(2),
      ["2.weight"] = a.zeros(1, 2), ["2.bias"] = a.zeros(1), ["3.weight"] = a.zeros(1), extra = a.zeros(1)}
  end, "nn.Sequential: load_state_dict:", "key '0.weight': shape [3, 2] in the state dict, [2, 3] in the module",
    "missing key '1.bias' (shape [2])", "unexpected key '3.weight'", "unexpected key 'extra'")
  check.eq(head.children[1].weight:get(1, 1), before[1][1], "a failed load copies nothing")
  check.raises(function() head:load_state_dict{["0.weight"] = "x"} end, "key '0.weight' holds a string, not a tensor")
  check.raises(function() head:load_state_dict(nil) end, "load_state_dict: expects a table")
  -- strict = false ignores extra keys, never missing ones; prefix reads a larger dict.
  local full = {}
  for name, t in pairs(head:state_dict()) do full["mlp." .. name] = t:detach():clone() * 2 end
  full["mlp.9.bias"], full["other.weight"] = a.zeros(1), a.zeros(1)
  check.raises(function() head:load_state_dict(full, {prefix = "mlp."}) end, "unexpected key 'mlp.9.bias'")
  head:load_state_dict(full, {prefix = "mlp.", strict = false})
  check.near(head.children[1].weight:get(1, 1), 2 * before[1][1], 1e-6, "loaded through the prefix")
  check.raises(function() head:load_state_dict({}, {strict = false}) end, "missing key '0.weight'")

  check.raises(function() nn.Linear(0, 3) end, "nn.Linear: in_features must be a positive integer, got 0")
  check.raises(function() nn.Linear(3, 2.5) end, "nn.Linear: out_features must be a positive integer")
  check.raises(function() nn.Dropout(1) end, "nn.Dropout: p must be in [0, 1), got 1")
  check.raises(function() nn.Sequential{nn.Linear(2, 2), "relu"} end, "nn.Sequential: element 2 is a string")
  check.raises(function() nn.Sequential{nn.Linear(2, 2), seeed = 1} end, "unknown option 'seeed'")
  check.raises(function() nn.Sequential{} end, "needs at least one layer")
  check.raises(function() head:forward(a.zeros(2, 4)) end, "linear")
end
print("ok")
