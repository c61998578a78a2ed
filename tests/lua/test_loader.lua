-- The background data loader from Lua (lua/binding/loader.c): batches in a
-- seeded order, pixels equal to aapmt.preprocess, resume, workers and cache
-- bit-identical, decode counts, errors naming the file, closing mid-epoch.
-- The loader itself is checked in C by tests/test_loader.c.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local a = aapmt


local here = arg[0]:match("^(.*)/") or "."
local img = here .. "/../fixtures/image/"
local names = {"rgb_37x23.png", "palette_50x40.png", "grey_61x47.png", "rgba_45x67.png",
               "rgb_224x224.jpg", "progressive.jpg", "rgb_41x33.bmp", "rgb_43x31.tga",
               "palette_40x30.gif", "la_40x52.png", "cmyk.jpg"}
local paths = {}
for i, n in ipairs(names) do paths[i] = img .. n end
local rows = #paths
local targets = {}
for i = 1, rows do targets[i] = {i, i * 10 + 0.5} end
local reference = a.preprocess(paths, 32)

-- Every batch of an epoch, as Lua tables of rows and flat pixel values.
local function run(ld, epoch, start)
  ld:epoch(epoch, start)
  local out = {rows = {}, pixels = {}, sizes = {}, positions = {}}
  while true do
    local px, tg, rw, pos = ld:next()
    if not px then break end
    check.eq(px:dtype(), "f32", "pixels dtype")
    check.eq(rw:dtype(), "i64", "rows dtype")
    local n = px:size(1)
    check.shape(px, {n, 3, 32, 32}, "pixels shape")
    check.shape(tg, {n, 2}, "targets shape")
    out.sizes[#out.sizes + 1] = n
    out.positions[#out.positions + 1] = pos
    local rt, tt = rw:totable(), tg:totable()
    for i = 1, n do
      out.rows[#out.rows + 1] = rt[i]
      check.eq(tt[i][1], rt[i], "targets follow the row")
    end
    out.pixels[#out.pixels + 1] = px
  end
  return out
end

-- Zero exactly when every element is equal (the values are finite).
local function differ(x, y)
  local d = x - y
  return (d * d):sum():item()
end

local function same_pixels(x, y)
  if #x.pixels ~= #y.pixels then return false end
  for i = 1, #x.pixels do
    if differ(x.pixels[i], y.pixels[i]) ~= 0 then return false end
  end
  return true
end

local ld = a.loader{paths = paths, targets = targets, size = 32, batch = 3, seed = 4, workers = 2}
check.eq(#ld, rows, "#loader")
check.eq(ld:batches(), 4, "11 rows of 3: 4 batches")
check.truthy(tostring(ld):find("11 rows, 4 batches", 1, true), tostring(ld))
local e0 = run(ld, 0)
check.eq(table.concat(e0.sizes, ","), "3,3,3,2", "batch sizes")
check.eq(table.concat(e0.positions, ","), "1,2,3,4", "batch positions")
local seen = {}
for _, r in ipairs(e0.rows) do seen[r] = (seen[r] or 0) + 1 end
for r = 1, rows do check.eq(seen[r], 1, "row " .. r .. " once in the epoch") end
-- Pixels equal aapmt.preprocess of the same files, row by row.
local k = 0
for _, px in ipairs(e0.pixels) do
  for i = 1, px:size(1) do
    k = k + 1
    local want = reference:narrow(1, e0.rows[k], 1)
    check.eq(differ(px:narrow(1, i, 1), want), 0, "pixels of row " .. e0.rows[k])
  end
end
local again = run(ld, 0)
check.eq(table.concat(again.rows, ","), table.concat(e0.rows, ","), "epoch 0 again: the same order")
local e1 = run(ld, 1)
check.truthy(table.concat(e1.rows, ",") ~= table.concat(e0.rows, ","), "epoch 1: another order")
-- Resume: start at batch 3 of epoch 1.
local tail = run(ld, 1, 3)
check.eq(table.concat(tail.positions, ","), "3,4", "resumed positions")
check.eq(table.concat(tail.rows, ","), table.concat(e1.rows, ",", 7), "resumed rows")
check.eq(#run(ld, 1, 5).rows, 0, "start past the last batch: empty")
check.raises(function() ld:epoch(1, 6) end, "Loader:epoch", "start batch 6")
ld:close()
check.raises(function() ld:next() end, "loader was closed")
ld:close()   -- twice is fine

-- Workers, prefetch and the cache change nothing in the batches.
local base = a.loader{paths = paths, targets = targets, size = 32, batch = 4, seed = 9, workers = 1, prefetch = 1}
local b0 = run(base, 2)
for _, opt in ipairs{{workers = 4, prefetch = 3}, {workers = 2, cache_bytes = 1 << 20}} do
  local ld2 = a.loader{paths = paths, targets = targets, size = 32, batch = 4, seed = 9,
                       workers = opt.workers, prefetch = opt.prefetch, cache_bytes = opt.cache_bytes}
  for epoch = 1, 2 do
    local r = run(ld2, 2)
    check.eq(table.concat(r.rows, ","), table.concat(b0.rows, ","), "same rows")
    check.truthy(same_pixels(r, b0), "bit-identical pixels, epoch pass " .. epoch)
  end
  if opt.cache_bytes then
    local st = ld2:stats()
    check.eq(st.decodes, rows, "cache: each image decoded once")
    check.eq(st.cache_hits, rows, "cache: the second pass hits")
    check.eq(st.cache_bytes, rows * 3 * 32 * 32, "cache bytes")
  end
  ld2:close()
end
base:close()

-- No shuffle, a targets tensor, drop_last.
local tt = a.tensor(targets)
local plain = a.loader{paths = paths, targets = tt, size = 32, batch = 4, shuffle = false, drop_last = true}
local p = run(plain, 7)
check.eq(table.concat(p.rows, ","), "1,2,3,4,5,6,7,8", "no shuffle, drop_last")
plain:close()

-- An unreadable file: the error names it, at the batch that needs it.
local bad = {}
for i = 1, rows do bad[i] = paths[i] end
bad[5] = img .. "truncated.png"
do
  local ld3 <close> = a.loader{paths = bad, size = 32, batch = 2, shuffle = false, workers = 3}
  ld3:epoch(0)
  check.truthy(ld3:next(), "batch 1 is fine")
  check.truthy(ld3:next(), "batch 2 is fine")
  -- 5 rows in batches of 2: row 5 is the first of batch 3, counted as the API counts.
  local first = check.raises(function() ld3:next() end, "truncated.png", "batch 3 of 6, row 1 of the batch")
  local again = check.raises(function() ld3:next() end, "truncated.png")
  local function message(e) return (e:gsub("^[^:]*:%d+: ", "")) end   -- without the calling line
  check.eq(message(again), message(first), "a failed next() keeps failing with the same error, never nil")
  ld3:epoch(0, 4)
  check.truthy(ld3:next(), "a new start goes on past the bad batch")
  ld3:epoch(1)   -- closed at the end of the block while the workers run
end

-- The pixel bound: rgba_45x67.png (row 4, 3015 pixels) is over 3000; the
-- same bound in aapmt.preprocess.
do
  local bounded <close> = a.loader{paths = paths, size = 32, batch = 4, shuffle = false, max_image_pixels = 3000}
  bounded:epoch(0)
  check.raises(function() bounded:next() end, "rgba_45x67.png", "3015 pixels exceeds the limit of 3000 pixels")
  check.raises(function() a.preprocess({paths[4]}, 32, {max_pixels = 3000}) end, "rgba_45x67.png",
    "exceeds the limit of 3000 pixels")
  check.eq(a.preprocess({paths[4]}, 32, {max_pixels = 3015}):size(1), 1, "an image at the bound is decoded")
  check.raises(function() a.preprocess({paths[4]}, 32, {max_pixels = 0}) end, "max_pixels must be at least 1")
  check.raises(function() a.preprocess({paths[4]}, 32, {max_pixel = 9}) end, "unknown option 'max_pixel'")
  check.raises(function() a.loader{paths = paths, batch = 2, max_image_pixels = -1} end,
    "max_image_pixels must be at least 1")
end

-- Option errors.
check.raises(function() a.loader{paths = paths} end, "aapmt.loader", "batch")
check.raises(function() a.loader{paths = {}, batch = 2} end, "paths is empty")
check.raises(function() a.loader{paths = paths, batch = 2, bogus = 1} end, "unknown option 'bogus'")
check.raises(function() a.loader{paths = paths, batch = 2, targets = {{1}}} end, "targets has 1 rows")
check.raises(function() a.loader{paths = {1, 2}, batch = 2} end, "paths[1] must be a string")

-- Closing mid-epoch, and dropping a loader to the collector.
local mid = a.loader{paths = paths, size = 32, batch = 2, workers = 4, prefetch = 4}
mid:epoch(0)
mid:next()
mid:close()
a.loader{paths = paths, size = 32, batch = 2}:epoch(0)
collectgarbage()
print("ok")
