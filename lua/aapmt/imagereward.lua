-- ImageReward from Lua: load a checkpoint, then score, rank, extract [CLS]
-- features and look at cross-attention maps, as the Python ImageReward does.
--
--   local IR = require "aapmt.imagereward"
--   local model = IR.load{checkpoint = "checkpoint/ImageReward/ImageReward.pt"}
--   model:score("a cat on a sofa", {"a.jpg", "b.png"})   --> {0.41, -1.2}
--   model:rank("a cat on a sofa", images)                --> ranks, rewards
--
-- Images are file paths, preprocessed with ImageReward's exact transform, in
-- batches of `batch` (default 8). A prompt is one string for all images or
-- a list with one per image.
--
-- A model keeps the ViT encodings of the image files it has seen (0.8 MB an
-- image for ImageReward-v1.0) in a cache of image_cache megabytes (default
-- 512; model:set_image_cache), so scoring other prompts on the same images
-- runs the text side only. An entry is keyed by the file (absolute path,
-- size, modification and status-change times in nanoseconds, inode) within
-- a scope of the model's id and weight version (net:weight_version), its
-- device and the preprocessing; a new scope empties the cache.
local a = aapmt
local lfs = require "lfs"
local databases = require "aapmt.databases"
local image_cache = require "aapmt.image_cache"

local M = {default_checkpoint = "checkpoint/ImageReward/ImageReward.pt"}
local DEFAULT_IMAGE_CACHE_MB = 512
local Model = {}
Model.__index = Model
M.Model = Model   -- the methods, for help() and completion

-- opts: checkpoint, config (JSON path), vocab (vocab.txt path), batch, copy,
-- device ("cuda" scores on the GPU), max_image_pixels (the decompression-bomb
-- bound for each image; default AAPMT_MAX_IMAGE_PIXELS or Pillow's),
-- image_cache (megabytes of ViT encodings kept, default 512; 0: none).
function M.load(opts)
  if type(opts) == "string" then opts = {checkpoint = opts} end
  opts = opts or {}
  local cache = image_cache.new(0)
  if opts.image_cache ~= nil then cache:set_limit(opts.image_cache, "imagereward.load: image_cache", 3)
  else cache:set_limit(DEFAULT_IMAGE_CACHE_MB) end
  local checkpoint = opts.checkpoint or M.default_checkpoint
  if not lfs.attributes(checkpoint) then error(databases.checkpoint_missing(checkpoint), 2) end
  local net = a.imagereward_load(checkpoint, opts.config, opts.copy)
  if opts.device and opts.device ~= "cpu" then net:to(opts.device) end
  local vocab, where = a.find_vocab(opts.vocab, checkpoint)
  if not vocab then error(where, 2) end
  local tokenizer = a.tokenizer(vocab)
  local vocab_size = net:config().text.vocab_size
  if tokenizer:size() > vocab_size then
    error(string.format("%s has %d tokens (with [DEC] and [ENC]) but the model's text embedding has %d rows",
      vocab, tokenizer:size(), vocab_size), 2)
  end
  return setmetatable({net = net, tokenizer = tokenizer, image_size = net:image_size(),
    batch = opts.batch or 8, max_length = 35, max_image_pixels = opts.max_image_pixels, image_cache = cache}, Model)
end

-- aapmt.preprocess's options for this model (the pixel bound), or nil.
local function preprocess_options(model)
  return model.max_image_pixels and {max_pixels = model.max_image_pixels} or nil
end

local function prompt_at(prompt, i, n)
  if type(prompt) == "string" then return prompt end
  if type(prompt) ~= "table" or #prompt ~= n then
    error(string.format("prompt must be a string or a list of %d strings", n), 3)
  end
  return prompt[i]
end

-- Every path's pixels, or an error naming the first image that cannot be
-- read: a decode for encode_paths (Model:pixels_of is the lenient one).
local function decode_all(self)
  return function(paths)
    local all = {}
    for i = 1, #paths do all[i] = i end
    return a.preprocess(paths, self.image_size, preprocess_options(self)), all, {}
  end
end

-- The cache key of an image file: its absolute path and what stat says of
-- it (size, modification and status-change times in nanoseconds, inode; a
-- rewrite moves the change time even when the old mtime is put back), or nil
-- when it cannot be stat'ed (the decoding says why). cwd makes a relative
-- path absolute; the caller reads it once per batch.
local function file_key(path, cwd)
  if type(path) ~= "string" then return nil end
  local abs = path:sub(1, 1) == "/" and path or cwd .. "/" .. path
  local facts = a.file_facts(abs)
  if not facts or facts.kind ~= "file" then return nil end
  return string.format("%d %d %d %d %s", facts.size, facts.mtime_ns, facts.ctime_ns, facts.inode, abs)
end

-- What a cached encoding depends on besides the file: the weights (the
-- model's id and weight version), their device and the preprocessing.
local function cache_scope(self)
  local version, id = self.net:weight_version()
  return string.format("model %d, weights %d, %s, %d px, max_pixels %s", id, version, self.net:device(),
    self.image_size, tostring(self.max_image_pixels))
end

-- The ViT encoding (no grad) of one batch of paths: rows for the paths that
-- decode could read, in order, which positions of paths they are, and why
-- each other failed; decode(paths) returns pixels, positions and errors as
-- Model:pixels_of does. With the cache on, only the paths it lacks are
-- decoded and encoded, as one batch, and their rows are kept.
local function encode_paths(self, paths, decode)
  local cache = self.image_cache
  if not cache or cache.limit == 0 then
    local pixels, good, errors = decode(paths)
    if not pixels then return nil, good, errors end
    local encoding = self.net:encode_image(pixels)
    pixels:free()
    return encoding, good, errors
  end
  cache:scope(cache_scope(self))
  local keys, rows, fresh, missing, errors = {}, {}, {}, {}, {}
  local cwd = lfs.currentdir()
  for i, path in ipairs(paths) do
    keys[i] = file_key(path, cwd)
    rows[i] = cache:get(keys[i])
    if not rows[i] then missing[#missing + 1] = i end
  end
  if #missing > 0 then
    local missing_paths = {}
    for k, i in ipairs(missing) do missing_paths[k] = paths[i] end
    local pixels, good, failed = decode(missing_paths)
    for k, why in pairs(failed) do errors[missing[k]] = why end
    if pixels then
      local encoding = self.net:encode_image(pixels)
      pixels:free()
      for j, k in ipairs(good) do
        local i = missing[k]
        rows[i], fresh[#fresh + 1] = encoding:narrow(1, j, 1):clone(), i
      end
      encoding:free()
    end
  end
  local parts, good = {}, {}
  for i = 1, #paths do
    if rows[i] then parts[#parts + 1], good[#good + 1] = rows[i], i end
  end
  local encoding = #parts > 0 and a.concat(parts, 1) or nil
  -- Only now may the cache evict: the rows it lent are copied out.
  for _, i in ipairs(fresh) do
    if not (keys[i] and cache:put(keys[i], rows[i])) then rows[i]:free() end
  end
  return encoding, good, errors
end

-- Runs the model over images in batches; calls fn(output, first, last) for
-- each batch (indices into images). progress: an aapmt.progress or nil.
-- The image side comes from the cache where it can.
function Model:each_batch(prompt, images, opts, fn)
  if type(images) == "string" then images = {images} end
  local n = #images
  if n == 0 then error("no images given", 3) end
  opts = opts or {}
  for first = 1, n, self.batch do
    local last = math.min(first + self.batch - 1, n)
    local paths, prompts = {}, {}
    for i = first, last do
      paths[#paths + 1] = images[i]
      prompts[#prompts + 1] = prompt_at(prompt, i, n)
    end
    local encoding = encode_paths(self, paths, decode_all(self))
    local ids, mask = self.tokenizer:encode_batch(prompts, self.max_length)
    local out = self.net:forward_encoded(encoding, ids, mask, {cross_attention = opts.cross_attention,
      metric_attention = opts.metric_attention})
    encoding:free()
    fn(out, first, last)
    if opts.progress then opts.progress:step(last) end
  end
  if opts.progress then opts.progress:finish() end
end

-- The reason an image could not be read, without the "image 'PATH': "
-- the engine puts in front (the caller names the path).
local function image_error(path, err)
  err = tostring(err)
  local prefix = "image '" .. path .. "': "
  return err:sub(1, #prefix) == prefix and err:sub(#prefix + 1) or err
end

-- The pixels of the paths that decode, and why each other failed. The batch
-- is tried whole first: decoding one by one only happens when it failed,
-- so good batches keep the engine's parallel decoding.
function Model:pixels_of(paths)
  local ok, pixels = pcall(a.preprocess, paths, self.image_size, preprocess_options(self))
  if ok then
    local all = {}
    for i = 1, #paths do all[i] = i end
    return pixels, all, {}
  end
  local parts, good, errors = {}, {}, {}
  for i, path in ipairs(paths) do
    local one_ok, one = pcall(a.preprocess, {path}, self.image_size, preprocess_options(self))
    if one_ok then
      parts[#parts + 1], good[#good + 1] = one, i
    else
      errors[i] = image_error(path, one)
    end
  end
  if #parts <= 1 then return parts[1], good, errors end
  local pixels_all = a.concat(parts, 1)
  for _, part in ipairs(parts) do part:free() end
  return pixels_all, good, errors
end

-- Like score, but an image that cannot be read does not stop the others:
-- returns scores (nil where an image failed) and errors (image index ->
-- the reason), both indexed as images.
function Model:score_each(prompt, images, opts)
  if type(images) == "string" then images = {images} end
  local n = #images
  if n == 0 then error("no images given", 2) end
  opts = opts or {}
  local scores, errors = {}, {}
  for first = 1, n, self.batch do
    local last = math.min(first + self.batch - 1, n)
    local paths = table.move(images, first, last, 1, {})
    local encoding, good, failed = encode_paths(self, paths, function(p) return self:pixels_of(p) end)
    for k, why in pairs(failed) do errors[first + k - 1] = why end
    if encoding then
      local prompts = {}
      for j, k in ipairs(good) do prompts[j] = prompt_at(prompt, first + k - 1, n) end
      local ids, mask = self.tokenizer:encode_batch(prompts, self.max_length)
      local out = self.net:forward_encoded(encoding, ids, mask)
      for j, s in ipairs(out.scores:totable()) do scores[first + good[j] - 1] = s end
      encoding:free()
    end
    if opts.progress then opts.progress:step(last) end
  end
  if opts.progress then opts.progress:finish() end
  return scores, errors
end

-- scores[t][i] of every text against every image, from one encoding per
-- batch of images; decode(paths) gives pixels, the positions in paths they
-- hold and the errors by position (see encode_paths). The texts go in groups
-- of at most 8 batches' worth of (text, image) rows, bounding memory.
local function score_all_texts(self, texts, images, opts, decode)
  if type(texts) == "string" then texts = {texts} end
  if type(images) == "string" then images = {images} end
  if #texts == 0 then error("no texts given", 3) end
  if #images == 0 then error("no images given", 3) end
  opts = opts or {}
  local scores, errors = {}, {}
  for t = 1, #texts do scores[t] = {} end
  for first = 1, #images, self.batch do
    local last = math.min(first + self.batch - 1, #images)
    local encoding, good, failed = encode_paths(self, table.move(images, first, last, 1, {}), decode)
    for k, why in pairs(failed) do errors[first + k - 1] = why end
    if encoding then
      local group = math.max(1, (8 * self.batch) // #good)
      for t0 = 1, #texts, group do
        local t1 = math.min(t0 + group - 1, #texts)
        local ids, mask = self.tokenizer:encode_batch(table.move(texts, t0, t1, 1, {}), self.max_length)
        for k, row in ipairs(self.net:score_texts(encoding, ids, mask).scores:totable()) do
          for j, v in ipairs(row) do scores[t0 + k - 1][first + good[j] - 1] = v end
        end
      end
      encoding:free()
    end
    if opts.progress then opts.progress:step(last) end
  end
  if opts.progress then opts.progress:finish() end
  return scores, errors
end

-- Every text against every image: scores[t][i], normalised. Each batch of
-- images is encoded once (the ViT) and that encoding serves all the texts,
-- so comparing prompts costs little more than one.
function Model:score_texts(texts, images, opts)
  return (score_all_texts(self, texts, images, opts, decode_all(self)))
end

-- Like score_texts, but an image that cannot be read does not stop the
-- others: scores[t][i] is nil for it and errors[i] says why.
function Model:score_texts_each(texts, images, opts)
  return score_all_texts(self, texts, images, opts, function(paths) return self:pixels_of(paths) end)
end

-- Normalised scores, one number per image, in input order.
function Model:score(prompt, images, opts)
  local scores = {}
  self:each_batch(prompt, images, opts, function(out)
    for _, s in ipairs(out.scores:totable()) do scores[#scores + 1] = s end
  end)
  return scores
end

-- With a Metric Transformer (config "metric_head"): every metric's output
-- for each image, fed its own prompt: {{quality=, align=, ...}, ...} in
-- input order, and the metric names in the head's order.
function Model:metrics(prompt, images, opts)
  local head = self.net:config().metric_head
  if not head then error("this model has no Metric Transformer (its config has no \"metric_head\")", 2) end
  local out = {}
  self:each_batch(prompt, images, opts, function(o)
    for _, row in ipairs(o.metric_scores:totable()) do
      local named = {}
      for m, name in ipairs(head.metrics) do named[name] = row[m] end
      out[#out + 1] = named
    end
  end)
  return out, head.metrics
end

-- The metric tokens' attention (metric_attention head), for one image: per
-- layer, self = (heads, metrics, metrics), which metric reads which, and
-- cross = (heads, metrics, prompt tokens), which words each metric reads;
-- with the metric names and the prompt's word pieces.
function Model:metric_attention(prompt, image)
  local head = self.net:config().metric_head
  if not head or head.kind ~= "metric_attention" then
    error("this model has no metric_attention head (the coded one attends to a single token)", 2)
  end
  local maps = {}
  self:each_batch(prompt, {image}, {metric_attention = true}, function(out)
    for l = 1, #out.metric_attention.self do
      maps[l] = {self = out.metric_attention.self[l]:select(1, 1), cross = out.metric_attention.cross[l]:select(1, 1)}
    end
  end)
  return maps, head.metrics, self:pieces(prompt)
end

-- The prompt's word pieces as the model reads them: [CLS], the pieces
-- (truncated as encode_batch truncates), [SEP].
function Model:pieces(prompt)
  local pieces = {"[CLS]"}
  for i, piece in ipairs(self.tokenizer:pieces(prompt)) do
    if i > self.max_length - 2 then break end
    pieces[#pieces + 1] = piece
  end
  pieces[#pieces + 1] = "[SEP]"
  return pieces
end

-- The [CLS] features of the last text layer, (N, hidden).
function Model:features(prompt, images, opts)
  local parts = {}
  self:each_batch(prompt, images, opts, function(out) parts[#parts + 1] = out.features end)
  return #parts == 1 and parts[1] or a.concat(parts, 1)
end

-- Like ImageReward's inference_rank: the head runs once on all features;
-- rank[i] is the 1-based place of image i when sorted by falling reward
-- (ties keep input order). Returns ranks and normalised rewards.
function Model:rank(prompt, images, opts)
  local features = self:features(prompt, images, opts)
  local rewards = a.no_grad(function()
    return (self.net:head(features) - 0.16717362830052426) / 1.0333394966054072
  end):totable()
  local order = {}
  for i = 1, #rewards do order[i] = i end
  table.sort(order, function(x, y)
    if rewards[x] ~= rewards[y] then return rewards[x] > rewards[y] end
    return x < y
  end)
  local ranks = {}
  for place, i in ipairs(order) do ranks[i] = place end
  return ranks, rewards
end

-- Cross-attention of the prompt's tokens to the image tokens, for one image:
-- a list over text layers of (heads, tokens of the prompt, image tokens)
-- tensors, and the prompt's word pieces with [CLS] and [SEP].
function Model:cross_attention(prompt, image)
  local maps
  self:each_batch(prompt, {image}, {cross_attention = true}, function(out)
    maps = {}
    for l, m in ipairs(out.cross_attention) do maps[l] = m:select(1, 1) end
  end)
  return maps, self:pieces(prompt)
end

-- The cache of ViT encodings: megabytes (2^20 bytes) of them at most; 0
-- turns it off and frees what it holds. Smaller than now evicts the least
-- recently used at once.
function Model:set_image_cache(megabytes)
  if not self.image_cache then self.image_cache = image_cache.new(0) end
  self.image_cache:set_limit(megabytes, "model:set_image_cache", 3)
end

-- {entries=, bytes=, limit= (bytes), megabytes=, hits=, misses=, evicted=}:
-- hits and misses count images looked up, evicted those dropped for room.
function Model:image_cache_stats()
  if not self.image_cache then self.image_cache = image_cache.new(0) end
  return self.image_cache:stats()
end

function Model:free()
  if self.image_cache then self.image_cache:clear() end
  self.net:free()
  self.tokenizer:free()
end

return M
