-- Arithmetic metamethods, pointwise functions, reductions and the module's
-- network functions, checked against values computed by hand.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local a = aapmt

local x = a.tensor({{1, 2, 3}, {4, 5, 6}}, "f64")
local y = a.tensor({{6, 5, 4}, {3, 2, 1}}, "f64")

-- + - * / and unary minus, tensor or number on either side
check.tensor(x + y, {{7, 7, 7}, {7, 7, 7}})
check.tensor(x - y, {{-5, -3, -1}, {1, 3, 5}})
check.tensor(x * y, {{6, 10, 12}, {12, 10, 6}}, 0, "a*b is elementwise")
check.tensor(x / y, {{1 / 6, 2 / 5, 3 / 4}, {4 / 3, 5 / 2, 6}})
check.tensor(x + 1, {{2, 3, 4}, {5, 6, 7}})
check.tensor(1 + x, {{2, 3, 4}, {5, 6, 7}})
check.tensor(x - 1, {{0, 1, 2}, {3, 4, 5}})
check.tensor(10 - x, {{9, 8, 7}, {6, 5, 4}})
check.tensor(x * 2, {{2, 4, 6}, {8, 10, 12}})
check.tensor(0.5 * x, {{0.5, 1, 1.5}, {2, 2.5, 3}})
check.tensor(x / 4, {{0.25, 0.5, 0.75}, {1, 1.25, 1.5}})
check.tensor(6 / x, {{6, 3, 2}, {1.5, 1.2, 1}})
check.tensor(-x, {{-1, -2, -3}, {-4, -5, -6}})
check.tensor(x:add(1):mul(2):sub(x):div(2), {{1.5, 2, 2.5}, {3, 3.5, 4}}, 1e-12, "method forms")
check.tensor(x:neg(), (-x):totable())
-- broadcasting
check.tensor(x + a.tensor({10, 20, 30}, "f64"), {{11, 22, 33}, {14, 25, 36}})
check.tensor(x * a.tensor({{2}, {3}}, "f64"), {{2, 4, 6}, {12, 15, 18}})

-- pointwise
local p = a.tensor({0, 1, 4}, "f64")
check.tensor(p:exp(), {1, math.exp(1), math.exp(4)}, 1e-12)
check.tensor((p + 1):log(), {0, math.log(2), math.log(5)}, 1e-12)
check.tensor(p:sqrt(), {0, 1, 2}, 1e-12)
check.tensor(a.tensor({-2, 0, 3}, "f64"):relu(), {0, 0, 3})
check.tensor(a.tensor({-1, 0, 1}, "f64"):gelu(), {-0.15865525393145707, 0, 0.8413447460685429}, 1e-9)

-- reductions
check.eq(x:sum():dim(), 0, "sum() is 0-dim")
check.eq(x:sum():item(), 21.0, "sum()")
check.eq(x:mean():item(), 3.5, "mean()")
check.tensor(x:sum(1), {5, 7, 9})
check.tensor(x:sum(2), {6, 15})
check.tensor(x:sum(-1, true), {{6}, {15}})
check.tensor(x:mean(1), {2.5, 3.5, 4.5})
check.shape(x:mean(2, true), {2, 1})

-- softmax over the last dim or any dim
local e1, e2, e3 = math.exp(1), math.exp(2), math.exp(3)
local z = e1 + e2 + e3
local sm = {e1 / z, e2 / z, e3 / z}
check.tensor(a.tensor({1, 2, 3}, "f64"):softmax(), sm, 1e-12)
check.tensor(a.softmax(a.tensor({{1, 2, 3}}, "f64")), {sm}, 1e-12)
check.tensor(a.softmax(a.tensor({{1}, {2}, {3}}, "f64"), 1), {{sm[1]}, {sm[2]}, {sm[3]}}, 1e-12)
check.tensor(a.tensor({{1}, {2}, {3}}, "f64"):softmax(-2), {{sm[1]}, {sm[2]}, {sm[3]}}, 1e-12)

-- matmul
local w = a.tensor({{1, 0}, {0, 1}, {1, 1}}, "f64")
check.tensor(x:matmul(w), {{4, 5}, {10, 11}})
check.tensor(a.matmul(x, w), {{4, 5}, {10, 11}})
check.tensor(a.matmul(x, a.tensor({1, 1, 1}, "f64")), {6, 15}, 0, "matrix @ vector")

-- linear: x·wᵀ + b
local lw = a.tensor({{1, 0, 0}, {1, 1, 1}}, "f64")
check.tensor(a.linear(x, lw), {{1, 6}, {4, 15}})
check.tensor(a.linear(x, lw, a.tensor({0.5, -1}, "f64")), {{1.5, 5}, {4.5, 14}})

-- layernorm over the last dim
local ln = 1 / math.sqrt(2 / 3 + 1e-5)
check.tensor(a.layernorm(a.tensor({{1, 2, 3}}, "f64")), {{-ln, 0, ln}}, 1e-9)
check.tensor(a.layernorm(a.tensor({{1, 2, 3}}, "f64"), a.tensor({2, 2, 2}, "f64"), a.tensor({1, 1, 1}, "f64")),
             {{1 - 2 * ln, 1, 1 + 2 * ln}}, 1e-9)
check.tensor(a.layernorm(a.tensor({{1, 3}}, "f64"), nil, nil, 0), {{-1, 1}}, 1e-12, "eps argument")

-- attention: softmax(q·kᵀ·scale + mask)·v, scale 1/sqrt(D) by default
local q = a.tensor({{{{1, 0}}}}, "f64")
local k = a.tensor({{{{1, 0}, {0, 1}}}}, "f64")
local v = a.tensor({{{{1, 2}, {3, 4}}}}, "f64")
local s1 = math.exp(1 / math.sqrt(2))
local p1 = s1 / (s1 + 1)
check.tensor(a.attention(q, k, v), {{{{p1 * 1 + (1 - p1) * 3, p1 * 2 + (1 - p1) * 4}}}}, 1e-12)
local s2 = math.exp(1)
local p2 = s2 / (s2 + 1)
check.tensor(a.attention(q, k, v, nil, 1.0), {{{{p2 + (1 - p2) * 3, 2 * p2 + (1 - p2) * 4}}}}, 1e-12)
local mask = a.tensor({{{{0, -1e9}}}}, "f64")
check.tensor(a.attention(q, k, v, mask), {{{{1, 2}}}}, 1e-12, "additive mask")

-- embedding: token ids are 0-based values, as tensors or tables
local emb = a.tensor({{1, 2}, {3, 4}, {5, 6}}, "f64")
check.tensor(a.embedding(emb, {2, 0}), {{5, 6}, {1, 2}})
check.tensor(a.embedding(emb, a.tensor({{1, 1}}, "i32")), {{{3, 4}, {3, 4}}})
check.tensor(a.embedding(emb, a.tensor({0}, "i64")), {{1, 2}})

-- concat
check.tensor(a.concat({x, y}, 1), {{1, 2, 3}, {4, 5, 6}, {6, 5, 4}, {3, 2, 1}})
check.tensor(a.concat({x, y}, 2), {{1, 2, 3, 6, 5, 4}, {4, 5, 6, 3, 2, 1}})
check.tensor(a.concat({x, y}, -1), {{1, 2, 3, 6, 5, 4}, {4, 5, 6, 3, 2, 1}})
check.tensor(a.concat({x}), x:totable(), 0, "dim defaults to 1")

-- dropout: zeros or 1/(1-p), repeatable by seed, identity when not training
local ones = a.ones(1000, "f64")
local d1 = a.dropout(ones, 0.5, true, 11)
local d2 = a.dropout(ones, 0.5, true, 11)
check.tensor(d1, d2:totable(), 0, "same seed, same mask")
local zeros = 0
for i = 1, 1000 do
  local val = d1[i]
  check.truthy(val == 0 or val == 2, "dropout values are 0 or 1/(1-p)")
  if val == 0 then zeros = zeros + 1 end
end
check.truthy(zeros > 400 and zeros < 600, "about half dropped")
check.tensor(a.dropout(x, 0.5, false), x:totable(), 0, "not training")
check.tensor(a.dropout(x, 0), x:totable(), 0, "p = 0")

-- losses
local pred, target = a.tensor({1, 2, 3}, "f64"), a.tensor({1, 1, 1}, "f64")
check.near(a.mse_loss(pred, target):item(), 5 / 3, 1e-12, "mse_loss")
check.near(a.sse_loss(pred, target):item(), 5, 1e-12, "sse_loss")

-- f32 works the same way
check.tensor(a.tensor({1, 2}) * a.tensor({3, 4}) + 1, {4, 9})
check.eq((a.tensor({1, 2}) * 2):dtype(), "f32", "f32 stays f32")
-- abs, pow, sigmoid, tanh, clamp
local s = a.tensor({-2, -0.5, 0, 1.5}, "f64")
check.tensor(s:abs(), {2, 0.5, 0, 1.5})
check.tensor(a.tensor({1, 2, 4}, "f64"):pow(2), {1, 4, 16})
check.tensor(a.tensor({4, 9}, "f64"):pow(0.5), {2, 3}, 1e-12)
check.tensor(s:sigmoid(), {1 / (1 + math.exp(2)), 1 / (1 + math.exp(0.5)), 0.5, 1 / (1 + math.exp(-1.5))}, 1e-12)
local function tanh(v) return (math.exp(v) - math.exp(-v)) / (math.exp(v) + math.exp(-v)) end
check.tensor(s:tanh(), {tanh(-2), tanh(-0.5), 0, tanh(1.5)}, 1e-12)
check.tensor(s:clamp(-1, 1), {-1, -0.5, 0, 1})
check.tensor(s:clamp(0), {0, 0, 0, 1.5}, 0, "clamp with only a min")
check.tensor(s:clamp(nil, 0), {-2, -0.5, 0, 0}, 0, "clamp with only a max")
-- their gradients reach the leaves
local g = a.tensor({-2, 3}, "f64"):requires_grad_(true)
;(g:abs() + g:pow(3) + g:clamp(-1, 1)):sum():backward()
check.tensor(g.grad, {-1 + 12 + 0, 1 + 27 + 0}, 1e-12)

-- comparisons give u8 masks, against a tensor (broadcast) or a number
check.eq(x:gt(3):dtype(), "u8", "a comparison is a u8 mask")
check.tensor(x:gt(3), {{0, 0, 0}, {1, 1, 1}})
check.tensor(x:ge(3), {{0, 0, 1}, {1, 1, 1}})
check.tensor(x:lt(2), {{1, 0, 0}, {0, 0, 0}})
check.tensor(x:le(2), {{1, 1, 0}, {0, 0, 0}})
check.tensor(x:eq(y), {{0, 0, 0}, {0, 0, 0}})
check.tensor(x:ne(a.tensor({1, 0, 3}, "f64")), {{0, 1, 0}, {1, 1, 1}})

-- max, min, argmax, argmin (1-based indices; the first of equal extremes)
local m = a.tensor({{3, 7, 7}, {9, 1, 2}}, "f64")
check.eq(m:max():item(), 9.0, "max of all")
check.eq(m:min():item(), 1.0, "min of all")
check.eq(m:argmax(), 4, "argmax of all is the row-major position")
check.eq(m:argmin(), 5, "argmin of all")
local v, i = m:max(2)
check.tensor(v, {7, 9})
check.tensor(i, {2, 1}, 0, "the first of two equal maxima")
check.eq(i:dtype(), "i64", "indices are i64")
v, i = m:min(1, true)
check.shape(v, {1, 3})
check.tensor(i, {{1, 2, 2}})
check.tensor(m:argmax(1), {2, 1, 1})
local w = a.tensor({{1, 5}, {4, 2}}, "f64"):requires_grad_(true)
w:max(1):sum():backward()
check.tensor(w.grad, {{0, 1}, {1, 0}}, 0, "max's gradient goes to the winners")

-- where and masked_fill: numbers or tensors, broadcast, differentiable
local q = a.tensor({{1, -2}, {3, -4}}, "f64")
check.tensor(a.where(q:gt(0), q, 0), {{1, 0}, {3, 0}})
check.tensor(a.where(q:gt(0), 1, q), {{1, -2}, {1, -4}})
check.tensor(a.where(a.tensor({{1}, {0}}, "u8"), q, a.tensor({10, 20}, "f64")), {{1, -2}, {10, 20}})
check.tensor(q:masked_fill(q:lt(0), -9), {{1, -9}, {3, -9}})
local wq = a.tensor({1, -2}, "f64"):requires_grad_(true)
a.where(wq:gt(0), wq, wq * 3):sum():backward()
check.tensor(wq.grad, {1, 3}, 0, "where's gradient follows the mask")

print("ok")
