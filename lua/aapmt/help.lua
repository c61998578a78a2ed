-- help() in the REPL. The entries live in lua/aapmt/help/<area>.lua, one file
-- per area of the API, each returning
--
--   {area = "Tensor methods", entries = {
--     {"Tensor:narrow(dim, start, length)",          -- signature; the name is
--      "A view of length elements of dim from start.", -- what precedes "("
--      "x:narrow(1, 2, 3)"},                          -- example
--   }}
--
-- The same entries make the README's API index (M.readme_index(), checked
-- by tests/lua/test_help.lua), so the two cannot drift, and that test fails
-- when a function of `aapmt` or a Tensor or model method has no entry.
local M = {}

-- The areas in the order help() lists them.
M.areas = {"constructors", "tensor", "functions", "training", "data", "metrics", "model", "engine"}

local loaded

-- All areas: {{area=, entries={{name=, signature=, doc=, example=}, ...}}, ...}
function M.load()
  if loaded then return loaded end
  loaded = {}
  for _, file in ipairs(M.areas) do
    local spec = require("aapmt.help." .. file)
    local area = {area = spec.area, entries = {}}
    for _, e in ipairs(spec.entries) do
      local name = e[1]:match("^([^%(%s{]+)")
      area.entries[#area.entries + 1] = {name = name, signature = e[1], doc = e[2], example = e[3]}
    end
    loaded[#loaded + 1] = area
  end
  return loaded
end

-- name -> entry for every entry.
function M.by_name()
  local out = {}
  for _, area in ipairs(M.load()) do
    for _, e in ipairs(area.entries) do out[e.name] = e end
  end
  return out
end

-- The objects the entries' prefixes stand for: Tensor, model (what
-- aapmt.imagereward.load returns), net (an aapmt.imagereward_load model).
function M.prefixes()
  return {
    aapmt = aapmt,
    Tensor = aapmt.Tensor,
    model = require("aapmt.imagereward").Model,
    net = rawget(debug.getregistry()["aapmt.ImageReward"] or {}, "__index"),
  }
end

-- The value an entry name stands for ("aapmt.metrics.srcc", "Tensor:narrow"), or nil.
function M.resolve(name)
  local prefixes = M.prefixes()
  local head, rest = name:match("^([%a_][%w_]*)[%.:](.+)$")
  local value = head and prefixes[head]
  if not value then return nil end
  for part in rest:gmatch("[^%.:]+") do
    if type(value) ~= "table" then return nil end
    value = rawget(value, part)
  end
  return value
end

local function wrap(text, indent, width)
  local lines, line = {}, indent
  for word in text:gmatch("%S+") do
    if #line > #indent and #line + 1 + #word > width then
      lines[#lines + 1] = line
      line = indent
    end
    line = line .. (#line > #indent and " " or "") .. word
  end
  lines[#lines + 1] = line
  return table.concat(lines, "\n")
end

function M.format_entry(e)
  local example = "  " .. e.example:gsub("\n", "\n  ")
  return string.format("%s\n%s\nExample:\n%s", e.signature, wrap(e.doc, "  ", 78), example)
end

function M.format_area(area)
  local names = {}
  for _, e in ipairs(area.entries) do names[#names + 1] = e.name end
  return area.area .. ":\n" .. wrap(table.concat(names, " "), "  ", 78)
end

local function area_named(word)
  for i, area in ipairs(M.load()) do
    if area.area:lower() == word:lower() or M.areas[i] == word then return area end
  end
end

-- The area an object's methods are in: a tensor, a model or a net.
local function area_of_object(x)
  local mt = getmetatable(x)
  local prefixes = M.prefixes()
  local prefix
  if aapmt.is_tensor(x) then prefix = "Tensor:"
  elseif type(mt) == "table" and rawget(mt, "__index") == prefixes.model then prefix = "model:"
  elseif type(mt) == "table" and rawget(mt, "__index") == prefixes.net then prefix = "net:"
  else return nil end
  for _, area in ipairs(M.load()) do
    local entries = {}
    for _, e in ipairs(area.entries) do
      if e.name:sub(1, #prefix) == prefix then entries[#entries + 1] = e end
    end
    if #entries > 0 then return {area = area.area, entries = entries} end
  end
end

-- The text help(x) prints.
function M.text(x)
  local entries = M.by_name()
  if x == nil then
    local parts = {}
    for _, area in ipairs(M.load()) do parts[#parts + 1] = M.format_area(area) end
    parts[#parts + 1] = 'help(aapmt.softmax), help("Tensor:narrow"), help(x) for a tensor or model tell more.'
    return table.concat(parts, "\n\n")
  end
  if type(x) == "string" then
    local e = entries[x] or entries["aapmt." .. x] or entries["Tensor:" .. x]
      or entries["model:" .. x] or entries["net:" .. x]
    if e then return M.format_entry(e) end
    local area = area_named(x)
    if area then return M.format_area(area) end
    return string.format("no help for %q; help() lists what there is", x)
  end
  if type(x) == "function" then
    local names = {}
    for name in pairs(entries) do names[#names + 1] = name end
    table.sort(names)   -- one answer when two names share a function
    for _, name in ipairs(names) do
      if M.resolve(name) == x then return M.format_entry(entries[name]) end
    end
  end
  local area = area_of_object(x)
  if area then
    local lines = {area.area .. ":"}
    for _, e in ipairs(area.entries) do lines[#lines + 1] = "  " .. e.signature end
    lines[#lines + 1] = 'help("' .. area.entries[1].name .. '") and the like tell more.'
    return table.concat(lines, "\n")
  end
  return "no help for this " .. type(x) .. "; help() lists what there is"
end

-- The README's API index: one line per area, names in backquotes.
function M.readme_index()
  local lines = {}
  for _, area in ipairs(M.load()) do
    local names = {}
    for _, e in ipairs(area.entries) do names[#names + 1] = "`" .. e.name .. "`" end
    lines[#lines + 1] = "- " .. area.area .. ": " .. table.concat(names, " ")
  end
  return table.concat(lines, "\n")
end

return setmetatable(M, {__call = function(_, x) print(M.text(x)) end})
