-- ImageReward end to end against PyTorch: image files and prompt text in,
-- token ids, pixels, [CLS] features, rewards, scores and ranks out, from Lua
-- (aapmt.imagereward) and from the command line (aapmt score).
-- The expected values come from tests/fixtures/make_e2e_fixtures.py: a tiny
-- ImageReward at 224 px run by the reference PyTorch modules on the same
-- image files and prompts, the way ImageReward.score and inference_rank do.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local lfs = require "lfs"
local IR = require "aapmt.imagereward"
local a = aapmt

local here = arg[0]:match("^(.*)/") or "."
local fixtures = here .. "/../fixtures"
local e2e = fixtures .. "/e2e"
local checkpoint = e2e .. "/tiny_224.pt"
local config = e2e .. "/tiny_224_config.json"
local vocab = fixtures .. "/tokenizer/vocab.txt"
local cases = dofile(e2e .. "/cases.lua")
local images = {}
for i, name in ipairs(cases.images) do images[i] = fixtures .. "/image/" .. name end
local N, P = #images, #cases.prompts

local E = {}
for name, t in pairs(a.load(e2e .. "/expected.safetensors")) do E[name] = t:totable() end

-- ---- comparisons ----

local worst = {}   -- the largest error seen per kind, printed at the end

-- Elementwise |actual - expected| <= tol * scale, where scale is the largest
-- |expected| of the list (relative to the vector) or 1 (absolute).
local function near_list(actual, expected, tol, what, kind, relative)
  check.eq(type(actual), "table", what .. " is a list")
  check.eq(#actual, #expected, what .. ": number of values")
  local scale = 0
  for i = 1, #expected do scale = math.max(scale, math.abs(expected[i])) end
  if not relative then scale = 1 end
  local err = 0
  for i = 1, #expected do
    local d = math.abs(actual[i] - expected[i])
    if d ~= d then error(string.format("%s[%d]: got %s", what, i, tostring(actual[i])), 2) end
    if d > tol * scale then
      error(string.format("%s[%d]: expected %.9g, got %.9g (error %.3g, tolerance %.3g)", what, i,
        expected[i], actual[i], d, tol * scale), 2)
    end
    err = math.max(err, d / scale)
  end
  if kind then worst[kind] = math.max(worst[kind] or 0, err) end
end

local function same_list(actual, expected, what)
  check.eq(#actual, #expected, what .. ": length")
  for i = 1, #expected do check.eq(actual[i], expected[i], what .. "[" .. i .. "]") end
end

local function column(rows, i)   -- expected[p][i] for every p
  local out = {}
  for p = 1, #rows do out[p] = rows[p][i] end
  return out
end

local model = IR.load{checkpoint = checkpoint, config = config, vocab = vocab, batch = 4}
check.eq(model.image_size, 224, "image size from the config")

-- ---- token ids, exactly ----

for p, prompt in ipairs(cases.prompts) do
  local ids, mask = model.tokenizer:encode(prompt)
  same_list(ids:totable(), E.ids[p], "ids of prompt " .. p)
  same_list(mask:totable(), E.mask[p], "mask of prompt " .. p)
  same_list(model.tokenizer:pieces(prompt), cases.pieces[p], "word pieces of prompt " .. p)
end

-- ---- preprocessed pixels: bit-exact samples, and sums over every pixel ----

local pixels = a.preprocess(images, 224)
check.shape(pixels, {N, 3, 224, 224}, "preprocessed pixels")
for i = 1, N do
  local x = pixels:select(1, i):totable()
  local flat = {}
  for c = 1, 3 do
    for y = 1, 224 do
      local row = x[c][y]
      for k = 1, 224 do flat[#flat + 1] = row[k] end
    end
  end
  for k, index in ipairs(E.pixel_index) do
    check.eq(flat[index + 1], E.pixel_values[i][k], cases.images[i] .. ": pixel at flat index " .. index)
  end
  local sum, abs_sum, sq_sum = 0, 0, 0
  for _, v in ipairs(flat) do
    sum, abs_sum, sq_sum = sum + v, abs_sum + math.abs(v), sq_sum + v * v
  end
  -- f64 sums of the same float32 values: only the order of summation differs.
  check.truthy(math.abs(sum - E.pixel_sum[i]) <= 1e-9 * E.pixel_abs_sum[i],
    string.format("%s: sum of pixels %.12g, expected %.12g", cases.images[i], sum, E.pixel_sum[i]))
  near_list({abs_sum, sq_sum}, {E.pixel_abs_sum[i], E.pixel_sq_sum[i]}, 1e-9,
    cases.images[i] .. ": sums of |pixels| and pixels²", nil, true)
end
pixels:free()

-- ---- scores, features, raw rewards, ranks ----

local batch4 = {}
for p, prompt in ipairs(cases.prompts) do
  local scores = model:score(prompt, images)
  near_list(scores, E.scores[p], 1e-5, "scores of prompt " .. p, "scores (absolute)")
  near_list(scores, E.scores64[p], 1e-5, "scores of prompt " .. p .. " against float64 PyTorch",
    "scores against float64 PyTorch (absolute)")
  batch4[p] = scores

  local features = model:features(prompt, images)
  check.shape(features, {N, model.net:config().text.hidden_size}, "features")
  local f = features:totable()
  for i = 1, N do
    near_list(f[i], E.features[p][i], 1e-5, string.format("features of prompt %d, %s", p, cases.images[i]),
      "features (relative)", true)
  end
  local rewards = a.no_grad(function() return model.net:head(features) end):totable()
  near_list(rewards, E.rewards[p], 1e-5, "raw rewards of prompt " .. p, "raw rewards (relative)", true)

  local ranks, rank_rewards = model:rank(prompt, images)
  same_list(ranks, E.rank[p], "ranks for prompt " .. p)
  near_list(rank_rewards, E.rank_rewards[p], 1e-5, "rank rewards of prompt " .. p, "rank rewards (absolute)")
end
-- The scores differ between images well beyond the tolerance.
local lo, hi = math.huge, -math.huge
for _, s in ipairs(E.scores[1]) do lo, hi = math.min(lo, s), math.max(hi, s) end
check.truthy(hi - lo > 0.1, "the fixture's scores spread out")
for p = 1, P do near_list(E.scores[p], E.scores64[p], 1e-5, "float32 PyTorch against float64", "torch f32 vs f64") end

-- One prompt per image, and a single path.
local per_image, expected_per_image = {}, {}
for i = 1, N do
  local p = i % P + 1
  per_image[i] = cases.prompts[p]
  expected_per_image[i] = E.scores[p][i]
end
near_list(model:score(per_image, images), expected_per_image, 1e-5, "scores with a prompt per image")
near_list(model:score(cases.prompts[2], images[3]), {E.scores[2][3]}, 1e-5, "score of one path")
check.raises(function() return model:score({cases.prompts[1]}, images) end, "list of " .. N .. " strings")
check.raises(function() return model:score(cases.prompts[1], {}) end, "no images")

-- ---- batch size does not change the numbers ----

for _, b in ipairs({1, 3, N}) do
  local m = IR.load{checkpoint = checkpoint, config = config, vocab = vocab, batch = b}
  for p, prompt in ipairs(cases.prompts) do
    -- Not bit-identical (BLAS blocks a matrix of B·197 rows by B), but within a few float32 ulps
    -- (the largest seen: 7.8e-7, and 1.4e-6 with the last bits of GELU moved by its split e^(-x²/2)).
    near_list(m:score(prompt, images), batch4[p], 2e-6, string.format("batch %d against batch 4, prompt %d", b, p),
      "batch size (relative)", true)
  end
  m:free()
end

-- ---- one image encoding for every text ----

do
  local m = IR.load{checkpoint = checkpoint, config = config, vocab = vocab, batch = 3}
  local net, encodings = m.net, 0
  -- Counts the ViT runs: the net's methods through a proxy.
  m.net = setmetatable({encode_image = function(_, px) encodings = encodings + 1; return net:encode_image(px) end},
    {__index = function(_, k) return function(_, ...) return net[k](net, ...) end end})
  local texts = {cases.prompts[1], cases.prompts[2], cases.prompts[3], "a cat"}
  local all = m:score_texts(texts, images)
  check.eq(encodings, math.ceil(N / 3), "the ViT runs once per batch of images, not once per text")
  m.net = net
  for t, text in ipairs(texts) do
    local one = m:score(text, images)
    check.eq(#all[t], N, "a score per image for text " .. t)
    for i = 1, N do
      check.truthy(math.abs(all[t][i] - one[i]) <= 1e-6 + 1e-6 * math.abs(one[i]),
        string.format("text %d, image %d: score_texts %.9g, score %.9g", t, i, all[t][i], one[i]))
    end
  end
  check.eq(#m:score_texts("a cat", images[1]), 1, "one text, one image")
  -- forward_encoded on an encoding is forward, bit for bit.
  local px = a.preprocess({images[1], images[2]}, 224)
  local ids, mask = m.tokenizer:encode_batch({cases.prompts[1], "a cat"})
  local enc = net:encode_image(px)
  check.eq(table.concat(enc:size(), "x"), "2x197x32", "the encoding is the ViT output")
  local direct = net:forward(px, ids, mask).scores:totable()
  local encoded = net:forward_encoded(enc, ids, mask).scores:totable()
  for i = 1, 2 do check.eq(encoded[i], direct[i], "forward_encoded equals forward, row " .. i) end
  local direct_maps = net:forward(px, ids, mask, {cross_attention = true}).cross_attention
  local encoded_maps = net:forward_encoded(enc, ids, mask, {cross_attention = true}).cross_attention
  check.eq(#encoded_maps, #direct_maps, "forward_encoded gives the cross-attention maps when asked")
  for l = 1, #direct_maps do
    local d, e = direct_maps[l]:totable(), encoded_maps[l]:totable()
    check.eq(e[2][1][3][5], d[2][1][3][5], "a cross-attention probability of layer " .. l)
  end
  check.raises(function() net:forward_encoded(enc, ids, mask, {training = true}) end, "training")
  check.raises(function() net:forward_encoded(enc, ids:narrow(1, 1, 1), mask:narrow(1, 1, 1)) end,
    "2 images but 1 prompts")
  check.raises(function() m:score_texts({}, images) end, "no texts given")
  px:free()
  m:free()
end

-- ---- cross-attention maps ----

local text = model.net:config().text

for p, prompt in ipairs(cases.prompts) do
  local real = 0
  for _, m in ipairs(E.mask[p]) do real = real + m end
  local maps, pieces = model:cross_attention(prompt, images[1])
  check.eq(#maps, text.num_hidden_layers, "one map per text layer")
  local want = {"[CLS]"}
  for k = 1, real - 2 do want[#want + 1] = cases.pieces[p][k] end
  want[#want + 1] = "[SEP]"
  same_list(pieces, want, "cross-attention pieces of prompt " .. p .. " (one per map row)")
  for l, map in ipairs(maps) do
    check.shape(map, {text.num_attention_heads, real, 197}, "cross-attention of layer " .. l)
    for h, head in ipairs(map:totable()) do
      for t, row in ipairs(head) do
        local s = 0
        for _, v in ipairs(row) do
          check.truthy(v >= 0, "attention probabilities are not negative")
          s = s + v
        end
        check.near(s, 1, 1e-5, string.format("row sum, prompt %d layer %d head %d token %d", p, l, h, t))
      end
    end
  end
end
do
  local c = cases.cross_case
  local maps = model:cross_attention(cases.prompts[c.prompt], images[c.image])
  for l, map in ipairs(maps) do
    local expected = E["cross_attention." .. (l - 1)]
    local got = map:totable()
    check.eq(#got, #expected, "heads")
    for h = 1, #expected do
      check.eq(#got[h], #expected[h], "tokens")
      for t = 1, #expected[h] do
        near_list(got[h][t], expected[h][t], 1e-5, string.format("cross-attention layer %d head %d token %d", l, h, t),
          "cross-attention (absolute)")
      end
    end
  end
end

-- ---- vocab.txt beside the checkpoint ----

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function copy_file(from, to)
  local f = assert(io.open(from, "rb"))
  local data = f:read("a")
  f:close()
  local g = assert(io.open(to, "wb"))
  g:write(data)
  g:close()
  return data
end

local tmp = os.tmpname()
os.remove(tmp)
assert(lfs.mkdir(tmp))
local made = {}
local function tmpfile(name)
  made[#made + 1] = tmp .. "/" .. name
  return made[#made]
end

local beside = tmpfile("tiny_224.pt")
local checkpoint_bytes = copy_file(checkpoint, beside)
copy_file(vocab, tmpfile("vocab.txt"))
check.eq(a.find_vocab(nil, beside), tmp .. "/vocab.txt", "the vocabulary beside the checkpoint is found")
do
  local m = IR.load{checkpoint = beside, config = config, batch = 4}
  same_list(m:score(cases.prompts[1], images), batch4[1], "scores with the vocabulary beside the checkpoint")
  m:free()
end
-- A vocabulary with more ids than the text embedding has rows.
local big_vocab = tmpfile("big_vocab.txt")
copy_file(vocab, big_vocab)
local f = assert(io.open(big_vocab, "a"))
for k = 1, 5 do f:write("extra", k, "\n") end
f:close()
check.raises(function() return IR.load{checkpoint = checkpoint, config = config, vocab = big_vocab} end,
  big_vocab, "348 tokens", "343 rows")
-- No vocab.txt beside it: either none is found (the message says where it
-- looked) or bert-base-uncased's from a Hugging Face cache, too big for this model.
os.remove(tmp .. "/vocab.txt")
local err = check.raises(function() return IR.load{checkpoint = beside, config = config} end, "vocab.txt")
check.truthy(err:find(tmp .. "/vocab.txt", 1, true) or err:find("343 rows", 1, true),
  "the message says where it looked: " .. err)

-- ---- Lua errors name the file at fault ----

local truncated = tmpfile("truncated.pt")
f = assert(io.open(truncated, "wb"))
f:write(checkpoint_bytes:sub(1, #checkpoint_bytes // 3))
f:close()
local cf = assert(io.open(config, "r"))
local config_text = cf:read("a")
cf:close()
local wrong_config = tmpfile("wrong_width.json")
f = assert(io.open(wrong_config, "w"))
f:write((config_text:gsub('"width": 32', '"width": 48')))
f:close()
local broken_config = tmpfile("broken.json")
f = assert(io.open(broken_config, "w"))
f:write('{"vision": ')
f:close()

check.raises(function() return IR.load{checkpoint = truncated, config = config, vocab = vocab} end, truncated)
check.raises(function() return IR.load{checkpoint = checkpoint, config = wrong_config, vocab = vocab} end,
  checkpoint, "does not fit the model config", "[1, 1, 48]")
check.raises(function() return IR.load{checkpoint = checkpoint, config = broken_config, vocab = vocab} end,
  broken_config)
check.raises(function() return model:score(cases.prompts[1], {images[1], tmp .. "/missing.png"}) end,
  tmp .. "/missing.png")

-- ---- the command line ----

local exe = arg[-1]
local model_args = string.format("--checkpoint %s --config %s --vocab %s", shell_quote(checkpoint),
  shell_quote(config), shell_quote(vocab))
local stderr_file = tmpfile("stderr.txt")

-- Runs `aapmt score ARGS`; returns stdout, stderr and the exit status.
local function score_cli(args)
  local p = io.popen(string.format("%s score %s 2>%s; echo \"status=$?\"", shell_quote(exe), args,
    shell_quote(stderr_file)))
  local out = p:read("a")
  p:close()
  local status = tonumber(out:match("status=(%d+)\n$"))
  out = out:gsub("status=%d+\n$", "")
  local e = io.open(stderr_file, "r")
  local err = e and e:read("a") or ""
  if e then e:close() end
  return out, err, status
end

local quoted_images = {}
for i, path in ipairs(images) do quoted_images[i] = shell_quote(path) end
quoted_images = table.concat(quoted_images, " ")

for p, prompt in ipairs(cases.prompts) do
  local out, err, status = score_cli(string.format("--prompt %s %s --batch 3 %s", shell_quote(prompt),
    model_args, quoted_images))
  check.eq(status, 0, "aapmt score exit status (stderr: " .. err .. ")")
  local i = 0
  for line in out:gmatch("([^\n]*)\n") do
    i = i + 1
    local path, number = line:match("^(.-)\t(%S+)$")
    check.eq(path, images[i], "line " .. i .. " names the image")
    check.eq(string.format("%.9g", tonumber(number)), number, "the score is printed with %.9g")
    near_list({tonumber(number)}, {E.scores[p][i]}, 1e-5, "aapmt score line " .. i .. " of prompt " .. p,
      "aapmt score (absolute)")
  end
  check.eq(i, N, "one line per image")
end

do   -- --json, with a prompt that needs escaping
  local prompt = 'say "cheese" \\ ' .. cases.prompts[2] .. "\t!"
  local out, err, status = score_cli(string.format("--json --prompt %s %s %s", shell_quote(prompt),
    model_args, quoted_images))
  check.eq(status, 0, "aapmt score --json exit status (stderr: " .. err .. ")")
  local escaped = prompt:gsub("\\", "\\\\"):gsub('"', '\\"'):gsub("\t", "\\t")
  check.truthy(out:sub(1, #('{"prompt": "' .. escaped .. '", "scores": [')) ==
    '{"prompt": "' .. escaped .. '", "scores": [', "JSON prompt field: " .. out)
  check.truthy(out:sub(-3) == "]}\n", "JSON closes the list and the object")
  local i = 0
  for path, number in out:gmatch('{"image": "([^"]*)", "score": ([^}]+)}') do
    i = i + 1
    check.eq(path, images[i], "JSON image " .. i)
    check.truthy(tonumber(number), "JSON score " .. i .. " is a number")
  end
  check.eq(i, N, "one JSON entry per image")
end

-- Errors: one line naming the file, no traceback, nothing on stdout.
local function cli_fails(args, want_status, ...)
  local out, err, status = score_cli(args)
  check.eq(status, want_status, "exit status of aapmt score " .. args .. " (stderr: " .. err .. ")")
  check.eq(out, "", "nothing on stdout for aapmt score " .. args)
  check.truthy(err:sub(1, 13) == "aapmt score: ", "the message names the command: " .. err)
  check.truthy(not err:find("traceback", 1, true) and not err:find("%.lua:%d+:"), "no Lua traceback: " .. err)
  if want_status == 1 then
    check.truthy(select(2, err:gsub("\n", "")) == 1 and err:sub(-1) == "\n", "a one-line message: " .. err)
  end
  for _, fragment in ipairs({...}) do
    check.truthy(err:find(fragment, 1, true), string.format("message %q names %q", err, fragment))
  end
end

-- (Bad images among good ones: tests/lua/test_score_command.lua.)
cli_fails(string.format("--prompt cat --checkpoint %s --config %s --vocab %s %s", shell_quote(truncated),
  shell_quote(config), shell_quote(vocab), shell_quote(images[1])), 1, truncated)
cli_fails(string.format("--prompt cat --checkpoint %s --config %s --vocab %s %s", shell_quote(checkpoint),
  shell_quote(wrong_config), shell_quote(vocab), shell_quote(images[1])), 1, checkpoint, "model config")
cli_fails(string.format("--prompt cat --checkpoint %s --config %s --vocab %s %s", shell_quote(checkpoint),
  shell_quote(broken_config), shell_quote(vocab), shell_quote(images[1])), 1, broken_config)
cli_fails(string.format("%s %s", model_args, shell_quote(images[1])), 2, "--prompt")
cli_fails(string.format("--prompt cat %s", model_args), 2, "IMAGE")
cli_fails(string.format("--prompt cat --batch 0 %s %s", model_args, shell_quote(images[1])), 2, "--batch")

for i = #made, 1, -1 do os.remove(made[i]) end
assert(lfs.rmdir(tmp))

local kinds = {}
for kind in pairs(worst) do kinds[#kinds + 1] = kind end
table.sort(kinds)
for _, kind in ipairs(kinds) do print(string.format("  largest error, %s: %.2e", kind, worst[kind])) end
model:free()
print("ok")
