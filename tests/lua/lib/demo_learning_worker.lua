-- One training of tests/lua/test_demo_learning.lua, in a process of its own
-- so the two metrics train at once, one core each:
--   aapmt run demo_learning_worker.lua METRIC DB_DIR OUT_DIR EPOCHS CONFIG
-- DB_DIR holds a written demo database (demo.csv, images/, vocab.txt), read
-- as any rating CSV is.
-- Prints one line: "result METRIC SRCC PLCC N STEPS SECONDS".
local train = require "aapmt.train"
local a = aapmt

local metric, db_dir, out, epochs, config = arg[1], arg[2], arg[3], tonumber(arg[4]), arg[5]
local SEED = 42

local data = a.dataset{csv = db_dir .. "/demo.csv", images = db_dir .. "/images", targets = {"mos_" .. metric}}

local t0 = a.clock()
local result = train.run{
  model = {config = config, seed = 1, init = "from_scratch"},   -- fan-in stds (imagereward.h)
  vocab = db_dir .. "/vocab.txt",
  data = data, split = {seed = SEED},        -- held-out prompts
  metrics = {metric},
  optimizer = {kind = "adam", lr = 1e-3},
  schedule = {kind = "cosine", warmup = 100},
  loss = "mse", batch_size = 32, epochs = epochs, max_length = 24,
  seed = SEED, threads = 1, eval_every = false, progress = false, out = out,
}
local m = result.metrics[metric]
print(string.format("result %s %.6f %.6f %d %d %.1f", metric, m.srcc, m.plcc, m.n, result.steps, a.clock() - t0))
