-- The cache of ViT encodings a model keeps (aapmt.imagereward,
-- aapmt.image_cache): a second call on the same image files runs no ViT and
-- gives the uncached numbers; a changed file, an optimizer step, a write
-- into the weights and another model miss; the byte limit evicts the least
-- recently used; 0 turns it off; bad sizes are errors that say so.
-- On the tiny ImageReward of tests/fixtures/e2e (one encoding: 197 x 32 f32).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local files = require "files"
local lfs = require "lfs"
local IR = require "aapmt.imagereward"
local a = aapmt

local here = arg[0]:match("^(.*)/") or "."
local fixtures = here .. "/../fixtures"
local e2e = fixtures .. "/e2e"
local checkpoint, config = e2e .. "/tiny_224.pt", e2e .. "/tiny_224_config.json"
local vocab = fixtures .. "/tokenizer/vocab.txt"
local cases = dofile(e2e .. "/cases.lua")
local MB = 1024 * 1024
local ROW = 197 * 32 * 4   -- bytes of one image's encoding

-- The images are copies in a folder of our own, so the test can rewrite them.
local tmp = os.tmpname()
os.remove(tmp)
assert(lfs.mkdir(tmp))
local cwd = lfs.currentdir()
assert(lfs.chdir(tmp))
tmp = lfs.currentdir()   -- as the cache sees it, links resolved
assert(lfs.chdir(cwd))
local function read(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("a")
  f:close()
  return data
end
local function write(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end
local images = {}
for i, name in ipairs(cases.images) do
  images[i] = tmp .. "/" .. name
  write(images[i], read(fixtures .. "/image/" .. name))
end
local N = #images
local texts = {cases.prompts[1], cases.prompts[3], "a cat"}

local function load(opts)
  opts = opts or {}
  opts.checkpoint, opts.config, opts.vocab, opts.batch = checkpoint, config, vocab, opts.batch or 3
  return IR.load(opts)
end

-- Counts the ViT runs of model: its net's methods through a proxy.
local function count_encodings(model)
  local net, counter = model.net, {n = 0}
  model.net = setmetatable({encode_image = function(_, px)
    counter.n = counter.n + 1
    return net:encode_image(px)
  end}, {__index = function(_, k) return function(_, ...) return net[k](net, ...) end end})
  return counter, function() model.net = net end
end

local function same(x, y, what)   -- equal numbers, nested lists of them
  if type(x) == "table" then
    check.eq(#x, #y, what .. ": length")
    for i = 1, #y do same(x[i], y[i], what .. "[" .. i .. "]") end
  else
    check.eq(x, y, what)
  end
end

-- Within the project's float tolerance, 1e-6 absolute plus 1e-6 relative.
local function close(x, y, what)
  if type(x) == "table" then
    check.eq(#x, #y, what .. ": length")
    for i = 1, #y do close(x[i], y[i], what .. "[" .. i .. "]") end
  else
    check.truthy(math.abs(x - y) <= 1e-6 + 1e-6 * math.abs(y), string.format("%s: %.9g, expected %.9g", what, x, y))
  end
end

local function stats_are(model, want, what)
  local s = model:image_cache_stats()
  for k, v in pairs(want) do check.eq(s[k], v, what .. ": " .. k) end
  return s
end

local plain = load{image_cache = 0}
stats_are(plain, {entries = 0, bytes = 0, limit = 0}, "image_cache = 0")
local reference = plain:score_texts(texts, images)
stats_are(plain, {entries = 0, hits = 0, misses = 0}, "a model without a cache looks nothing up")

-- ---- a second call hits and runs no ViT; the numbers are the uncached ones ----

local model = load()
stats_are(model, {entries = 0, bytes = 0, megabytes = 512, limit = 512 * MB}, "a new model's cache")
local counter, restore = count_encodings(model)
same(model:score_texts(texts, images), reference, "first score_texts, all misses, against no cache")
check.eq(counter.n, math.ceil(N / 3), "the first call encodes every batch")
stats_are(model, {entries = N, bytes = N * ROW, hits = 0, misses = N}, "after the first call")
same(model:score_texts({"a dog", texts[2]}, images), plain:score_texts({"a dog", texts[2]}, images),
  "score_texts from the cache against no cache")
check.eq(counter.n, math.ceil(N / 3), "the second call runs no ViT")
stats_are(model, {entries = N, hits = N, misses = N}, "after the second call")
-- score, features, rank, cross_attention and score_each go through the cache too.
same(model:score(texts[1], images), plain:score(texts[1], images), "score from the cache")
same(model:features(texts[2], images):totable(), plain:features(texts[2], images):totable(), "features")
same({model:rank(texts[3], images)}, {plain:rank(texts[3], images)}, "rank")
-- One image alone: uncached, the ViT runs it as a batch of one; its cached
-- encoding came from a batch of three, and the ViT's GEMMs block by batch
-- rows, so the last bits may differ.
close(model:cross_attention(texts[1], images[2])[1]:totable(), plain:cross_attention(texts[1], images[2])[1]:totable(),
  "cross-attention of one image, cached from a batch of three")
same({model:score_each(texts[1], images)}, {plain:score_each(texts[1], images)}, "score_each")
check.eq(counter.n, math.ceil(N / 3), "none of them ran the ViT")
stats_are(model, {entries = N, misses = N}, "all of them hit")
-- A relative path and the absolute one are the same file.
assert(lfs.chdir(tmp))
local relative = model:score(texts[1], cases.images[1])
assert(lfs.chdir(cwd))
check.eq(counter.n, math.ceil(N / 3), "a relative path hits the entry of its absolute path")
check.eq(relative[1], model:score(texts[1], images[1])[1], "and scores the same")
restore()

-- ---- partly cached: the misses run as a smaller batch ----

do
  local m = load()
  m:score(texts[1], {images[1], images[3], images[6]})
  local scores = m:score_texts(texts, images)   -- batches {1 2 3} {4 5 6} {7}, misses {2} {4 5} {7}
  stats_are(m, {hits = 3, misses = 3 + 4}, "partly cached")
  local worst, differing = 0, 0
  for t = 1, #texts do
    for i = 1, N do
      local d = math.abs(scores[t][i] - reference[t][i])
      if d ~= 0 then differing = differing + 1 end
      worst = math.max(worst, d)
      check.truthy(d <= 1e-6 + 1e-6 * math.abs(reference[t][i]),
        string.format("text %d, image %d: %.9g with a partly filled cache, %.9g without", t, i, scores[t][i],
          reference[t][i]))
    end
  end
  -- The ViT's GEMMs block by batch rows, so an image encoded in another
  -- batch may differ in the last bits; said, not hidden.
  print(string.format("  partly cached against uncached: %d of %d scores differ, largest difference %.3g",
    differing, #texts * N, worst))
  m:free()
  check.eq(m.image_cache.entries, 0, "free empties the cache")
end

-- ---- a changed file misses ----

do
  local m = load()
  m:score(texts[1], images)
  local before = m:image_cache_stats()
  -- Another JPEG's bytes: another size, the same inode.
  write(images[2], read(fixtures .. "/image/" .. cases.images[1]))
  local after = m:score(texts[1], images)
  local s = m:image_cache_stats()
  check.eq(s.misses - before.misses, 1, "a rewritten file (new size) misses")
  check.eq(s.hits - before.hits, N - 1, "the others hit")
  -- (Encoded alone where the uncached call encodes it in a batch of three: close, not equal.)
  close(after[2], plain:score(texts[1], images)[2], "the rewritten file is scored as it is now")
  close(after[2], after[1], "which is the other image's score")
  -- The same bytes with another modification time.
  local mtime = lfs.attributes(images[2], "modification")
  assert(lfs.touch(images[2], mtime - 10, mtime - 10))
  m:score(texts[1], images)
  check.eq(m:image_cache_stats().misses - s.misses, 1, "a touched file misses")
  write(images[2], read(fixtures .. "/image/" .. cases.images[2]))
  -- A file that cannot be read is not cached: score_each says why each time.
  local bad = tmp .. "/bad.png"
  write(bad, "not a png")
  local scores, errors = m:score_each(texts[1], {images[1], bad, images[3]})
  check.truthy(scores[1] and scores[3] and not scores[2] and errors[2], "a bad image among cached ones")
  local _, again = m:score_each(texts[1], {bad})
  check.truthy(again[1], "the bad image fails again: " .. tostring(again[1]))
  check.raises(function() m:score(texts[1], {images[1], bad}) end, bad)
  check.raises(function() m:score(texts[1], {images[1], tmp .. "/missing.png"}) end, tmp .. "/missing.png")
  m:free()
end

-- ---- changed weights miss ----

do
  local m = load()
  local net = m.net
  local v0, id = net:weight_version()
  local _, other_id = plain.net:weight_version()
  check.truthy(id ~= other_id, "two loaded models have two ids")
  m:score(texts[1], images)
  check.eq(net:weight_version(), v0, "scoring does not move the version")
  net:to("cpu")
  check.eq(net:weight_version(), v0, "a move to the device it is on does not move it")
  m:score(texts[1], images)
  stats_are(m, {hits = N, misses = N}, "same weights: hits")

  -- An optimizer step on one ViT weight.
  local params = net:parameters()
  local p
  for _, e in ipairs(params) do
    if e.name:find("visual_encoder.norm.bias", 1, true) then p = e.tensor end
  end
  check.truthy(p, "the ViT's last norm bias is a parameter")
  p:requires_grad_(true)
  local opt = a.adam({p}, {lr = 0.1})
  local loss = (p * p):sum()
  loss:backward()
  local before_step = m:score(texts[1], images)
  opt:step()
  local v1 = net:weight_version()
  check.truthy(v1 > v0, "an optimizer step moves the weight version")
  local after_step = m:score(texts[1], images)
  stats_are(m, {entries = N, hits = 2 * N, misses = 2 * N}, "after an optimizer step every image misses")
  check.truthy(after_step[1] ~= before_step[1], "and the new weights give new scores")
  opt:free()
  p:requires_grad_(false)

  -- A write from Lua into a view of a weight, and a copy of weights over them.
  local view = p:narrow(1, 1, 2)
  view[1] = view[1] + 0.5
  check.truthy(net:weight_version() > v1, "a Lua write into a view of a weight moves the version")
  m:score(texts[1], images)
  stats_are(m, {misses = 3 * N}, "after a write into the weights every image misses")
  local v2 = net:weight_version()
  local original = a.load(checkpoint)["blip.visual_encoder.norm.bias"]
  p[{}] = original   -- the checkpoint's values back (a load into the weights)
  check.truthy(net:weight_version() > v2, "a copy into a weight moves the version")
  same(m:score(texts[1], images), before_step, "the checkpoint's weights again: the first scores, from the ViT")
  stats_are(m, {misses = 4 * N}, "the copy missed")
  -- Another model of the same checkpoint: its own id, its own cache.
  local again = load()
  again:score(texts[1], images)
  stats_are(again, {hits = 0, misses = N}, "a new load misses")
  again:free()
  m:free()
end

-- ---- the byte limit: least recently used first ----

do
  local m = load()
  m:set_image_cache(2.5 * ROW / MB)   -- room for two encodings
  local s = m:image_cache_stats()
  check.truthy(s.limit > 2 * ROW and s.limit < 3 * ROW, "a limit of 2.5 encodings: " .. s.limit)
  m:score(texts[1], {images[1], images[2]})
  m:score(texts[1], images[1])                -- 1 used last, 2 before it
  m:score(texts[1], images[3])                -- evicts 2
  s = stats_are(m, {entries = 2, bytes = 2 * ROW, evicted = 1}, "a third encoding evicts one")
  m:score(texts[1], images[1])
  check.eq(m:image_cache_stats().hits, s.hits + 1, "the recently used one stayed")
  m:score(texts[1], images[2])
  check.eq(m:image_cache_stats().misses, s.misses + 1, "the least recently used one went")
  m:score(texts[1], images)                   -- a batch larger than the cache
  s = m:image_cache_stats()
  check.truthy(s.bytes <= s.limit and s.entries == 2, "bytes stay within the limit: " .. s.bytes)
  m:set_image_cache(1.2 * ROW / MB)
  stats_are(m, {entries = 1, bytes = ROW}, "a smaller limit evicts at once")
  m:set_image_cache(0.5 * ROW / MB)
  stats_are(m, {entries = 0, bytes = 0}, "a limit below one encoding holds none")
  m:score(texts[1], images[1])
  stats_are(m, {entries = 0}, "and keeps none")

  -- 0 turns it off.
  m:set_image_cache(10)
  m:score(texts[1], images)
  m:set_image_cache(0)
  stats_are(m, {entries = 0, bytes = 0, limit = 0}, "0 empties the cache")
  s = m:image_cache_stats()
  local counter, restore = count_encodings(m)
  m:score_texts(texts, images)
  m:score_texts(texts, images)
  restore()
  check.eq(counter.n, 2 * math.ceil(N / 3), "without a cache every call runs the ViT")
  stats_are(m, {entries = 0, hits = s.hits, misses = s.misses}, "nothing is looked up")

  -- Bad sizes.
  for _, bad in ipairs({{-1, "got -1"}, {"512", "got a string"}, {0 / 0, "got "}, {math.huge, "got inf"},
    {nil, "got a nil"}, {{}, "got a table"}}) do
    check.raises(function() m:set_image_cache(bad[1]) end, "model:set_image_cache", "megabytes", bad[2])
  end
  stats_are(m, {limit = 0}, "a bad size changes nothing")
  check.raises(function() load{image_cache = -5} end, "image_cache", "megabytes", "got -5")
  m:free()
end

plain:free()
files.remove_tree(tmp)
print("ok")
