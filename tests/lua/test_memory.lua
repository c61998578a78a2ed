-- The collector sees the C memory tensors hold: a loop making large
-- temporaries without :free() stays in bounded memory. Also :free() and
-- to-be-closed variables release storage at once.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local a = aapmt
local MB = 2 ^ 20

local function rss_mb()
  local f = io.open("/proc/self/status")
  if not f then return nil end
  local status = f:read("a")
  f:close()
  local kb = status:match("VmRSS:%s*(%d+)")
  return kb and tonumber(kb) / 1024
end

collectgarbage()
local base = a.memory()

-- :free() and <close> release immediately
local t = a.zeros(1024, 1024)     -- 4 MB
check.truthy(a.memory() >= base + 4 * MB, "a new tensor counts in aapmt.memory()")
t:free()
check.truthy(a.memory() < base + MB, ":free() releases the storage")
do
  local c <close> = a.zeros(1024, 1024)
  check.truthy(a.memory() >= base + 4 * MB, "held inside the block")
end
check.truthy(a.memory() < base + MB, "<close> releases the storage")

-- 300 iterations, each making three 8 MB temporaries (7.2 GB in all) and never
-- calling collectgarbage() or :free(): the binding's accounting must collect.
local keep = a.ones(1024, 1024)   -- 4 MB that stays alive throughout
local peak, peak_rss = 0, 0
for i = 1, 300 do
  local x = a.full({2048, 1024}, i)   -- 8 MB
  local y = x * 2                     -- another
  local z = y + 1                     -- and another
  check.eq(z:get(1, 1), 2.0 * i + 1, "values are right")
  peak = math.max(peak, a.memory())
  peak_rss = math.max(peak_rss, rss_mb() or 0)
end
check.truthy(keep:sum():item() == 1024 * 1024, "live tensors survive the collections")
print(string.format("peak live storage %.0f MB, peak RSS %.0f MB", peak / MB, peak_rss))
check.truthy(peak < base + 256 * MB, string.format("live storage stays bounded (peak %.0f MB)", peak / MB))
-- The RSS bound is loose: glibc keeps freed blocks for reuse. Without the
-- accounting it would approach 7.2 GB. Sanitizer builds quarantine freed
-- memory, so their RSS says nothing here.
if os.getenv("AAPMT_SANITIZE") ~= "1" and rss_mb() then
  check.truthy(peak_rss < 1024, string.format("RSS stays bounded (peak %.0f MB)", peak_rss))
end
print("ok")
