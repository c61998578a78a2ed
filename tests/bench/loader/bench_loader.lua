-- aapmt's background loader: one epoch of decoding and preprocessing at
-- 224 px (ImageReward's transform), images/s and CPU use (process CPU time /
-- wall time: 2.0 means both cores were busy the whole time).
--   aapmt run bench_loader.lua IMAGE_DIR WORKERS BATCH REPS [LIMIT]
local a = aapmt
local lfs = require "lfs"
local dir, workers, batch, reps, limit = arg[1], tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4]),
  tonumber(arg[5] or "0")

local paths = {}
for name in lfs.dir(dir) do
  if name:lower():find("%.jpe?g$") or name:lower():find("%.png$") then paths[#paths + 1] = dir .. "/" .. name end
end
table.sort(paths)
if limit > 0 then
  for i = #paths, limit + 1, -1 do paths[i] = nil end
end

local times, cpus = {}, {}
for rep = 1, reps do
  local ld = a.loader{paths = paths, size = 224, batch = batch, seed = 1, workers = workers, prefetch = 4}
  local wall0, cpu0 = a.clock(), os.clock()
  ld:epoch(rep)
  local n = 0
  while true do
    local pixels = ld:next()
    if not pixels then break end
    n = n + pixels:size(1)
    pixels:free()
  end
  times[rep], cpus[rep] = a.clock() - wall0, os.clock() - cpu0
  ld:close()
  assert(n == #paths, "the epoch gave every image")
end
local order = {}
for i = 1, reps do order[i] = i end
table.sort(order, function(x, y) return times[x] < times[y] end)
local mid = order[(reps + 1) // 2]
print(string.format("aapmt %d %.2f %.2f", #paths, #paths / times[mid], cpus[mid] / times[mid]))
