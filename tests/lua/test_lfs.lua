-- The program's Lua environment: require "lfs", package.path with the
-- aapmt Lua directory, arg, and the global aapmt module.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"

local lfs = require "lfs"
check.eq(type(lfs.currentdir), "function", "lfs loaded")
check.eq(lfs.attributes(arg[0], "mode"), "file", "lfs.attributes of this script")
local seen = false
for entry in lfs.dir((arg[0]:match("^(.*)/") or ".")) do
  if entry == "lib" then seen = true end
end
check.truthy(seen, "lfs.dir lists the test directory")

check.truthy(package.path:find("/lua/?.lua", 1, true), "package.path has the aapmt Lua directory")
check.eq(require("aapmt"), aapmt, "require 'aapmt' gives the global module")
check.eq(package.loaded.aapmt, aapmt, "aapmt is in package.loaded")
check.eq(type(arg), "table", "arg is set")
check.truthy(arg[0]:find("test_lfs.lua", 1, true), "arg[0] is the script")
-- aapmt.Tensor is the methods table: Lua code can extend tensors
function aapmt.Tensor.double_it(self) return self * 2 end
check.eq(aapmt.ones(1):double_it():item(), 2.0, "methods added from Lua")
aapmt.Tensor.double_it = nil
print("ok")
