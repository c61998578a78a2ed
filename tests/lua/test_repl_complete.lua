-- Tab completion's answers (lua/aapmt/repl_complete.lua): plain name chains,
-- raw access and __index tables only, nothing called, file names in strings.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local complete = require "aapmt.repl_complete"

local function same(actual, expected, what)
  check.eq(actual and table.concat(actual, " "), expected and table.concat(expected, " "), what)
end

local touched = false
local trap = setmetatable({}, {__index = function() touched = true; return {deep = 1} end})
local Class = {speak = function() end, volume = 3}
Class.__index = Class
local env = setmetatable({
  x = aapmt.ones(2),
  obj = setmetatable({own = 1}, Class),
  trap = trap,
  call_me = function() touched = true; return {} end,
}, {__index = _G})

same(complete.candidates("aapmt.ra", env), {"aapmt.rand", "aapmt.randn"}, "fields of a module")
same(complete.candidates("y = aapmt.metrics.sr", env), {"aapmt.metrics.srcc"}, "a chain after an assignment")
same(complete.candidates("print(x:nu", env), {"x:numel"}, "tensor methods from aapmt.Tensor")
local methods = 0
for _, v in pairs(aapmt.Tensor) do if type(v) == "function" then methods = methods + 1 end end
check.eq(#complete.candidates("x:", env), methods, "x: offers every tensor method")
same(complete.candidates("obj.", env), {"obj.own", "obj.speak", "obj.volume"}, "fields and __index table fields")
same(complete.candidates("obj:", env), {"obj:speak"}, "a colon offers functions only")
same(complete.candidates("trap.anything.", env), {}, "an __index function is never run")
same(complete.candidates("call_me().", env), {}, "nothing is called")
check.eq(touched, false, "no code ran while completing")
same(complete.candidates("coll", env), {"collectgarbage"}, "globals through the environment")
same(complete.candidates("1.5", env), {}, "a number is no name")
check.eq(complete.candidates('f = io.open("READ', env), nil, "inside a string: file names")
check.eq(complete.candidates("s = [[long READ", env), nil, "inside a long string")
same(complete.candidates('s = "done" .. aapmt.zer', env), {"aapmt.zero_grad", "aapmt.zeros"}, "after a closed string")
same(complete.candidates("-- aapmt.ra", env), {}, "nothing in a comment")
print("ok")
