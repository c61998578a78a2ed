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
local a = aapmt
local lfs = require "lfs"
local databases = require "aapmt.databases"

local M = {default_checkpoint = "checkpoint/ImageReward/ImageReward.pt"}
local Model = {}
Model.__index = Model
M.Model = Model   -- the methods, for help() and completion

-- opts: checkpoint, config (JSON path), vocab (vocab.txt path), batch, copy,
-- device ("cuda" scores on the GPU), max_image_pixels (the decompression-bomb
-- bound for each image; default AAPMT_MAX_IMAGE_PIXELS or Pillow's).
function M.load(opts)
  if type(opts) == "string" then opts = {checkpoint = opts} end
  opts = opts or {}
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
    batch = opts.batch or 8, max_length = 35, max_image_pixels = opts.max_image_pixels}, Model)
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

-- Runs the model over images in batches; calls fn(output, first, last) for
-- each batch (indices into images). progress: an aapmt.progress or nil.
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
    local pixels = a.preprocess(paths, self.image_size, preprocess_options(self))
    local ids, mask = self.tokenizer:encode_batch(prompts, self.max_length)
    local out = a.no_grad(function()
      return self.net:forward(pixels, ids, mask, {cross_attention = opts.cross_attention,
        metric_attention = opts.metric_attention})
    end)
    fn(out, first, last)
    pixels:free()
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
    local pixels, good, failed = self:pixels_of(paths)
    for k, why in pairs(failed) do errors[first + k - 1] = why end
    if pixels then
      local prompts = {}
      for j, k in ipairs(good) do prompts[j] = prompt_at(prompt, first + k - 1, n) end
      local ids, mask = self.tokenizer:encode_batch(prompts, self.max_length)
      local out = a.no_grad(function() return self.net:forward(pixels, ids, mask, {}) end)
      for j, s in ipairs(out.scores:totable()) do scores[first + good[j] - 1] = s end
      pixels:free()
    end
    if opts.progress then opts.progress:step(last) end
  end
  if opts.progress then opts.progress:finish() end
  return scores, errors
end

-- scores[t][i] of every text against every image, from one encoding per
-- batch of images; decode(paths) gives pixels, the positions in paths they
-- hold and the errors by position. The texts go in groups of at most 8
-- batches' worth of (text, image) rows, bounding memory.
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
    local pixels, good, failed = decode(table.move(images, first, last, 1, {}))
    for k, why in pairs(failed) do errors[first + k - 1] = why end
    if pixels then
      local encoding = self.net:encode_image(pixels)
      pixels:free()
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
  return (score_all_texts(self, texts, images, opts, function(paths)
    local all = {}
    for i = 1, #paths do all[i] = i end
    return a.preprocess(paths, self.image_size, preprocess_options(self)), all, {}
  end))
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

function Model:free()
  self.net:free()
  self.tokenizer:free()
end

return M
