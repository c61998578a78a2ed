-- Shape changes and views: 1-based, negative dims, shared storage.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local a = aapmt

local x = a.tensor({{1, 2, 3}, {4, 5, 6}}, "f64")

local t = x:transpose(1, 2)
check.shape(t, {3, 2})
check.tensor(t, {{1, 4}, {2, 5}, {3, 6}})
check.truthy(not t:is_contiguous(), "a transpose is not contiguous")
check.tensor(x:transpose(-1, -2), t:totable(), 0, "negative dims")
check.truthy(t:contiguous():is_contiguous(), "contiguous()")
check.tensor(t:contiguous(), {{1, 4}, {2, 5}, {3, 6}})

local cube = a.tensor({{{1, 2}, {3, 4}, {5, 6}}, {{7, 8}, {9, 10}, {11, 12}}})
check.shape(cube:permute(3, 1, 2), {2, 2, 3})
check.tensor(cube:permute({3, 1, 2}), {{{1, 3, 5}, {7, 9, 11}}, {{2, 4, 6}, {8, 10, 12}}})

check.tensor(x:reshape(3, 2), {{1, 2}, {3, 4}, {5, 6}})
check.tensor(x:reshape({-1}), {1, 2, 3, 4, 5, 6})
check.tensor(t:reshape(6), {1, 4, 2, 5, 3, 6}, 0, "reshape copies a non-contiguous tensor")
check.tensor(x:view(3, -1), {{1, 2}, {3, 4}, {5, 6}})
check.raises(function() return t:view(6) end, "Tensor:view", "not contiguous")

check.tensor(x:narrow(2, 2, 2), {{2, 3}, {5, 6}})
check.tensor(x:narrow(1, 2, 1), {{4, 5, 6}})
check.tensor(x:narrow(-1, 1, 1), {{1}, {4}})
check.tensor(x:select(1, 2), {4, 5, 6})
check.tensor(x:select(2, -1), {3, 6})
check.tensor(x[2], {4, 5, 6})
check.eq(x[1][2], 2.0, "x[1][2]")

local row = a.tensor({{1, 2, 3}})
check.tensor(row:expand(2, 3), {{1, 2, 3}, {1, 2, 3}})
check.tensor(row:expand({2, -1}), {{1, 2, 3}, {1, 2, 3}}, 0, "-1 keeps a size in expand")
check.tensor(a.tensor({{1}, {2}}):expand(2, 2), {{1, 1}, {2, 2}})

local f = x:to("f32")
check.eq(f:dtype(), "f32", "to")
check.tensor(f, x:totable())
check.eq(x:to("i64"):dtype(), "i64", "to an integer dtype")

-- views share storage: writing through one shows in the other
local base = a.zeros(2, 3, "f64")
local col = base:select(2, 2)
col[1] = 7
check.eq(base:get(1, 2), 7.0, "select is a view")
base:narrow(1, 2, 1)[1] = 9
check.tensor(base, {{0, 7, 0}, {9, 9, 9}})
local tr = base:transpose(1, 2)
tr:set(5, 3, 1)
check.eq(base:get(1, 3), 5.0, "transpose is a view")

-- clone copies; detach shares data but drops history
local cl = base:clone()
cl:set(-1, 1, 1)
check.eq(base:get(1, 1), 0.0, "clone copies")
local det = base:detach()
det:set(3, 1, 1)
check.eq(base:get(1, 1), 3.0, "detach shares storage")

-- a view keeps its data alive after the base is freed
local keep = a.tensor({{1, 2}, {3, 4}}):select(1, 2)
collectgarbage()
check.tensor(keep, {3, 4})
-- Torch7's table indexing: an element, or a view with inclusive ranges
local t = aapmt.tensor({{1, 2, 3, 4, 5}, {6, 7, 8, 9, 10}}, "f64")
check.eq(t[{2, 3}], 8.0, "t[{i, j}] is the element")
check.eq(t[{-1, -1}], 10.0, "negative indices count from the end")
check.tensor(t[{1, {2, 4}}], {2, 3, 4})
check.tensor(t[{{1, 2}, {5}}], {{5}, {10}}, 0, "{a} keeps the dim")
check.tensor(t[{{}, 2}], {2, 7}, 0, "{} is the whole dim")
check.tensor(t[{2}], {6, 7, 8, 9, 10}, 0, "dims past the table are whole")
local view = t[{1, {2, 3}}]
view[1] = 20
check.eq(t[{1, 2}], 20.0, "a range is a view sharing storage")
t[{2, {1, 2}}] = 0
check.tensor(t[2], {0, 0, 8, 9, 10}, 0, "assignment through a range")
t[{1, 1}] = -1
check.eq(t:get(1, 1), -1.0, "assignment to an element")

print("ok")
