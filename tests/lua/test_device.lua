-- Devices from Lua: aapmt.cuda() reports the backend, the matmul precision
-- is a setting, tensors and models say where they live and move with
-- :to("cuda"), and train.run checks its `device` and `precision` options.
-- Without a GPU, every move to "cuda" fails with the reason (and the test
-- says its GPU half did not run); with one, the moved tensor and model give
-- the CPU's values.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local train = require "aapmt.train"
local a = aapmt

local here = arg[0]:match("^(.*)/") or "."
local fixtures = here .. "/../fixtures"

-- ---- the backend report ----
local c = a.cuda()
check.eq(type(c.built), "boolean", "cuda().built")
check.eq(math.type(c.devices), "integer", "cuda().devices")
check.eq(type(c.description), "string", "cuda().description")
for _, k in ipairs({"in_use", "cached", "peak"}) do
  check.truthy(type(c[k]) == "number" and c[k] >= 0, "cuda()." .. k .. " is a byte count")
end
if not c.built then check.eq(c.devices, 0, "no devices without the backend") end

check.eq(c.precision, "f32", "matmuls default to f32")
for _, p in ipairs({"tf32", "bf16", "f32"}) do
  a.set_matmul_precision(p)
  check.eq(a.cuda().precision, p, "set_matmul_precision " .. p)
end
check.raises(function() a.set_matmul_precision("fp16") end, "unknown precision 'fp16'", "bf16")

-- ---- tensors ----
local t = a.tensor({{1, 2, 3}, {4, 5, 6}})
check.eq(t:device(), "cpu", "a new tensor is on the CPU")
local same = t:to("cpu")
check.eq(same:device(), "cpu", "to('cpu') stays on the CPU")
check.eq(same:get(2, 3), 6, "to('cpu') keeps the values")
check.raises(function() return t:to("tpu") end, "tpu")

-- ---- a model ----
local net = a.imagereward_random(fixtures .. "/train_run/tiny_config.json", 3)
check.eq(net:device(), "cpu", "a new model is on the CPU")

-- ---- train.run's options ----
local base = {model = {config = fixtures .. "/train_run/tiny_config.json", seed = 7},
  vocab = fixtures .. "/tokenizer/vocab.txt", train = {}, metrics = {"quality"}, progress = false,
  out = os.tmpname()}
os.remove(base.out)   -- the options fail before the run folder is made
local function with(extra)
  local cfg = {}
  for k, v in pairs(base) do cfg[k] = v end
  for k, v in pairs(extra) do cfg[k] = v end
  return cfg
end
check.raises(function() train.run(with{device = "tpu"}) end, "option 'device' must be 'cpu' or 'cuda'", "tpu")
check.raises(function() train.run(with{precision = "fp16"}) end, "option 'precision'", "fp16")
check.raises(function() train.run(with{device = "cuda", head = function() end}) end,
  "option 'head'", "CPU only")

if c.devices == 0 then
  -- The moves fail with the reason, and leave the model usable on the CPU.
  local why = check.raises(function() return t:to("cuda") end, "cuda")
  print("no GPU: " .. why)
  check.raises(function() net:to("cuda") end, "cuda")
  check.eq(net:device(), "cpu", "a failed move leaves the model on the CPU")
  print("the GPU half of this test did not run: it needs a CUDA device (" .. c.description .. ")")
  os.exit(0)
end

-- ---- with a GPU: the same values from the device ----
local g = t:to("cuda")
check.eq(g:device(), "cuda", "to('cuda') moves")
check.eq(g:to("cpu"):get(2, 3), 6, "round trip through the GPU")
check.eq((g * 2):totable()[2][1], 8, "an op on the GPU, read back")
check.truthy(a.cuda().in_use > 0, "the allocator reports what it hands out")

local tok = a.tokenizer(fixtures .. "/tokenizer/vocab.txt")
local pixels = a.preprocess({fixtures .. "/image/rgb_32x33.png"}, net:image_size())
local ids, mask = tok:encode_batch({"a red cat"}, 35)
local function score() return a.no_grad(function() return net:forward(pixels, ids, mask) end).scores:totable() end
local host_scores = score()
net:to("cuda")
check.eq(net:device(), "cuda", "model:to('cuda')")
local gpu_scores = score()   -- forward moves the host inputs to the model's device
check.near(gpu_scores[1], host_scores[1], 1e-4, "the tiny model scores the same on the GPU")
