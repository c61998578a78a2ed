-- The files of a training run's folder: atomic writes, CSV lines, a small
-- JSON and Lua-table writer, and reading back a state file. Kept apart from
-- the training loop so the loop reads as the recipe.
local lfs = require "lfs"

local M = {}

-- mkdir -p; raises naming the folder when it cannot be made.
function M.mkdir(path)
  local sofar = path:sub(1, 1) == "/" and "" or "."
  for part in path:gmatch("[^/]+") do
    sofar = sofar .. "/" .. part
    if lfs.attributes(sofar, "mode") ~= "directory" then
      local ok, err = lfs.mkdir(sofar)
      if not ok and lfs.attributes(sofar, "mode") ~= "directory" then
        error(string.format("cannot create folder %s: %s", sofar, tostring(err)), 0)
      end
    end
  end
  return path
end

function M.exists(path)
  return lfs.attributes(path, "mode") ~= nil
end

-- An exclusive lock on a folder for as long as the caller works in it;
-- kept in a to-be-closed variable (`local lock <close> = folder.lock(dir)`)
-- it is released on every way out. When another process holds it, raises at
-- once "WHO: DIR is in use by process PID; HINT" (opts.who says who refuses,
-- opts.hint what to do), or with opts.wait waits for it. The lock file is
-- dir/.lock, or opts.file for a folder that is moved or renamed into place
-- (its lock stays beside it).
-- The OS releases the lock of a process that dies, so a lock file a killed
-- run left behind never blocks.
function M.lock(dir, opts)
  opts = opts or {}
  local lock, why, pid = aapmt.lock_file(opts.file or dir .. "/.lock", {wait = opts.wait == true})
  if lock then return lock end
  local who = opts.who and opts.who .. ": " or ""
  if pid then
    error(string.format("%s%s is in use by process %d%s", who, dir, pid, opts.hint and ("; " .. opts.hint) or ""), 0)
  end
  error(string.format("%scannot lock %s: %s", who, dir, tostring(why)), 0)
end

-- Removes a file or a folder with everything in it (links are removed, not
-- followed). Returns the bytes freed.
function M.remove_tree(path)
  local freed = 0
  local attr = lfs.symlinkattributes(path)
  if attr and attr.mode == "directory" then
    for name in lfs.dir(path) do
      if name ~= "." and name ~= ".." then freed = freed + M.remove_tree(path .. "/" .. name) end
    end
    lfs.rmdir(path)
  elseif attr then
    freed = attr.mode == "file" and attr.size or 0
    os.remove(path)
  end
  return freed
end

-- An absolute path (against the current directory).
function M.absolute(path)
  return path:sub(1, 1) == "/" and path or lfs.currentdir() .. "/" .. path
end

-- Writes text to path through a temporary file and a rename, so a reader
-- (or a resumed run) sees the old file or the new one, never half of one.
function M.write_atomic(path, text)
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "wb")
  if not f then error("cannot write " .. tmp .. ": " .. tostring(err), 0) end
  local wrote, werr = f:write(text)
  local closed, cerr = f:close()
  if not (wrote and closed) then   -- a full disk: the old file stays
    os.remove(tmp)
    error("cannot write " .. tmp .. ": " .. tostring(werr or cerr), 0)
  end
  local ok, rerr = os.rename(tmp, path)
  if not ok then error("cannot rename " .. tmp .. " to " .. path .. ": " .. tostring(rerr), 0) end
end

function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

-- ---- CSV ----

function M.csv_field(v)
  if type(v) == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    if v ~= v then return "nan" end
    return M.float_str(v)   -- round-trips exactly
  end
  v = tostring(v == nil and "" or v)
  if v:find('[,"\r\n]') then v = '"' .. v:gsub('"', '""') .. '"' end
  return v
end

function M.csv_line(fields)
  local out = {}
  for i, v in ipairs(fields) do out[i] = M.csv_field(v) end
  return table.concat(out, ",") .. "\n"
end

-- Rewrites a CSV of numeric first column keeping the header and the lines
-- whose first field passes keep(number); drops a torn last line too.
function M.truncate_csv(path, keep)
  local text = M.read(path)
  if not text then return end
  local out, first = {}, true
  for line in text:gmatch("([^\n]*)\n") do   -- a line without its newline is torn
    if first then
      out[#out + 1] = line
      first = false
    else
      local n = tonumber(line:match("^([^,]*)"))
      if n and keep(n) then out[#out + 1] = line end
    end
  end
  M.write_atomic(path, #out > 0 and table.concat(out, "\n") .. "\n" or "")
end

-- ---- JSON (numbers, strings, booleans, lists, string-keyed tables) ----

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    local named = {['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\t'] = '\\t', ['\r'] = '\\r'}
    return named[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(x, y) return tostring(x) < tostring(y) end)
  return keys
end

function M.json(v, indent)
  indent = indent or ""
  local t = type(v)
  if t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "null" end   -- JSON has no NaN
    if math.type(v) == "integer" then return tostring(v) end
    return M.float_str(v)
  elseif t == "string" then
    return json_string(v)
  elseif t == "boolean" then
    return tostring(v)
  elseif t == "table" then
    local inner = indent .. "  "
    local parts = {}
    if #v > 0 or next(v) == nil then
      for i = 1, #v do parts[i] = inner .. M.json(v[i], inner) end
      return #parts == 0 and "[]" or "[\n" .. table.concat(parts, ",\n") .. "\n" .. indent .. "]"
    end
    for _, k in ipairs(sorted_keys(v)) do
      parts[#parts + 1] = inner .. json_string(tostring(k)) .. ": " .. M.json(v[k], inner)
    end
    return "{\n" .. table.concat(parts, ",\n") .. "\n" .. indent .. "}"
  end
  return "null"
end

-- The shortest decimal that reads back as exactly v.
function M.float_str(v)
  for digits = 15, 16 do
    local s = string.format("%." .. digits .. "g", v)
    if tonumber(s) == v then return s end
  end
  return string.format("%.17g", v)
end

-- ---- Lua tables, exactly (floats in decimals that read back bit for bit) ----

function M.lua_value(v, indent)
  indent = indent or ""
  local t = type(v)
  if t == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    if v ~= v then return "0/0" end
    if v == math.huge then return "math.huge" end
    if v == -math.huge then return "-math.huge" end
    local s = M.float_str(v)
    return s:find("[.eni]") and s or s .. ".0"   -- stays a float when read back
  elseif t == "string" then
    return string.format("%q", v)
  elseif t == "boolean" then
    return tostring(v)
  elseif t == "table" then
    local inner = indent .. "  "
    local parts = {}
    local n = #v
    for i = 1, n do parts[#parts + 1] = inner .. M.lua_value(v[i], inner) end
    for _, k in ipairs(sorted_keys(v)) do
      if not (math.type(k) == "integer" and k >= 1 and k <= n) then
        local key = type(k) == "string" and k:match("^[%a_][%w_]*$") and k or "[" .. M.lua_value(k) .. "]"
        parts[#parts + 1] = inner .. key .. " = " .. M.lua_value(v[k], inner)
      end
    end
    if #parts == 0 then return "{}" end
    return "{\n" .. table.concat(parts, ",\n") .. "\n" .. indent .. "}"
  end
  return string.format("%q", "<" .. t .. ">")   -- functions, userdata: described, not kept
end

-- read_lua, or nil when the file is missing or unreadable (a result or a
-- state that may not be there yet); Ctrl-C still goes on up.
function M.try_read_lua(path)
  local ok, value = require("aapmt.interrupts").pcall(M.read_lua, path)
  return ok and value or nil
end

-- Reads a file written as "return <lua_value>" in an empty environment.
function M.read_lua(path)
  local text = M.read(path)
  if not text then return nil end
  local chunk, err = load(text, "@" .. path, "t", {math = {huge = math.huge}})
  if not chunk then error("cannot read " .. path .. ": " .. err, 0) end
  local ok, value = pcall(chunk)
  if not ok then error("cannot read " .. path .. ": " .. tostring(value), 0) end
  return value
end

return M
