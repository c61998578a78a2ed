-- Fingerprints: what a result depends on, written down as a flat table of
-- named facts (a "spec": key → canonical text), and its SHA-256.
--
-- A spec is kept beside the run it describes (the training state, the
-- result), so when a fingerprint differs the keys that differ can be named:
-- "train.lr 0.001 → 0.0008". Values are written canonically (sorted keys,
-- floats that read back exactly, functions by their source text), so the
-- same options always give the same text, and files go in by content
-- (SHA-256 through aapmt.sha256_file), cached by path, size and mtime in
-- nanoseconds so each file is read once (file_hashes.lua).
local a = aapmt
local nn = require "aapmt.nn"
local folder = require "aapmt.run_folder"
local file_hashes = require "aapmt.file_hashes"

local M = {}

-- ---- canonical text of a value ----

local source_lines = {}   -- chunk source ("@path") → its lines, read once

local function lines_of(source)
  if source_lines[source] then return source_lines[source] end
  local lines = {}
  local text = source:sub(1, 1) == "@" and folder.read(source:sub(2)) or
    (source:sub(1, 1) ~= "=" and source or nil)
  for line in ((text or "") .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  source_lines[source] = lines
  return lines
end

-- The text of a Lua function: its lines in its file (whole lines: a
-- function sharing a line with other code takes that code too, which only
-- errs towards redoing work).
function M.function_source(f)
  local info = debug.getinfo(f, "S")
  if info.what == "C" then return "<C function>" end
  local lines = lines_of(info.source)
  local out = {}
  for i = math.max(info.linedefined, 1), math.max(info.lastlinedefined, info.linedefined) do
    out[#out + 1] = lines[i] or ""
  end
  local text = table.concat(out, "\n")
  return text ~= "" and text or ("<function from " .. info.short_src .. ">")
end

local module_names   -- value → module name, for modules an upvalue names (made per canonical())

local function index_modules()
  module_names = {}
  for name, m in pairs(package.loaded) do
    if type(m) == "table" then module_names[m] = name end
  end
end

-- A module by its name, and a user's own module (not aapmt's, whose code
-- the version stands for, nor Lua's) by its file's content too, so editing
-- a prompt list kept in a module of one's own is seen.
local builtin = {_G = true, string = true, table = true, math = true, io = true, os = true, coroutine = true,
  utf8 = true, debug = true, package = true, lfs = true, aapmt = true}

local function module_text(v)
  local name = module_names[v]
  if not name then return nil end
  if builtin[name] or name:find("^aapmt%.") then return "<module " .. name .. ">" end
  local path = package.searchpath(name, package.path)
  return string.format("<module %s %s>", name, path and (M.file(path) or path) or "(no file)")
end

-- Canonical text of any value: a function by its source and the values it
-- closes over (a module by its name: its code is aapmt's, covered by the
-- version, or the user's own library); an aapmt.nn module by its layers.
function M.canonical(v, seen)
  if not seen then
    seen = {}
    index_modules()
  end
  local t = type(v)
  if t == "number" or t == "string" or t == "boolean" or t == "nil" then
    return folder.lua_value(v)
  elseif t == "function" then
    if seen[v] then return "<recursive function>" end
    seen[v] = true
    local parts = {"function " .. M.function_source(v)}
    for i = 1, math.huge do
      local name, value = debug.getupvalue(v, i)
      if not name then break end
      if name ~= "_ENV" then parts[#parts + 1] = name .. " = " .. M.canonical(value, seen) end
    end
    seen[v] = nil
    return table.concat(parts, "\n")
  elseif t == "table" then
    if nn.is_module(v) then return "nn " .. v:describe() .. " weights " .. M.module_weights(v) end
    local m = module_text(v)
    if m then return m end
    if seen[v] then return "<recursive table>" end
    seen[v] = true
    -- Lua's own notation, list items first, then the keys in order, so it
    -- reads as the option was written: {kind = "cosine", warmup = 100}.
    local n, parts, keys = #v, {}, {}
    for i = 1, n do parts[i] = M.canonical(v[i], seen) end
    for k in pairs(v) do
      if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
    end
    table.sort(keys, function(x, y)
      if type(x) ~= type(y) then return type(x) < type(y) end
      return x < y
    end)
    for _, k in ipairs(keys) do
      local key = type(k) == "string" and k:match("^[%a_][%w_]*$") and k or "[" .. M.canonical(k, seen) .. "]"
      parts[#parts + 1] = key .. " = " .. M.canonical(v[k], seen)
    end
    seen[v] = nil
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  return "<" .. t .. ">"
end

-- An aapmt.nn module's starting weights (its layers say only their sizes,
-- not the seed they were drawn from): the SHA-256 of every parameter's
-- name, shape and exact values.
function M.module_weights(m)
  local params = m:named_parameters()
  table.sort(params, function(x, y) return x.name < y.name end)
  local parts = {}
  for i, p in ipairs(params) do
    local flat, values = p.tensor:detach():contiguous():view(-1):totable(), {}
    for j, x in ipairs(flat) do values[j] = string.format("%a", x) end
    parts[i] = string.format("%s %s %s", p.name, table.concat(p.tensor:size(), "x"), a.sha256(table.concat(values, " ")))
  end
  return a.sha256(table.concat(parts, "\n"))
end

-- ---- files ----

-- "sha256:<hex>" of a file's bytes (cached), or nil and why.
function M.file(path)
  local hex, err = file_hashes.get(path)
  if not hex then return nil, err end
  return "sha256:" .. hex
end

-- Writes the hash cache when new hashes were computed.
M.flush = file_hashes.flush

-- ---- specs ----

-- The SHA-256 of a spec: its "key = value" lines in key order.
function M.of(spec)
  local keys = {}
  for k in pairs(spec) do keys[#keys + 1] = k end
  table.sort(keys)
  local lines = {}
  for i, k in ipairs(keys) do lines[i] = k .. " = " .. spec[k] end
  return a.sha256(table.concat(lines, "\n"))
end

-- The keys whose values differ: {{key=, old=, new=}, ...} in key order.
function M.diff(old, new)
  local keys, out = {}, {}
  for k in pairs(old or {}) do keys[k] = true end
  for k in pairs(new or {}) do keys[k] = true end
  local sorted = {}
  for k in pairs(keys) do sorted[#sorted + 1] = k end
  table.sort(sorted)
  for _, k in ipairs(sorted) do
    local was, now = (old or {})[k], (new or {})[k]
    if was ~= now then out[#out + 1] = {key = k, old = was, new = now} end
  end
  return out
end

-- A short, readable value for a message: long texts (hashes, function
-- sources) are cut.
local function short(v)
  if v == nil then return "(none)" end
  v = v:gsub("\n%s*", " ")
  if #v > 40 then v = v:sub(1, 37) .. "..." end
  return v
end

-- "train.lr 0.001 → 0.0008; epochs 3 → 4" (at most `limit` keys, then a count).
function M.describe_diff(changes, limit)
  limit = limit or 4
  local parts = {}
  for i, c in ipairs(changes) do
    if i > limit then
      parts[#parts + 1] = string.format("and %d more", #changes - limit)
      break
    end
    parts[#parts + 1] = string.format("%s %s → %s", c.key, short(c.old), short(c.new))
  end
  return table.concat(parts, "; ")
end

return M
