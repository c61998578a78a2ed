-- The project explains itself: every reference to its own notes resolves,
-- and nothing points at notes outside the repository.
--   1. each "docs/NAME.md §N" (and each further "§M" in the same sentence
--      part) names a file of docs/ with a heading numbered N;
--   2. each "docs/NAME.md ... Appendix X" names a heading "Appendix X";
--   3. no source, test, experiment or the README cites the original notes
--      ("shared/spec", "spec §"), which users do not have.
--
--   aapmt run tests/doc_refs.lua SOURCE_DIR
local lfs = require "lfs"
local root = arg[1]
assert(root, "usage: aapmt run tests/doc_refs.lua SOURCE_DIR")

local failures, checked = 0, 0
local function fail(fmt, ...)
  failures = failures + 1
  print("FAIL: " .. string.format(fmt, ...))
end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

-- Text files under dir (relative to root), skipping hidden entries and the
-- fuzzers' saved inputs (mutated bytes, not prose).
local skip = {["tests/fuzz/regressions"] = true}
local function files(dir, out)
  for name in lfs.dir(root .. "/" .. dir) do
    local rel = dir == "." and name or dir .. "/" .. name
    local mode = name:sub(1, 1) ~= "." and lfs.attributes(root .. "/" .. rel, "mode")
    if mode == "directory" and not skip[rel] then files(rel, out)
    elseif mode == "file" and (name:match("%.[ch]$") or name:match("%.cu$") or name:match("%.lua$")
                               or name:match("%.py$") or name:match("%.md$") or name:match("%.cmake$")
                               or name:match("%.sh$") or name == "CMakeLists.txt") then
      out[#out + 1] = rel
    end
  end
  return out
end

local scanned = {"README.md", "CMakeLists.txt", "setup.sh"}
for _, dir in ipairs{"core", "lua", "tests", "experiments", "docs", ".ci"} do
  if lfs.attributes(root .. "/" .. dir, "mode") == "directory" then files(dir, scanned) end
end
table.sort(scanned)

-- Headings of each docs/ file, as the text after the #s.
local headings = {}
local function headings_of(name)
  if headings[name] == nil then
    local text = read(root .. "/docs/" .. name .. ".md")
    local list = false
    if text then
      list = {}
      for line in text:gmatch("[^\n]+") do
        local h = line:match("^#+%s+(.*)$")
        if h then list[#list + 1] = h end
      end
    end
    headings[name] = list
  end
  return headings[name]
end
local function has_section(list, number)
  for _, h in ipairs(list) do
    if h:sub(1, #number) == number and h:sub(#number + 1, #number + 1):match("^[%.%s]") then return true end
  end
  return false
end
local function has_appendix(list, letter)
  for _, h in ipairs(list) do
    if h:match("^Appendix " .. letter .. "%f[^%w]") then return true end
  end
  return false
end

for _, rel in ipairs(scanned) do
  local text = assert(read(root .. "/" .. rel), "cannot read " .. rel)
  local line_no = 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    line_no = line_no + 1
    local where = rel .. ":" .. line_no
    if rel ~= "tests/doc_refs.lua" and rel ~= "tests/lua/test_paper.lua"
       and (line:find("shared/spec", 1, true) or line:find("spec §", 1, true)) then
      fail("%s cites notes outside the repository: %s", where, line)
    end
    -- docs/NAME.md, then what the reference says up to the next ';', ')',
    -- '"' or another docs/ reference.
    for name, rest in line:gmatch("docs/([%l%d_]+)%.md([^;%)\"]*)") do
      local list = headings_of(name)
      if not list then
        fail("%s: docs/%s.md does not exist", where, name)
      else
        for number in rest:gmatch("§(%d[%d%.]*%d?)") do
          number = number:gsub("%.$", "")
          checked = checked + 1
          if not has_section(list, number) then fail("%s: docs/%s.md has no section %s", where, name, number) end
        end
        for letter in rest:gmatch("Appendix (%u)") do
          checked = checked + 1
          if not has_appendix(list, letter) then fail("%s: docs/%s.md has no Appendix %s", where, name, letter) end
        end
      end
    end
  end
end

print(string.format("%d files scanned, %d section references resolved", #scanned, checked))
if checked == 0 then fail("no references found: the scan is looking in the wrong place") end
if failures > 0 then error(failures .. " broken reference(s)", 0) end
