-- The results on disk under a runs folder: each experiment's own result,
-- or its variants' (superseded folders and dot folders left out).
local lfs = require "lfs"
local folder = require "aapmt.run_folder"

local M = {}

function M.read(dir)
  local r = folder.try_read_lua(dir .. "/result.lua")
  return type(r) == "table" and r.name and r or nil
end

local function is_dir(p) return lfs.attributes(p, "mode") == "directory" end

local function listed(dir)
  local names = {}
  if is_dir(dir) then
    for name in lfs.dir(dir) do
      if name:sub(1, 1) ~= "." and not name:find("%.superseded%-") and is_dir(dir .. "/" .. name) then
        names[#names + 1] = name
      end
    end
  end
  table.sort(names)
  return names
end

-- The results of one experiment's folder: its own, or its variants'.
function M.results_of(runs_dir, name)
  local dir, out = runs_dir .. "/" .. name, {}
  local own = M.read(dir)
  if own then out[1] = own end
  for _, sub in ipairs(listed(dir)) do
    local r = M.read(dir .. "/" .. sub)
    if r then out[#out + 1] = r end
  end
  return out
end

-- Every result under runs_dir.
function M.all(runs_dir)
  local out = {}
  for _, name in ipairs(listed(runs_dir)) do
    for _, r in ipairs(M.results_of(runs_dir, name)) do out[#out + 1] = r end
  end
  return out
end

return M
