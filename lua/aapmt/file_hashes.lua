-- Content hashes of files, computed once: SHA-256 (aapmt.sha256_file, in
-- C) cached by path, size, inode and the modification and status-change
-- times in nanoseconds, so a 1.7 GB checkpoint or a database of thousands of
-- images is read the first time only, and a file written again is hashed
-- again: a write moves the change time even when a copy (cp -p, rsync -t)
-- puts the old mtime back.
--
-- The cache is one text file, a line per file:
-- "sha256 size mtime_ns ctime_ns inode path",
-- at $AAPMT_CACHE/file_hashes.txt (default $XDG_CACHE_HOME/aapmt, else
-- ~/.cache/aapmt). It is only an accelerator: when it cannot be read or
-- written the hashes are simply computed again.
local a = aapmt
local lfs = require "lfs"
local folder = require "aapmt.run_folder"
local interrupts = require "aapmt.interrupts"

local M = {}

local cache, dirty   -- path → {hash=, size=, mtime_ns=}; whether to write

function M.cache_path()
  local dir = os.getenv("AAPMT_CACHE")
  if not dir or dir == "" then
    local xdg, home = os.getenv("XDG_CACHE_HOME"), os.getenv("HOME")
    if xdg and xdg ~= "" then dir = xdg .. "/aapmt"
    elseif home and home ~= "" then dir = home .. "/.cache/aapmt"
    else return nil end
  end
  return dir .. "/file_hashes.txt"
end

local function load()
  if cache then return end
  cache = {}
  local path = M.cache_path()
  local text = path and folder.read(path) or ""
  for line in text:gmatch("([^\n]+)\n") do
    local hash, key, file = line:match("^(%x+) (%-?%d+ %-?%d+ %-?%d+ %-?%d+) (.+)$")
    if hash then cache[file] = {hash = hash, key = key} end
  end
end

-- The hex SHA-256 of a regular file, or nil and a message naming it.
function M.get(path)
  load()
  if path:sub(1, 1) ~= "/" then path = lfs.currentdir() .. "/" .. path end
  local facts, err = a.file_facts(path)
  if not facts then return nil, err end
  local key = string.format("%d %d %d %d", facts.size, facts.mtime_ns, facts.ctime_ns, facts.inode)
  local known = cache[path]
  if known and known.key == key then return known.hash end
  local hash, why = a.sha256_file(path)
  if not hash then return nil, why end
  cache[path] = {hash = hash, key = key}
  dirty = true
  return hash
end

-- Writes the cache when new hashes were computed (atomically; a failure to
-- write only costs hashing again next time).
function M.flush()
  if not dirty then return end
  dirty = false
  local path = M.cache_path()
  if not path then return end
  local files = {}
  for file in pairs(cache) do
    if not file:find("\n", 1, true) then files[#files + 1] = file end
  end
  table.sort(files)
  local lines = {}
  for i, file in ipairs(files) do
    local e = cache[file]
    lines[i] = string.format("%s %s %s\n", e.hash, e.key, file)
  end
  interrupts.pcall(function()
    folder.mkdir(path:match("^(.*)/"))
    folder.write_atomic(path, table.concat(lines))
  end)
end

return M
