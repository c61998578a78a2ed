-- Training speed of ImageReward (random weights) in aapmt: the step of
-- lua/aapmt/train.lua with the decoding left out. tests/bench/train/run.sh
-- runs it next to torch_train.py, the same step in PyTorch.
--
--   build/aapmt run tests/bench/train/bench_train.lua [options]
--     --config FILE   a model config (default: ImageReward-v1.0)
--     --label NAME    the figure's name (default: full)
--     --batch N       images per step (default 1)
--     --reps N        timed steps (default 3), after --warmup N (default 1)
--     --threads N     threads (default: aapmt's own choice)
--     --free 1        free each step's outputs and loss right after backward
--                     (train.lua leaves them to the collector, which keeps
--                     a step's activations alive into the next steps)
--     --recompute 1   recompute each ViT block and BERT layer in backward
--                     (train.run{recompute = "block"}); the label gains "_rc"
--
-- One step, as train.lua's micro_batch and optimizer step: forward in
-- training mode (dropout and drop-path as configured, seeded per step),
-- AAPMT's sum-of-squared-errors loss against fixed targets, backward, Adam
-- (lr 5e-6, every parameter trainable, fix_rate 0), zero_grad. Inputs are
-- random preprocessed pixels and fixed token ids (35 tokens, 20 real), made
-- once: decoding and tokenizing are not timed.
--
-- Prints "# ..." comments, then
--   train_<label>_b<B> median <ms> ms min <ms> ms <images/s> img/s fwd <ms> bwd <ms> opt <ms>
-- (the three phases are medians of their own) and "peak_rss <MiB> MiB".
local a = aapmt

local opts = {label = "full", batch = 1, reps = 3, warmup = 1}
local i = 1
while i <= #arg do
  local key, value = arg[i]:match("^%-%-(%w+)$"), arg[i + 1]
  if not key or value == nil then error("bench_train.lua: unknown option or missing value: " .. arg[i]) end
  if key == "config" or key == "label" or key == "free" or key == "recompute" then
    opts[key] = value
  elseif key == "batch" or key == "reps" or key == "warmup" or key == "threads" then
    opts[key] = math.tointeger(tonumber(value))
    if not opts[key] or opts[key] < (key == "warmup" and 0 or 1) then
      error("bench_train.lua: --" .. key .. " wants a count, got " .. value)
    end
  else
    error("bench_train.lua: unknown option --" .. key)
  end
  i = i + 2
end
if opts.threads then a.set_num_threads(opts.threads) end

-- VmHWM: the process's resident high-water mark.
local function peak_rss_mib()
  local f = assert(io.open("/proc/self/status"))
  local kib = f:read("a"):match("VmHWM:%s*(%d+)")
  f:close()
  return tonumber(kib) / 1024
end

local function median(list)
  local s = {table.unpack(list)}
  table.sort(s)
  local n = #s
  return n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
end

-- The ids torch_train.py uses too: [CLS]=101 ... [SEP]=102, then padding.
local function token_ids(B, V)
  local ids, mask = {}, {}
  for b = 0, B - 1 do
    local row, mrow = {}, {}
    for j = 0, 34 do
      local id = 0
      if j == 0 then id = 101 % V
      elseif j == 19 then id = 102 % V
      elseif j < 19 then id = 103 + (b * 37 + j * 101) % (V - 103) end
      row[j + 1], mrow[j + 1] = id, j < 20 and 1 or 0
    end
    ids[b + 1], mask[b + 1] = row, mrow
  end
  return a.tensor(ids, "i64"), a.tensor(mask, "i64")
end

local B = opts.batch
local recompute = opts.recompute == "1"
if recompute then opts.label = opts.label .. "_rc" end
local started = a.clock()
local net = a.imagereward_random(opts.config, 1234)
local cfg = net:config()
local params = {}
for k, p in ipairs(net:parameters()) do
  p.tensor.requires_grad = true
  params[k] = p.tensor
end
local opt = a.adam(params, {lr = 5e-6})
local S = net:image_size()
local pixels = a.randn({B, 3, S, S}, {seed = 99})
local ids, mask = token_ids(B, cfg.text.vocab_size)
local y = {}
for b = 1, B do y[b] = (b - 1) % 5 + 0.5 end
local target = a.tensor(y)
io.write(string.format("# aapmt %s, %d threads, OpenBLAS core %s\n", a.version, a.get_num_threads(),
  os.getenv("OPENBLAS_CORETYPE") or "default"))
io.write(string.format("# %s, random init %.1f s\n", tostring(net), a.clock() - started))
io.write(string.format("# %s batch %d: %d reps after %d warm-up%s\n", opts.label, B, opts.reps, opts.warmup,
  (opts.free == "1" and ", outputs freed after backward" or "") .. (recompute and ", blocks recomputed" or "")))
io.flush()

local total, fwd, bwd, upd = {}, {}, {}, {}
for step = 1 - opts.warmup, opts.reps do
  local t0 = a.clock()
  local out = net:forward(pixels, ids, mask, {training = true, seed = step + 1000, recompute = recompute})
  local loss = a.sse_loss(out.scores, target)
  local value = loss:item()
  local t1 = a.clock()
  loss:backward()
  local t2 = a.clock()
  opt:step()
  opt:zero_grad()
  local t3 = a.clock()
  if opts.free == "1" then
    loss:free()
    for _, t in pairs(out) do t:free() end
  end
  out, loss = nil, nil
  if step == 1 - opts.warmup then io.write(string.format("# first loss %.9g\n", value)) end
  if step >= 1 then
    total[step], fwd[step], bwd[step], upd[step] = (t3 - t0) * 1e3, (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3
  end
end
local ms = median(total)
table.sort(total)
io.write(string.format("%-16s median %10.1f ms  min %10.1f ms  %8.3f img/s  fwd %.1f bwd %.1f opt %.1f\n",
  string.format("train_%s_b%d", opts.label, B), ms, total[1], B / (ms * 1e-3), median(fwd), median(bwd),
  median(upd)))
io.write(string.format("# live tensor memory after the steps: %.0f MiB\n", a.memory() / 2 ^ 20))
io.write(string.format("peak_rss %.0f MiB\n", peak_rss_mib()))
