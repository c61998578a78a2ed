-- Tab completion of Lua names for the REPL (lua/program/repl_complete.c asks).
-- The word before the cursor is a chain of plain names (`aapmt.ra`,
-- `model:sc`, `x:`); it is followed through raw fields and metatable
-- __index tables only, so completing never calls a function and never runs
-- an __index function. A userdata whose __index is a function (a tensor)
-- offers the methods table its binding exports as metatable.methods.
local M = {}

-- Whether the end of the line is inside a string (then file names complete)
-- or a comment (then nothing does). Long brackets count as strings.
function M.context(line)
  local i, n = 1, #line
  while i <= n do
    local c = line:sub(i, i)
    if c == '"' or c == "'" then
      local j = i + 1
      while j <= n do
        local d = line:sub(j, j)
        if d == "\\" then j = j + 1 elseif d == c then break end
        j = j + 1
      end
      if j > n then return "string" end
      i = j + 1
    elseif line:sub(i, i + 1) == "--" then
      return "comment"
    elseif line:match("^%[=*%[", i) then
      local eq = line:match("^%[(=*)%[", i)
      local close = line:find("]" .. eq .. "]", i, true)
      if not close then return "string" end
      i = close + #eq + 2
    else
      i = i + 1
    end
  end
  return "code"
end

-- The next table to look names up in after `value`: its metatable's
-- __index when that is a table, else the metatable's exported methods.
local function index_table(value)
  local mt = getmetatable(value)
  if type(mt) ~= "table" then return nil end
  local index = rawget(mt, "__index")
  if type(index) == "table" then return index end
  local methods = rawget(mt, "methods")
  if type(methods) == "table" then return methods end
  return nil
end

-- value[name] without running any code: raw fields, then __index tables.
local function field(value, name)
  local seen = {}
  while value ~= nil and not seen[value] do
    seen[value] = true
    if type(value) == "table" then
      local v = rawget(value, name)
      if v ~= nil then return v end
    end
    value = index_table(value)
  end
  return nil
end

-- Every name reachable from value, as field() would find them.
local function names(value, methods_only)
  local out, seen = {}, {}
  while value ~= nil and not seen[value] do
    seen[value] = true
    if type(value) == "table" then
      for k, v in next, value do
        if type(k) == "string" and k:match("^[%a_][%w_]*$")
            and (not methods_only or type(v) == "function") then
          out[k] = true
        end
      end
    end
    value = index_table(value)
  end
  return out
end

-- The completions of the end of `line` (the text before the cursor), each
-- the whole word (`aapmt.randn`), sorted; env is where names start (the
-- REPL's locals, then _G through its __index). Returns nil inside a string.
function M.candidates(line, env)
  local where = M.context(line)
  if where == "string" then return nil end
  if where == "comment" then return {} end
  local word = line:match("[%w_%.:]*$")
  local before = line:sub(1, #line - #word):match("(%S)%s*$")
  -- f().x, t[1].x, "s":x: the value would have to be computed
  if before and before:match("[%)%]}\"']") then return {} end
  if word ~= "" and not word:match("^[%a_]") then return {} end
  if word:find(":[%w_]*[%.:]") then return {} end   -- a method call ends a chain
  local chain, prefix = {}, word
  for name in word:gmatch("([%w_]*)[%.:]") do
    chain[#chain + 1] = name
    prefix = prefix:sub(#name + 2)
  end
  local value = env
  for _, name in ipairs(chain) do
    value = field(value, name)
    if value == nil then return {} end
  end
  local methods_only = word:sub(#word - #prefix, #word - #prefix) == ":"
  local stem = word:sub(1, #word - #prefix)
  local out = {}
  for k in pairs(names(value, methods_only)) do
    -- metamethods (__index of a class table) only when asked for
    local hidden = k:sub(1, 2) == "__" and prefix:sub(1, 2) ~= "__"
    if k:sub(1, #prefix) == prefix and not hidden then out[#out + 1] = stem .. k end
  end
  table.sort(out)
  return out
end

return M
