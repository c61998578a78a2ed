-- Mistakes are found before any work: every file and variant of a batch is
-- planned first, and a misspelt metric or task, a missing model_config, a
-- targets table of the wrong form, an unknown start experiment, a bad paper
-- filter or a mistyped override stops the batch before anything runs. Each
-- message names the experiment file and line (an override: the command
-- line and the key), says "did you mean" where it can, and carries no
-- source path of aapmt itself.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local lfs = require "lfs"
local files = require "files"
local folder = require "aapmt.run_folder"

local here = files.absolute(arg[0]:match("^(.*)/") or ".")
local fixtures = here .. "/../fixtures"
local aapmt_bin = files.absolute(arg[-1])
local tmp = os.tmpname()
os.remove(tmp)
assert(lfs.mkdir(tmp))
assert(lfs.mkdir(tmp .. "/exp"))
local runs = tmp .. "/runs"

local function run(args)
  local out, err = tmp .. "/stdout", tmp .. "/stderr"
  local _, _, status = os.execute(string.format("cd %q && AAPMT_RUNS=%q AAPMT_CACHE=%q %q %s >%q 2>%q </dev/null",
    tmp, runs, tmp .. "/cache", aapmt_bin, args, out, err))
  return status, folder.read(out) or "", folder.read(err) or ""
end

local csv = tmp .. "/ratings.csv"
local lines = {"name,prompt,mos_quality,mos_align\n"}
for i, f in ipairs({"rgb_224x224.jpg", "rgb_32x33.png", "grey.jpg", "palette_50x40.png", "rgb_37x23.png",
  "rgba_45x67.png", "rgb_35x32.png", "la_40x52.png"}) do
  lines[#lines + 1] = string.format("%s,prompt %d,%d,%d\n", f, (i + 1) // 2, i * 37 % 8, (i * 5) % 8)
end
folder.write_atomic(csv, table.concat(lines))
local function database(targets)
  return string.format("database = {kind = \"csv\", csv = %q, images = %q, targets = %s},\n", csv,
    fixtures .. "/image", targets or '{"mos_quality", "mos_align"}')
end
local common = string.format([[
  model_config = %q, vocab = %q, split = {train_fraction = 0.5}, plot = false,
]], fixtures .. "/train_run/tiny_config.json", fixtures .. "/tokenizer/vocab.txt")

local function write(name, body)
  local path = tmp .. "/exp/" .. name .. ".lua"
  folder.write_atomic(path, "return aapmt.experiment{\n" .. body .. "}\n")
  return path
end

-- A good experiment, sorted first: it must not run while another is wrong.
local random = "  start = \"random\",\n"
write("good", database() .. common .. random .. "  train = {metrics = {\"quality\"}, epochs = 1, batch_size = 2},\n")

-- Each mistake: the file (line 1 is "return aapmt.experiment{"), the
-- fragments its message must have.
local mistakes = {
  {"metric", database() .. common .. random .. "  train = {metrics = {\"qualty\"}},\n",
    {"metric.lua:5: experiment 'metric': train.metrics[1]: unknown metric 'qualty' (did you mean 'quality'?)"}},
  {"task", database() .. common .. random .. "  train = false,\n  evaluate = {tasks = {\"qualiti\"}},\n",
    {"task.lua:6: experiment 'task': unknown task 'qualiti' (did you mean 'quality'?)"}},
  {"config", database() .. "  start = \"random\", model_config = \"missing.json\", plot = false,\n  train = false,\n",
    {"config.lua:3: experiment 'config': model_config " .. tmp .. "/exp/missing.json does not exist"}},
  {"targets", database('{quality = "mos_quality"}') .. common .. random .. "  train = false,\n",
    {"targets.lua:2: experiment 'targets': database.targets must be a list of column names",
     "found quality = \"mos_quality\""}},
  {"column", database('{"mos_qualty"}') .. common .. random .. "  train = false,\n",
    {"column.lua:2: experiment 'column':", "mos_qualty"}},
  {"upstream", database() .. common .. "  start = {experiment = \"goood\"},\n  train = false,\n",
    {"upstream.lua:4: experiment 'upstream': start: no experiment named 'goood'", "(did you mean 'good'?)"}},
  {"paper", database() .. common .. random .. "  train = false,\n  paper = {tabel = \"table2\"},\n",
    {"paper.lua:6: experiment 'paper': paper.find: unknown field 'tabel'"}},
  {"optimizer", database() .. common .. random .. "  train = {optimizer = \"sgd\"},\n",
    {"optimizer.lua:5: experiment 'optimizer': optimizer kind must be 'adam' or 'adamw', got 'sgd'"}},
  {"loss", database() .. common .. random .. "  train = {loss = \"l1\"},\n",
    {"loss.lua:5: experiment 'loss': option 'loss' must be 'sse' or 'mse', got 'l1'"}},
  {"schedule", database() .. common .. random .. "  train = {schedule = {kind = \"cosin\"}},\n",
    {"schedule.lua:5: experiment 'schedule':", "cosin"}},
  {"weights", database() .. common .. random .. "  train = {metrics = {\"quality\", \"align\"}, loss_weights = {1}},\n",
    {"weights.lua:5: experiment 'weights': option 'loss_weights' must be \"dynamic\" or a list of 2 positive numbers"}},
  {"nometric", database() .. common .. random .. "  train = {metrics = {}},\n",
    {"nometric.lua:5: experiment 'nometric': train.metrics must name at least one metric"}},
  {"unnamed", database() .. common .. random .. "  train = {metrics = {{text = \"x\"}}},\n",
    {"unnamed.lua:5: experiment 'unnamed': train.metrics[1] needs name = \"...\""}},
  {"headlist", database() .. common .. random .. "  head = {kind = \"metric_attention\", metrics = \"quality\"},\n  train = false,\n",
    {"headlist.lua:5: experiment 'headlist': head.metrics must be a list of metric names"}},
  {"cycle", database() .. common .. "  start = {experiment = \"cycle\"},\n  train = false,\n",
    {"cycle.lua: experiments depend on each other in a cycle: cycle -> cycle"}},
  {"selfcompare", database() .. common .. random .. "  train = false,\n  sweep = {seed = {1, 2}},\n  compare = {{variant = \"seed=3\"}},\n",
    {"selfcompare.lua:7: experiment 'selfcompare': compare[1]: experiment 'selfcompare' has no variant 'seed=3' (its variants: seed=1; seed=2)"}},
  {"emptycompare", database() .. common .. random .. "  train = false,\n  compare = {{}},\n",
    {"emptycompare.lua:6: experiment 'emptycompare': compare[1] needs experiment= or variant="}},
  {"nnerror", "  head = require(\"aapmt.nn\").Linear(0, 1),\n" .. database() .. common .. random .. "  train = false,\n",
    {"nnerror.lua: ", "nn.Linear"}},
}

for _, m in ipairs(mistakes) do
  local name, body, fragments = m[1], m[2], m[3]
  write(name, body)
  local status, out, err = run(string.format("batch %q", tmp .. "/exp"))
  check.eq(status, 1, name .. ": the batch fails")
  for _, fragment in ipairs(fragments) do
    check.truthy(out:find(fragment, 1, true), name .. ": the message has " .. fragment .. "\n" .. out)
  end
  check.truthy(err:find("nothing was run", 1, true), name .. ": said: " .. err)
  check.truthy(not folder.exists(runs .. "/good"), name .. ": the good experiment did not run")
  check.truthy(not folder.exists(runs .. "/.databases") and not folder.exists(runs .. "/" .. name),
    name .. ": no work was done")
  for _, text in ipairs({out, err}) do
    check.truthy(not text:find("lua/aapmt/", 1, true) and not text:find(":0:", 1, true),
      name .. ": no aapmt source path, no line 0: " .. text)
  end
  -- `aapmt run FILE` finds the same mistake
  status, out, err = run(string.format("run %q", tmp .. "/exp/" .. name .. ".lua"))
  check.eq(status, 1, name .. ": aapmt run fails")
  -- (aapmt run runs the file as a script first: an error of its own code
  -- shows where it is in the file, with a traceback)
  local said = name == "nnerror" and "nnerror.lua:2: in main chunk" or fragments[1]
  check.truthy(err:find(said, 1, true), name .. ": aapmt run says it: " .. err)
  os.remove(tmp .. "/exp/" .. name .. ".lua")
end

-- Overrides: the command line and the key are named, never a line.
local overrides = {
  {"epoch=2", "command line: 'epoch=2': unknown key 'epoch' (did you mean 'epochs'?)"},
  {"train.lrr=1", "command line: 'train.lrr=1': unknown key 'train.lrr' (did you mean 'lr'?)"},
  {"seed=abc", "command line: 'seed=abc': 'seed' must be integer, got string"},
  {"metrics=qualty", "command line: 'metrics=qualty': train.metrics[1]: unknown metric 'qualty' (did you mean 'quality'?)"},
  {"head=cnn", "command line: 'head=cnn': head 'cnn' is not 'mlp', 'coded' or 'metric_attention'"},
}
for _, o in ipairs(overrides) do
  local status, out, err = run(string.format("batch %q %s", tmp .. "/exp", o[1]))
  check.eq(status, 1, o[1] .. ": the batch fails")
  check.truthy(out:find(o[2], 1, true), o[1] .. ": " .. out)
  check.truthy(not (out .. err):find("lua/aapmt/", 1, true) and not (out .. err):find("good.lua:", 1, true),
    o[1] .. ": names the command line, not a file line: " .. out)
  check.truthy(not folder.exists(runs .. "/good"), o[1] .. ": nothing ran")
end

-- A sweep's variants compared with one of them (Table 2's form) run.
write("swept", database() .. string.format([[
  model_config = %q, vocab = %q, plot = false, start = "random",
  split = {seed = 5, train_fraction = 0.5},   -- one split for both seeds: the same held-out rows
  train = false, sweep = {seed = {1, 2}}, compare = {{variant = "seed=2"}},
]], fixtures .. "/train_run/tiny_config.json", fixtures .. "/tokenizer/vocab.txt"))
local status, out, err = run(string.format("batch %q", tmp .. "/exp/swept.lua"))
check.eq(status, 0, "a sweep compared with its own variant: " .. out .. err)
local compared = folder.read_lua(runs .. "/swept/seed=1/result.lua").comparisons[1]
check.eq(compared.name .. " " .. compared.variant, "swept seed=2", "seed=1 is compared with seed=2")
check.truthy(#compared.tasks > 0 and compared.tasks[1].difference, "with paired intervals")
check.eq(#folder.read_lua(runs .. "/swept/seed=2/result.lua").comparisons, 0, "seed=2 is not compared with itself")
os.remove(tmp .. "/exp/swept.lua")
files.remove_tree(runs)

-- With every mistake gone, the batch runs.
status, out, err = run(string.format("batch %q", tmp .. "/exp"))
check.eq(status, 0, "the good experiment runs: " .. out .. err)
check.truthy(out:find("1 experiment runs: 1 done", 1, true), out)

-- A mistake made later, with --clean: found before anything is removed.
write("good", database() .. common .. random .. "  train = {metrics = {\"quality\"}, epochs = 1, batch_size = 2, "
  .. "loss = \"l1\"},\n")
status, out = run(string.format("batch --clean %q", tmp .. "/exp"))
check.eq(status, 1, "the mistake is found: " .. out)
check.truthy(folder.exists(runs .. "/good/result.lua"), "and the earlier run is still there")

files.remove_tree(tmp)
