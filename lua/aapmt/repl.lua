-- The Lua half of the REPL (lua/program/repl.c reads lines and calls these).
--
-- Statements run with _ENV = M.env, a table of the REPL's own variables whose
-- metatable reaches _G for everything else (reads and new assignments). A
-- plain `local` on one line lives on in M.env, so the next line sees it, as
-- in modern REPLs: each statement chunk is compiled with a call at its end
-- that copies the chunk's top-level locals there. `<const>` and `<close>`
-- locals are not copied: a constant stays unassignable and a to-be-closed
-- value is closed when its statement ends, as in plain Lua.
local show = require "aapmt.repl_show"
local complete = require "aapmt.repl_complete"

local M = {env = setmetatable({}, {__index = _G, __newindex = _G})}

-- Names declared with an attribute (`local f <close> = ...`) in source.
local function attributed_names(source)
  local names = {}
  for list in source:gmatch("local%s+([%w_%s,<>]-)%s*=") do
    for name in list:gmatch("([%a_][%w_]*)%s*<%s*[%a_]+%s*>") do names[name] = true end
  end
  return names
end

-- The function the chunk calls last: copies the caller's (the chunk's)
-- active locals into env. Internal locals ("(for state)") have no name to keep.
local function keeper(skip)
  return function()
    local i = 1
    while true do
      local name, value = debug.getlocal(2, i)
      if not name then break end
      if not skip[name] and name:match("^[%a_]") then rawset(M.env, name, value) end
      i = i + 1
    end
  end
end

-- Compiles code that began on input line first_line, so errors name that
-- line ("stdin:12:"), not the chunk's first. With keep_locals, the chunk's
-- locals outlive it: it calls its first vararg at its end (the keeper, which
-- repl.c passes). Returns the function and the keeper (or nil), or nil and
-- the syntax error.
function M.compile(code, first_line, keep_locals)
  local padded = string.rep("\n", first_line - 1) .. code
  if keep_locals then
    -- A chunk ending in `return` or `break` cannot take a statement after
    -- it; it compiles as it is below, and its locals end with it.
    local f = load(padded .. "\n;(...)()", "=stdin", "t", M.env)
    if f then return f, keeper(attributed_names(code)) end
  end
  return load(padded, "=stdin", "t", M.env)
end

M.print = show.print

-- Completions of the text before the cursor; nil inside a string.
function M.complete(line)
  return complete.candidates(line, M.env)
end

-- "string", "comment" or "code": where the cursor is (readline's word breaks).
M.context = complete.context

-- What the REPL adds to the globals it starts with.
function M.start()
  _G.help = require "aapmt.help"
end

return M
