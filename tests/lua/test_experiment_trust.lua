-- Experiments you can trust: a rerun reflects every edit. On the demo
-- database, a quality model swept over two seeds and a transfer chain
-- started from it; each edit redoes exactly what it changes: lr, epochs
-- and the start experiment retrain (the old folder moved aside, its
-- checkpoints gone), an evaluation prompt rescores without training, no
-- edit reruns nothing, --force and --clean; a ratings CSV edited in place
-- retrains; `aapmt train --resume` with a changed option is refused naming
-- it; the results carry bootstrap intervals, the sweep its mean ± sd.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local lfs = require "lfs"
local files = require "files"
local folder = require "aapmt.run_folder"

local here = files.absolute(arg[0]:match("^(.*)/") or ".")
local fixtures = here .. "/../fixtures"
local tiny_model = here .. "/../../experiments/demo/tiny_model.json"
local aapmt_bin = files.absolute(arg[-1])
local tmp = os.tmpname()
os.remove(tmp)
assert(lfs.mkdir(tmp))
assert(lfs.mkdir(tmp .. "/exp"))
local runs = tmp .. "/runs"

-- Runs `aapmt ARGS` in tmp; returns the exit status, stdout and stderr.
local function run(args)
  local out, err = tmp .. "/stdout", tmp .. "/stderr"
  local _, _, status = os.execute(string.format("cd %q && AAPMT_RUNS=%q AAPMT_CACHE=%q %q %s >%q 2>%q </dev/null",
    tmp, runs, tmp .. "/cache", aapmt_bin, args, out, err))
  return status, folder.read(out) or "", folder.read(err) or ""
end

local function batch(extra)
  return run(string.format("batch %q %s", tmp .. "/exp", extra or ""))
end

local function counts(out)
  local done, current = out:match("experiment runs: (%d+) done, (%d+) up to date")
  return tonumber(done), tonumber(current)
end

local function write_exp(name, body)
  folder.write_atomic(tmp .. "/exp/" .. name .. ".lua", "return aapmt.experiment{\n" .. body .. "}\n")
end

local function result(path) return folder.read_lua(runs .. "/" .. path .. "/result.lua") end

local function superseded(dir)
  local found = {}
  for name in lfs.dir(dir) do
    if name:find("%.superseded%-") then found[#found + 1] = dir .. "/" .. name end
  end
  table.sort(found)
  return found
end

local demo = string.format([[
  database = {demo = {images = 96, size = 32, seed = 7, per_prompt = 2}},
  start = "random", model_config = %q, plot = false,
  evaluate = {protocols = {"test"}, batch_size = 32},
]], tiny_model)

local function quality(lr, epochs, prompt)
  write_exp("quality", demo .. string.format([[
  sweep = {seed = {1, 2}},
  train = {metrics = {"quality"}, epochs = %d, batch_size = 16, lr = %s, loss = "mse", max_length = 24},
  evaluate = {tasks = {"quality"}, protocols = {"test"}, batch_size = 32,
    prompts = {{name = "vivid", text = %q, target = "mos_quality"}}},
]], epochs, lr, prompt))
end
quality("1e-3", 1, "vivid details")
-- The transfer: each seed's quality model, trained on for alignment, and
-- compared with its start on the same held-out rows.
write_exp("transfer", demo .. [[
  sweep = {seed = {1, 2}},
  start = {experiment = "quality"},
  train = {metrics = {"align"}, epochs = 1, batch_size = 16, lr = 1e-3, loss = "mse", max_length = 24},
  compare = {"quality"},
]])

-- ---- the first batch: everything; intervals, comparisons, the sweep ----
local status, out, err = batch()
check.eq(status, 0, "first batch: " .. out .. err)
check.eq(counts(out), 4, "four variants ran: " .. out)
local q1 = result("quality/seed=1")
local s = q1.results.test.quality
check.truthy(s.ci and s.ci.srcc.low <= s.srcc and s.srcc <= s.ci.srcc.high, "SRCC inside its 95% interval")
check.truthy(s.ci.plcc.low < s.ci.plcc.high and s.ci.krcc.low < s.ci.krcc.high, "PLCC and KRCC intervals")
check.eq(s.ci.srcc.resamples or q1.results.test.quality.ci.resamples, 1000, "1000 resamples")
local within = q1.comparisons[1]
check.eq(within.tasks[1].task, "vivid", "an extra prompt is compared with its task's text")
local t1 = result("transfer/seed=1")
local c = t1.comparisons[1]
check.eq(c.name .. " " .. c.variant, "quality seed=1", "the transfer is compared with its own start")
local d = c.tasks[1].difference.srcc
check.truthy(d.low <= d.value and d.value <= d.high, "paired difference inside its interval")
check.near(d.value, t1.results.test.quality.srcc - q1.results.test.quality.srcc, 1e-12, "the difference is ours - theirs")
local sweep_report = folder.read(runs .. "/quality/report.md")
check.truthy(sweep_report and sweep_report:find("## Over seed 1, 2", 1, true), "the sweep's report: " .. tostring(sweep_report))
local q2 = result("quality/seed=2")
local mean = (q1.results.test.quality.srcc + q2.results.test.quality.srcc) / 2
check.truthy(sweep_report:find(string.format("%.4f ±", mean), 1, true), "mean over seeds " .. mean .. ": " .. sweep_report)
local summary = folder.read(runs .. "/summary.md")
check.truthy(summary:find("## Over replicates", 1, true) and summary:find("| quality |  | seed=1,2 | test | quality | srcc | "
  .. string.format("%.4f", mean), 1, true), "the summary aggregates seeds: " .. summary)
local report = folder.read(runs .. "/quality/seed=1/report.md")
for _, part in ipairs({"## The run", "| split | content-isolated, seed 1", "| fingerprints | result `",
  "lr = 0.001", "## Held-out test rows", "## Compared on the same held-out rows"}) do
  check.truthy(report:find(part, 1, true), "report.md has " .. part .. ":\n" .. report)
end
local cfg = folder.read_lua(runs .. "/quality/seed=1/train/config.lua")
check.eq(cfg.fingerprint, q1.train_fingerprint, "config.lua records the training fingerprint")
check.eq(cfg.optimizer.lr, 1e-3, "config.lua records the lr")

-- ---- no edit: nothing reruns, the summary is left as it was ----
local summary_before = folder.read(runs .. "/summary.md")
status, out = batch()
check.eq(status, 0, "second batch")
check.eq(select(2, counts(out)), 4, "all up to date: " .. out)
check.eq(folder.read(runs .. "/summary.md"), summary_before, "an invocation that ran nothing leaves the summary")
-- Recomputation gives the same gradients: it is no part of what a result depends on.
status, out = batch("recompute=block")
check.eq(status, 0, "recompute=block")
check.eq(select(2, counts(out)), 4, "recompute=block: all up to date: " .. out)
status, out, err = batch("recompute=layer")
check.truthy(status ~= 0 and (out .. err):find("recompute", 1, true), "a bad recompute is named: " .. out .. err)

-- ---- an evaluation prompt: rescored, not retrained ----
-- (the transfers, compared with quality's results, are rescored too)
local steps_before = folder.read(runs .. "/quality/seed=1/train/steps.csv")
local transfer_steps = folder.read(runs .. "/transfer/seed=1/train/steps.csv")
quality("1e-3", 1, "very vivid details")
status, out, err = batch()
check.eq(status, 0, "prompt edit: " .. err)
check.eq(counts(out), 4, "quality rescores, and the transfers compared with it: " .. out)
check.truthy(err:find("quality [seed=1]: reusing its trained model", 1, true), "said: " .. err)
check.truthy(err:find("transfer [seed=2]: reusing its trained model", 1, true), "said: " .. err)
check.eq(folder.read(runs .. "/quality/seed=1/train/steps.csv"), steps_before, "no training step redone")
check.eq(folder.read(runs .. "/transfer/seed=1/train/steps.csv"), transfer_steps, "nor in the transfer")
check.eq(#superseded(runs .. "/quality"), 0, "nothing moved aside for a rescore")
check.truthy(result("quality/seed=1").spec["evaluate.prompts"]:find("very vivid details", 1, true), "new prompt")

-- ---- lr: both quality seeds retrain, and so do the transfers started from them ----
local trained_before = folder.read(runs .. "/quality/seed=1/scores.csv")
quality("8e-4", 1, "very vivid details")
status, out, err = batch()
check.eq(status, 0, "lr edit: " .. err)
check.eq(counts(out), 4, "the lr edit retrains quality and its transfers: " .. out)
check.truthy(err:find("quality [seed=1]: the training changed (train.lr 0.001 → 0.0008): training afresh", 1, true),
  "the change is named: " .. err)
check.truthy(err:find("transfer [seed=1]: the training changed (start experiment quality [seed=1], trained ", 1, true),
  "the transfer names its changed start: " .. err)
local moved = superseded(runs .. "/quality")
check.eq(#moved, 2, "each quality seed's old folder is moved aside")
check.truthy(folder.exists(moved[1] .. "/report.md") and folder.exists(moved[1] .. "/train/model.safetensors"),
  "the old folder keeps its report and final model")
check.truthy(not folder.exists(moved[1] .. "/train/checkpoints"), "and loses its checkpoints")
check.truthy(folder.read(runs .. "/quality/seed=1/scores.csv") ~= trained_before, "the numbers change")
cfg = folder.read_lua(runs .. "/quality/seed=1/train/config.lua")
check.eq(cfg.optimizer.lr, 8e-4, "config.lua says the lr that trained it")
check.truthy(not folder.read(runs .. "/quality/seed=1/train/log.txt"):find("resume", 1, true), "trained afresh")
check.truthy(not folder.read(runs .. "/summary.md"):find("not listed", 1, true), "every result current")

-- ---- epochs, with --clean: retrained, the old folders removed ----
quality("8e-4", 2, "very vivid details")
status, out, err = batch("--clean")
check.eq(status, 0, "epochs edit: " .. err)
check.eq(counts(out), 4, "epochs retrain: " .. out)
check.truthy(err:find("train.epochs 1 → 2", 1, true) and err:find("(--clean", 1, true), err)
check.eq(#superseded(runs .. "/quality"), 2, "--clean leaves no new superseded folder")
check.eq(result("quality/seed=2").train.steps, 10, "two epochs of 5 steps")

-- ---- --force: retrained though up to date ----
status, out, err = run(string.format("batch --force --clean %q", tmp .. "/exp/quality.lua"))
check.eq(status, 0, "--force: " .. err)
check.eq(counts(out), 2, "--force retrains: " .. out)
check.truthy(err:find("--force: training afresh", 1, true), err)

-- ---- a summary over every current result; a changed file's results drop out ----
status, out = batch()
check.eq(select(2, counts(out)), 4, "the forced quality runs are current; transfers too: " .. out)
write_exp("other", demo .. [[
  train = false, evaluate = {tasks = {"quality"}, protocols = {"test"}},
]])
status, out, err = run(string.format("batch %q", tmp .. "/exp/other.lua"))
check.eq(status, 0, "another file alone: " .. err)
summary = folder.read(runs .. "/summary.md")
check.truthy(summary:find("| other |", 1, true) and summary:find("| transfer | seed=2 |", 1, true),
  "the summary holds results of files this run did not name: " .. summary)
quality("5e-4", 2, "very vivid details")   -- edited, not rerun
os.remove(runs .. "/other/result.lua")
status, out = run(string.format("batch %q", tmp .. "/exp/other.lua"))
summary = folder.read(runs .. "/summary.md")
check.truthy(not summary:find("| quality | seed=1 |", 1, true), "a result whose file changed is not listed")
check.truthy(summary:find("4 results under this folder are not listed", 1, true),
  "counted (quality's and the transfers'): " .. summary)
check.truthy(not summary:find("superseded", 1, true), "superseded folders are never listed")

-- ---- a ratings CSV edited in place retrains ----
do
  local csv = tmp .. "/ratings.csv"
  local names = {"rgb_224x224.jpg", "rgb_32x33.png", "grey.jpg", "palette_50x40.png", "rgb_37x23.png",
    "rgba_45x67.png", "rgb_35x32.png", "la_40x52.png"}
  local function write_csv(bump)
    local lines = {"name,prompt,mos_quality\n"}
    for i, f in ipairs(names) do
      lines[#lines + 1] = string.format("%s,prompt %d,%g\n", f, (i + 1) // 2, (i * 37 % 8) / 2 + (i == 1 and bump or 0))
    end
    folder.write_atomic(csv, table.concat(lines))
  end
  write_csv(0)
  write_exp("csv", string.format([[
  database = {kind = "csv", csv = %q, images = %q, targets = {"mos_quality"}},
  start = "random", model_config = %q, vocab = %q, split = {train_fraction = 0.5}, plot = false,
  train = {metrics = {"quality"}, epochs = 1, batch_size = 2, lr = 1e-3},
]], csv, fixtures .. "/image", fixtures .. "/train_run/tiny_config.json", fixtures .. "/tokenizer/vocab.txt"))
  status, out, err = run(string.format("batch %q", tmp .. "/exp/csv.lua"))
  check.eq(counts(out), 1, "csv experiment: " .. out .. err)
  status, out = run(string.format("batch %q", tmp .. "/exp/csv.lua"))
  check.eq(select(2, counts(out)), 1, "unchanged CSV: up to date")
  write_csv(0.5)
  status, out, err = run(string.format("batch %q", tmp .. "/exp/csv.lua"))
  check.eq(counts(out), 1, "an edited CSV retrains: " .. out)
  check.truthy(err:find("the training changed (database ", 1, true), "the database is named: " .. err)
  -- the text a trained metric feeds is training: an edit retrains
  local text = folder.read(tmp .. "/exp/csv.lua"):gsub('metrics = {"quality"}',
    'metrics = {{name = "quality", text = "a sharp photo"}}')
  folder.write_atomic(tmp .. "/exp/csv.lua", text)
  status, out, err = run(string.format("batch %q", tmp .. "/exp/csv.lua"))
  check.eq(counts(out), 1, "an edited metric text retrains: " .. out)
  check.truthy(err:find("the training changed (train.metrics ", 1, true), "the metrics are named: " .. err)
end

-- ---- a report over other results is current in the summary; a train/
-- folder left without a checkpoint (a run stopped before its first step)
-- is started over, not moved aside ----
do
  local exp2 = tmp .. "/exp2"
  assert(lfs.mkdir(exp2))
  folder.write_atomic(exp2 .. "/base.lua", "return aapmt.experiment{\n" .. demo .. [[
  train = {metrics = {"quality"}, epochs = 1, batch_size = 16, lr = 1e-3, loss = "mse", max_length = 24},
  evaluate = {tasks = {"quality"}, protocols = {"test"}},
}
]])
  folder.write_atomic(exp2 .. "/overview.lua", [[
return aapmt.experiment{database = false, needs = {"base"},
  report = function(ctx) return #ctx.results("base") .. " result\n" end}
]])
  local runs2 = tmp .. "/runs2"
  lfs.mkdir(runs2)
  lfs.mkdir(runs2 .. "/base")
  lfs.mkdir(runs2 .. "/base/train")
  folder.write_atomic(runs2 .. "/base/train/log.txt", "a run stopped before its first checkpoint\n")
  local function batch2()
    local _, _, code = os.execute(string.format("cd %q && AAPMT_RUNS=%q AAPMT_CACHE=%q %q batch %q >%q 2>%q", tmp,
      runs2, tmp .. "/cache", aapmt_bin, exp2, tmp .. "/stdout", tmp .. "/stderr"))
    return code, folder.read(tmp .. "/stdout"), folder.read(tmp .. "/stderr")
  end
  status, out, err = batch2()
  check.eq(status, 0, "base and its overview: " .. out .. err)
  check.eq(#superseded(runs2), 0, "a train/ folder without a checkpoint is not moved aside: " .. err)
  check.truthy(folder.read(runs2 .. "/overview/report.md"):find("1 result", 1, true), "the overview reads base")
  summary = folder.read(runs2 .. "/summary.md")
  check.truthy(not summary:find("not listed", 1, true), "the overview's result is current: " .. summary)
  status, out = batch2()
  check.eq(select(2, counts(out)), 2, "both up to date: " .. out)
end

-- ---- aapmt train --resume with a changed option is refused, naming it ----
do
  local run_file = tmp .. "/run.lua"
  local function write_run(stop)
    folder.write_atomic(run_file, string.format([[
local rows = {}
for i, name in ipairs({"rgb_224x224.jpg", "rgb_32x33.png", "grey.jpg", "palette_50x40.png"}) do
  rows[i] = {name = name, image = %q .. "/" .. name, prompt = "p" .. i, targets = {mos_quality = i}}
end
return {model = {config = %q, seed = 3}, vocab = %q, train = rows, test = rows, metrics = {"quality"},
  optimizer = {kind = "adam", lr = 1e-3}, epochs = 3, batch_size = 1, out = %q, checkpoint_every = 1,
  stop_after_steps = %s}
]], fixtures .. "/image", fixtures .. "/train_run/tiny_config.json", fixtures .. "/tokenizer/vocab.txt",
      tmp .. "/trained", stop))
  end
  write_run("5")
  status, out, err = run(string.format("train %q --no-progress", run_file))
  check.eq(status, 0, "a stopped run: " .. err)
  write_run("nil")
  status, out, err = run(string.format("train %q --resume --lr 0.5 --epochs 4 --no-progress", run_file))
  check.eq(status, 1, "a resume with other options is refused: " .. err)
  check.truthy(err:find("optimizer.lr: 0.001 (the run) -> 0.5 (now)", 1, true) and err:find("epochs: 3 (the run) -> 4 (now)",
    1, true), "each differing option is named, old and new: " .. err)
  check.truthy(err:find("To start afresh, remove " .. tmp .. "/trained", 1, true), "and what to do: " .. err)
  status, out, err = run(string.format("train %q --resume --threads 1 --no-progress", run_file))
  check.eq(status, 0, "the same options resume (threads may change): " .. err)
  check.truthy(folder.read(tmp .. "/trained/log.txt"):find("from step 5", 1, true), "resumed from step 5")
  cfg = folder.read_lua(tmp .. "/trained/config.lua")
  check.eq(#cfg.stretches, 2, "config.lua records both stretches")
  check.eq(cfg.stretches[2].from_step, 5, "the second from step 5")
  check.eq(cfg.stretches[2].threads, 1, "with its own thread count")
  check.eq(cfg.optimizer.lr, 1e-3, "the options stay the ones that trained it")
end

files.remove_tree(tmp)
