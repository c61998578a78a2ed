-- Ctrl-C in long work. The aapmt program turns Ctrl-C into the error
-- "interrupted" (a plain string, no position: lua/program/runner.c), raised
-- at the next Lua instruction; aapmt.hold_interrupts(fn, ...) runs fn with
-- Ctrl-C held until it returns, for bookkeeping that must not be left half
-- done. A plain lua5.4 has no hold, so there fn simply runs.
local a = aapmt

local M = {ERROR = "interrupted"}

-- Whether an error is an interruption (also with a traceback added).
function M.is(err)
  return err == M.ERROR or type(err) == "string" and err:sub(1, #M.ERROR + 1) == M.ERROR .. "\n"
end

-- pcall, except that an interruption goes on up: code that turns errors
-- into messages (a missing file, a failed experiment) must not turn Ctrl-C
-- into one and carry on.
function M.pcall(fn, ...)
  local result = table.pack(pcall(fn, ...))
  if not result[1] and M.is(result[2]) then error(result[2], 0) end
  return table.unpack(result, 1, result.n)
end

function M.hold(fn, ...)
  if a.hold_interrupts then return a.hold_interrupts(fn, ...) end
  return fn(...)
end

return M
