-- How the REPL prints a value: tensors through their own tostring (Torch7's
-- format, long ones elided there), tables as {…} with keys sorted, nested
-- tables indented, long lists cut with a count and cycles marked, so that
-- model:score(...), x:size() and aapmt.metrics.all(...) read at a glance.
local M = {
  list_max = 20,     -- items of a list shown before "… (N more)"
  depth_max = 4,     -- deeper tables show as {…}
  line_width = 72,   -- a table of plain values this short stays on one line
}

local function is_identifier(s)
  -- a keyword such as "end" is no name: "local end" does not compile
  return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil and load("local " .. s) ~= nil
end

-- Numbers before strings before the rest; within a type by value.
local type_order = {number = 1, string = 2, boolean = 3}
local function key_before(a, b)
  local ta, tb = type_order[type(a)] or 4, type_order[type(b)] or 4
  if ta ~= tb then return ta < tb end
  if ta <= 2 then return a < b end
  return tostring(a) < tostring(b)
end

local function has_tostring(v)
  local mt = getmetatable(v)
  return type(mt) == "table" and rawget(mt, "__tostring") ~= nil
end

-- A tensor or other value with __tostring inside a table: its last line
-- only ("[aapmt.Tensor f32 of size 2x3]"), not all its elements.
local function short_tostring(v)
  local s = tostring(v)
  return s:match("([^\n]*)$")
end

local function scalar(v)
  if type(v) == "string" then return (string.format("%q", v):gsub("\\\n", "\\n")) end
  if has_tostring(v) then return short_tostring(v) end
  return tostring(v)
end

local format_table

local function format_value(v, indent, path)
  if type(v) == "table" and not has_tostring(v) then return format_table(v, indent, path) end
  return scalar(v)
end

local function key_text(k)
  if is_identifier(k) then return k end
  return "[" .. scalar(k) .. "]"
end

-- The entries in the order they print: the list part, then the other keys sorted.
local function entries(t)
  local n = rawlen(t)
  local keys = {}
  for k in next, t do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, key_before)
  return n, keys
end

function format_table(t, indent, path)
  if path[t] then return "<cycle>" end   -- t is one of its own ancestors
  if #path >= M.depth_max then return "{…}" end
  local n, keys = entries(t)
  if n == 0 and #keys == 0 then return "{}" end
  path[t] = true
  path[#path + 1] = t
  local shown = math.min(n, M.list_max)
  local items, plain = {}, true
  for i = 1, shown do
    local v = rawget(t, i)
    if type(v) == "table" and not has_tostring(v) then plain = false end
    items[#items + 1] = format_value(v, indent .. "  ", path)
  end
  if n > shown then items[#items + 1] = string.format("… (%d more, %d in all)", n - shown, n) end
  for _, k in ipairs(keys) do
    local v = rawget(t, k)
    if type(v) == "table" and not has_tostring(v) then plain = false end
    items[#items + 1] = key_text(k) .. " = " .. format_value(v, indent .. "  ", path)
  end
  path[#path] = nil
  path[t] = nil
  local one_line = "{" .. table.concat(items, ", ") .. "}"
  if plain and #indent + #one_line <= M.line_width then return one_line end
  -- A list of numbers stays on one line however long (it is cut at list_max).
  if plain and #keys == 0 then return one_line end
  local inner = indent .. "  "
  return "{\n" .. inner .. table.concat(items, ",\n" .. inner) .. "\n" .. indent .. "}"
end

-- The text of one value at top level: strings as they are, like print.
function M.show(v)
  if type(v) == "table" and not has_tostring(v) then return format_table(v, "", {}) end
  return tostring(v)
end

-- Prints the values as Lua's REPL does (tab-separated), each shown as above.
function M.print(...)
  local n = select("#", ...)
  if n == 0 then return end
  local texts = {}
  for i = 1, n do texts[i] = M.show((select(i, ...))) end
  print(table.concat(texts, "\t"))
end

return M
