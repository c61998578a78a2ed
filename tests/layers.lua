-- The layering of core/ (README "Layout"), checked from the sources and the
-- built library:
--   1. the folders of core/ include each other without a cycle;
--   2. no file outside core/cuda/ (in core/ and lua/) names a CUDA function
--      or header: the backend is reached through core/device.h and the op
--      slots of core/ops/kernels.h only;
--   3. no two objects of libaapmt_core.a call each other, nor two objects
--      of the Lua binding (read with nm).
--
--   aapmt run tests/layers.lua SOURCE_DIR LIBAAPMT_CORE.a [BINDING_OBJECTS...]
local lfs = require "lfs"
local root, archive = arg[1], arg[2]
assert(root and archive, "usage: aapmt run tests/layers.lua SOURCE_DIR LIBAAPMT_CORE.a [BINDING_OBJECTS...]")

local failures = 0
local function fail(fmt, ...)
  failures = failures + 1
  print("FAIL: " .. string.format(fmt, ...))
end

-- Every C, header and CUDA source under dir, relative to root.
local function sources(dir, out)
  out = out or {}
  for name in lfs.dir(root .. "/" .. dir) do
    local rel = dir .. "/" .. name
    local mode = name:sub(1, 1) ~= "." and lfs.attributes(root .. "/" .. rel, "mode")
    if mode == "directory" then sources(rel, out)
    elseif mode == "file" and (name:match("%.[ch]$") or name:match("%.cu$")) then out[#out + 1] = rel end
  end
  table.sort(out)
  return out
end

local function folder(path) return path:match("^(.*)/[^/]+$") end

local function normalise(path)
  local parts = {}
  for seg in path:gmatch("[^/]+") do
    if seg == ".." then table.remove(parts) elseif seg ~= "." then parts[#parts + 1] = seg end
  end
  return table.concat(parts, "/")
end

-- 1. Folder include graph: edges[a][b] = the first include line making a -> b.
local core = sources("core")
local exists = {}
for _, f in ipairs(core) do exists[f] = true end
local edges = {}
for _, f in ipairs(core) do
  local n = 0
  for line in io.lines(root .. "/" .. f) do
    n = n + 1
    local inc = line:match('^%s*#%s*include%s+"([^"]+)"')
    if inc then
      local target = normalise(folder(f) .. "/" .. inc)
      if not exists[target] then target = normalise("core/" .. inc) end -- core/ is on the include path
      local a, b = folder(f), folder(target)
      if exists[target] and a ~= b then
        edges[a] = edges[a] or {}
        edges[a][b] = edges[a][b] or string.format("%s:%d includes %s", f, n, inc)
      end
    end
  end
end
local state, stack = {}, {}
local function visit(a)
  state[a] = "open"
  stack[#stack + 1] = a
  local targets = {}
  for b in pairs(edges[a] or {}) do targets[#targets + 1] = b end
  table.sort(targets)
  for _, b in ipairs(targets) do
    if state[b] == "open" then
      local i = #stack
      while stack[i] ~= b do i = i - 1 end
      local why = {}
      for j = i, #stack do why[#why + 1] = edges[stack[j]][stack[j + 1] or b] end
      fail("include cycle %s -> %s (%s)", table.concat(stack, " -> ", i), b, table.concat(why, "; "))
    elseif not state[b] then
      visit(b)
    end
  end
  stack[#stack] = nil
  state[a] = "done"
end
local folders = {}
for a in pairs(edges) do folders[#folders + 1] = a end
table.sort(folders)
for _, a in ipairs(folders) do if not state[a] then visit(a) end end
print(string.format("%d folders of core/ include each other in one direction", #folders))

-- 2. CUDA names outside core/cuda/.
local checked = 0
for _, f in ipairs(sources("lua", sources("core"))) do
  if not f:match("^core/cuda/") then
    checked = checked + 1
    local n, in_comment = 0, false
    for line in io.lines(root .. "/" .. f) do
      n = n + 1
      local code, rest = {}, line -- the line without comments (they may name what the code does not)
      while rest ~= "" do
        if in_comment then
          local close = rest:find("*/", 1, true)
          if not close then break end
          rest, in_comment = rest:sub(close + 2), false
        else
          local open, line_comment = rest:find("/*", 1, true), rest:find("//", 1, true)
          if line_comment and (not open or line_comment < open) then
            code[#code + 1] = rest:sub(1, line_comment - 1)
            break
          end
          code[#code + 1] = rest:sub(1, (open or 0) - 1)
          if not open then break end
          rest, in_comment = rest:sub(open + 2), true
        end
      end
      code = table.concat(code, " ")
      local name = code:match("at_cuda_[%w_]+") or code:match('#%s*include%s+["<]cuda[%w_/.]*')
        or code:match("cublas%w*") or code:match("cuda%u%w+")
      if name then fail("%s:%d names %s outside core/cuda/", f, n, name) end
    end
  end
end
print(string.format("%d files outside core/cuda/ name no CUDA function", checked))

-- 3. Calls between objects, from nm's defined and undefined symbols: the
-- library's, then the binding's (each set on its own: the binding calls the
-- library, never the reverse).
local function check_calls(files, what, expected)
  local nm = io.popen("nm -A " .. files .. " 2>/dev/null")
  local defined, undefined = {}, {}
  for line in nm:lines() do
    -- nm -A: "archive:member.o:address kind symbol" or "file.o:address kind symbol"
    local member, kind, symbol = line:match("([^:/]+%.o):%x*%s+(%a)%s+(%S+)$")
    if member then
      undefined[member] = undefined[member] or {}
      if kind == "U" then undefined[member][symbol] = true
      elseif kind:match("[TDBRV]") then defined[symbol] = member end
    end
  end
  nm:close()
  local calls, objects = {}, 0
  for obj, wanted in pairs(undefined) do
    objects = objects + 1
    calls[obj] = {}
    for symbol in pairs(wanted) do
      local owner = defined[symbol]
      if owner and owner ~= obj then calls[obj][owner] = calls[obj][owner] or symbol end
    end
  end
  if objects == 0 or (expected and objects ~= expected) then
    fail("nm read %d objects of %s, not %s (binutils' nm is needed)", objects, what, expected or "any")
  end
  local names = {}
  for obj in pairs(calls) do names[#names + 1] = obj end
  table.sort(names)
  for _, a in ipairs(names) do
    for b, symbol in pairs(calls[a]) do
      if a < b and calls[b] and calls[b][a] then
        fail("%s and %s call each other (%s, %s)", a, b, symbol, calls[b][a])
      end
    end
  end
  print(string.format("%d objects of %s call one way", objects, what))
end
check_calls("'" .. archive .. "'", "the library")
local binding = {}
for i = 3, #arg do
  for file in arg[i]:gmatch("[^;]+") do binding[#binding + 1] = "'" .. file .. "'" end -- a CMake list, if unexpanded
end
if #binding > 0 then check_calls(table.concat(binding, " "), "the binding", #binding) end

if failures > 0 then
  print(failures .. " layering problems")
  os.exit(1)
end
print("layers: ok")
