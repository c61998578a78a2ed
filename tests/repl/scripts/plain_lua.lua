-- Run by a plain lua5.4 (not the aapmt program): the binding loads as a C
-- module from package.cpath and works the same way.
local aapmt = require "aapmt"
assert(type(aapmt) == "table", "require returned the module")
assert(aapmt.version and aapmt.version ~= "", "version")
local x = aapmt.tensor({{1, 2}, {3, 4}}, "f64"):requires_grad_()
local loss = (x * x):sum()
loss:backward()
assert(x.grad:get(2, 2) == 8, "gradient through the module")
assert(tostring(x * 1):find("[aapmt.Tensor f64 of size 2x2", 1, true), "printing")
local ok, err = pcall(function() return x + aapmt.ones(3, "f64") end)
assert(not ok and err:find("[2, 2]", 1, true), "errors: " .. tostring(err))
-- the collector accounting works inside lua5.4 as well
for i = 1, 60 do local t = aapmt.full({1024, 1024}, i) * 2 end
assert(aapmt.memory() < 256 * 2 ^ 20, "bounded memory")
print("ok")
