-- File helpers for the Lua tests.
local lfs = require "lfs"
local files = {}

-- path made absolute against the current directory.
function files.absolute(path)
  return path:sub(1, 1) == "/" and path or lfs.currentdir() .. "/" .. path
end

-- Removes a file or a directory tree (a test's temporary folder).
function files.remove_tree(path)
  if lfs.attributes(path, "mode") == "directory" then
    for name in lfs.dir(path) do
      if name ~= "." and name ~= ".." then files.remove_tree(path .. "/" .. name) end
    end
    lfs.rmdir(path)
  else
    os.remove(path)
  end
end

return files
