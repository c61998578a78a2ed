-- Making tensors from Lua and reading them back.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local a = aapmt

-- from nested tables; f32 by default
local x = a.tensor({{1, 2, 3}, {4, 5, 6}})
check.eq(x:dtype(), "f32", "default dtype")
check.shape(x, {2, 3})
check.eq(x:dim(), 2, "dim")
check.eq(x:numel(), 6, "numel")
check.eq(#x, 2, "#x is the size of dim 1")
check.eq(x:size(1), 2, "size(1)")
check.eq(x:size(-1), 3, "size(-1)")
check.tensor(x, {{1, 2, 3}, {4, 5, 6}})
check.truthy(a.is_tensor(x) and not a.is_tensor({}), "is_tensor")
check.truthy(x:is_contiguous(), "a new tensor is contiguous")

-- every dtype round-trips small integers
for _, d in ipairs({"f32", "f64", "f16", "bf16", "i32", "i64", "u8"}) do
  local t = a.tensor({1, 2, 3}, d)
  check.eq(t:dtype(), d, "dtype " .. d)
  check.tensor(t, {1, 2, 3}, 0, d)
end
check.eq(math.type(a.tensor({7}, "i64")[1]), "integer", "integer dtypes read as Lua integers")
check.eq(math.type(a.tensor({7}, "f64")[1]), "float", "float dtypes read as Lua floats")
check.near(a.tensor({0.1}, "f64")[1], 0.1, 0, "f64 keeps the value exactly")

-- scalars, copies, empty tables
local s = a.tensor(2.5, "f64")
check.eq(s:dim(), 0, "a number makes a 0-dim tensor")
check.eq(s:item(), 2.5, "item")
local c = a.tensor(x, "f64")
check.eq(c:dtype(), "f64", "copy with conversion")
check.tensor(c, {{1, 2, 3}, {4, 5, 6}})
c:set(100, 1, 1)
check.eq(x:get(1, 1), 1.0, "aapmt.tensor(t) copies")
check.shape(a.tensor({}), {0})
check.eq(a.tensor({}):numel(), 0, "empty")

-- zeros / ones / full / empty with sizes or a shape table, and dtypes
check.tensor(a.zeros(2, 3), {{0, 0, 0}, {0, 0, 0}})
check.tensor(a.zeros({2}, "i64"), {0, 0})
check.eq(a.zeros({2}, "i64"):dtype(), "i64", "zeros dtype")
check.tensor(a.ones({3}), {1, 1, 1})
check.eq(a.ones(2, 2, "f64"):dtype(), "f64", "ones dtype after sizes")
check.tensor(a.full({2, 2}, 7.5), {{7.5, 7.5}, {7.5, 7.5}})
check.tensor(a.full(3, -1, "i32"), {-1, -1, -1})
check.eq(a.full(3, -1, "i32"):dtype(), "i32", "full dtype")
check.eq(a.full({}, 4):dim(), 0, "full of an empty shape is 0-dim")
check.shape(a.empty(4, 0), {4, 0})
check.shape(a.zeros({}), {})

-- rand / randn: seeded draws repeat; unseeded draws advance the default stream
local r1 = a.randn({3, 4}, {seed = 42, dtype = "f64"})
local r2 = a.randn({3, 4}, {seed = 42, dtype = "f64"})
check.eq(r1:dtype(), "f64", "randn dtype option")
check.tensor(r1, r2:totable(), 0, "same seed, same draw")
local r3 = a.randn({3, 4}, {seed = 43, dtype = "f64"})
check.truthy(r1:get(1, 1) ~= r3:get(1, 1), "another seed, another draw")
local u = a.rand({1000}, {seed = 1})
local lo, hi = math.huge, -math.huge
for i = 1, 1000 do lo = math.min(lo, u[i]); hi = math.max(hi, u[i]) end
check.truthy(lo >= 0 and hi < 1, "rand is in [0, 1)")
check.near(u:mean():item(), 0.5, 0.1, "rand mean")
local n = a.randn(10000, {seed = 5})
check.near(n:mean():item(), 0, 0.05, "randn mean")
a.manual_seed(9)
local d1 = a.randn(4)
a.manual_seed(9)
local d2 = a.randn(4)
check.tensor(d1, d2:totable(), 0, "manual_seed restarts the default generator")
check.truthy(a.randn(4):get(1) ~= d2:get(1), "the default generator advances")
check.eq(a.rand(2, 2, "f64"):dtype(), "f64", "dtype string after sizes")

-- element access: get/set/item/totable and t[i]
local m = a.zeros(2, 3, "f64")
check.eq(m:set(5, 2, 3), m, "set returns the tensor")
check.eq(m:get(2, 3), 5.0, "get after set")
check.eq(m:get(-1, -1), 5.0, "negative indices count from the end")
check.eq(m[2][3], 5.0, "t[i][j]")
m[1] = 4                          -- fill a row
m[2] = a.tensor({7, 8, 9})        -- copy into a row
check.tensor(m, {{4, 4, 4}, {7, 8, 9}})
local v = a.tensor({1, 2, 3})
v[2] = 20
check.tensor(v, {1, 20, 3})
check.eq(a.ones(1, 1):item(), 1.0, "item of a one-element tensor")

-- version, threads, memory
check.truthy(type(a.version) == "string" and a.version ~= "", "aapmt.version")
check.eq(type(a.have_cuda), "boolean", "aapmt.have_cuda")
local threads = a.get_num_threads()
a.set_num_threads(1)
check.eq(a.get_num_threads(), 1, "set_num_threads")
a.set_num_threads(threads)
check.eq(math.type(a.memory()), "integer", "aapmt.memory()")
-- every constructor takes the same options
check.eq(aapmt.ones(2, {requires_grad = true}).requires_grad, true, "ones with requires_grad")
check.eq(aapmt.zeros(2, 3, {dtype = "f64"}):dtype(), "f64", "zeros with dtype")
check.eq(aapmt.full({2}, 7, {dtype = "i32"}):dtype(), "i32", "full with an options table")
check.eq(aapmt.tensor({1, 2}, {requires_grad = true}).requires_grad, true, "tensor with requires_grad")
check.eq(aapmt.randn(3, {seed = 1, requires_grad = true}).requires_grad, true, "randn keeps seed")
check.eq(aapmt.eye(2, {dtype = "u8"}):dtype(), "u8", "eye with options")
check.eq(aapmt.ones(2, {device = "cpu"}):device(), "cpu", "device cpu")
-- arange, linspace, eye
check.tensor(aapmt.arange(4), {0, 1, 2, 3})
check.tensor(aapmt.arange(2, 5), {2, 3, 4})
check.tensor(aapmt.arange(1, 2, 0.25, "f64"), {1, 1.25, 1.5, 1.75})
check.tensor(aapmt.arange(3, 0, -1, "i64"), {3, 2, 1})
check.eq(aapmt.arange(2, 2):numel(), 0, "an empty range")
check.tensor(aapmt.linspace(0, 1, 5, "f64"), {0, 0.25, 0.5, 0.75, 1})
check.tensor(aapmt.linspace(3, 9, 1), {3})
check.tensor(aapmt.eye(2), {{1, 0}, {0, 1}})
check.tensor(aapmt.eye(2, 3), {{1, 0, 0}, {0, 1, 0}})
-- a flat table with a shape; tolist is totable
check.tensor(aapmt.tensor({1, 2, 3, 4, 5, 6}, {shape = {3, 2}}), {{1, 2}, {3, 4}, {5, 6}})
check.eq(aapmt.tensor({{1, 2}, {3, 4}}):tolist()[2][1], 3.0, "tolist")
-- integer dtypes hold exactly what they are given; t:to saturates
check.tensor(aapmt.tensor({255, 0, -2147483648}, "i64"), {255, 0, -2147483648})
check.tensor(aapmt.tensor({300, -5, 1e10}, "f64"):to("u8"), {255, 0, 255})
check.tensor(aapmt.tensor({1e10, -1e10, 0 / 0}, "f64"):to("i32"), {2147483647, -2147483648, 0})
check.tensor(aapmt.tensor({1e30, -1e30}, "f64"):to("i64"), {math.maxinteger, math.mininteger})

print("ok")

-- aapmt.clock is monotonic wall-clock time
local t0 = a.clock()
local t1 = a.clock()
assert(type(t0) == "number" and t1 >= t0, "aapmt.clock is monotonic")
