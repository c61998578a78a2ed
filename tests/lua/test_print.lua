-- tostring(t): Torch7-style layout, one number format per tensor, footers
-- with dtype and size, slices for >2-D, abbreviation of large tensors.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local a = aapmt

local function same(t, expected, what)
  local got = tostring(t)
  if got ~= expected then
    error(string.format("%s:\n--- expected\n%s\n--- got\n%s", what, expected, got), 2)
  end
end

same(a.tensor({{1, 2, 3}, {4, 5, 6}}), [==[
 1  2  3
 4  5  6
[aapmt.Tensor f32 of size 2x3]]==], "integers")

same(a.tensor({{1.5, -2.25}, {10, 0.125}}, "f64"), [==[
  1.5000  -2.2500
 10.0000   0.1250
[aapmt.Tensor f64 of size 2x2]]==], "fixed point")

same(a.tensor({1, -20, 3}, "i64"), [==[
  1
-20
  3
[aapmt.Tensor i64 of size 3]]==], "a vector is a column")

same(a.tensor({0.001, 0.002}, "f64"), [==[
0.001 *
 1.0000
 2.0000
[aapmt.Tensor f64 of size 2]]==], "common scale")

same(a.tensor({1e-10, 1}, "f64"), [==[
 1.0000e-10
 1.0000e+00
[aapmt.Tensor f64 of size 2]]==], "exponents for a wide range")

same(a.tensor({1, 0 / 0, 1 / 0, -1 / 0}, "f64"), [==[
   1
 nan
 inf
-inf
[aapmt.Tensor f64 of size 4]]==], "nan and inf")

same(a.tensor({{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}}), [==[
(1,.,.) =
 1  2
 3  4

(2,.,.) =
 5  6
 7  8
[aapmt.Tensor f32 of size 2x2x2]]==], "3-D as slices")

same(a.tensor(2.5), "2.5000\n[aapmt.Tensor f32 scalar]", "0-dim")
same(a.tensor(3, "i32"), "3\n[aapmt.Tensor i32 scalar]", "0-dim integer")
same(a.zeros(0, 3), "[aapmt.Tensor f32 of size 0x3]", "empty")
same(a.tensor({1, 2}, "f64"):requires_grad_(), [==[
 1
 2
[aapmt.Tensor f64 of size 2, requires_grad]]==], "requires_grad footer")
check.truthy(tostring(a.tensor({1}, "f64"):requires_grad_() * 2):find("grad_fn=scale]", 1, true),
             "grad_fn footer names the op")

-- wide matrices wrap in blocks of columns
local wide = tostring(a.ones(2, 30))
check.truthy(wide:find("Columns 1 to 26\n", 1, true), "first column block")
check.truthy(wide:find("\nColumns 27 to 30\n", 1, true), "second column block")
for line in wide:gmatch("[^\n]+") do check.truthy(#line <= 80, "lines fit 80 columns") end

-- large tensors show only their edges
local big = a.zeros(100, 100) + 1
big:set(7, 100, 100)
local s = tostring(big)
local lines = {}
for line in s:gmatch("[^\n]+") do lines[#lines + 1] = line end
check.eq(#lines, 8, "3 rows, '...', 3 rows and the footer")
check.eq(lines[1], " 1  1  1 ...  1  1  1", "first row")
check.eq(lines[4], "...", "row gap")
check.eq(lines[7], " 1  1  1 ...  1  1  7", "last row shows the last element")
check.eq(lines[8], "[aapmt.Tensor f32 of size 100x100]", "footer")
local huge = tostring(a.zeros(50, 40, 30))
check.truthy(huge:find("(1,.,.) =", 1, true) and huge:find("(50,.,.) =", 1, true), "first and last slices")
check.truthy(not huge:find("(4,.,.) =", 1, true), "middle slices skipped")
check.truthy(#huge < 2000, "the abbreviation is short")
local long = tostring(a.zeros(100000))
check.truthy(#long < 200, "a long vector is abbreviated")

-- print goes through __tostring, views print their own values
check.eq(tostring(a.tensor({{1, 2}, {3, 4}}):transpose(1, 2)), " 1  3\n 2  4\n[aapmt.Tensor f32 of size 2x2]", "a view")
print("ok")
