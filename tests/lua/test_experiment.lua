-- Experiment files and `aapmt batch`: declarations checked with file and
-- line, overrides and sweeps, a transfer chain run in dependency order,
-- results reused when up to date and redone when the file changes, a
-- failure reported while the others go on, `aapmt run FILE key=value`.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local lfs = require "lfs"
local files = require "files"
local folder = require "aapmt.run_folder"
local experiment = require "aapmt.experiment"
local a = aapmt

local absolute = files.absolute
local here = absolute(arg[0]:match("^(.*)/") or ".")
local fixtures = here .. "/../fixtures"
local aapmt_bin = absolute(arg[-1])
local tmp = os.tmpname()
os.remove(tmp)
assert(lfs.mkdir(tmp))
assert(lfs.mkdir(tmp .. "/exp"))
local runs = tmp .. "/runs"

local function run(args)
  local out, err = tmp .. "/stdout", tmp .. "/stderr"
  local _, _, status = os.execute(string.format("AAPMT_RUNS=%q %q %s >%q 2>%q </dev/null", runs, aapmt_bin, args,
    out, err))
  return status, folder.read(out) or "", folder.read(err) or ""
end

-- A small database: fixture images, two prompts a pair.
local csv = tmp .. "/ratings.csv"
local files = {"rgb_224x224.jpg", "rgb_32x33.png", "grey.jpg", "palette_50x40.png", "rgb_37x23.png",
  "rgba_45x67.png", "rgb_35x32.png", "la_40x52.png"}
local lines = {"name,prompt,mos_quality,mos_align\n"}
for i, f in ipairs(files) do
  lines[#lines + 1] = string.format("%s,prompt %d,%g,%g\n", f, (i + 1) // 2, (i * 37 % 8) / 2, (i * 5 % 8) / 3)
end
folder.write_atomic(csv, table.concat(lines))

local common = string.format([[
  database = {kind = "csv", csv = %q, images = %q, targets = {"mos_quality", "mos_align"}},
  model_config = %q, vocab = %q, split = {train_fraction = 0.5}, plot = false,
]], csv, fixtures .. "/image", fixtures .. "/train_run/tiny_config.json", fixtures .. "/tokenizer/vocab.txt")

local function write_exp(name, body)
  folder.write_atomic(tmp .. "/exp/" .. name .. ".lua", "return aapmt.experiment{\n" .. common .. body .. "}\n")
end
write_exp("a_quality", [[
  start = "random", train = {metrics = {"quality"}, epochs = 2, batch_size = 2, lr = 1e-3},
]])
-- Sorted first, but runs after a_quality, whose model it starts from.
write_exp("0_transfer", [[
  name = "transfer", start = {experiment = "a_quality"},
  train = {metrics = {"align"}, epochs = 1, batch_size = 2, lr = 1e-3},
]])
write_exp("raw", [[
  start = "random", train = false, sweep = {seed = {1, 2}},
  evaluate = {prompts = {{name = "vivid", text = "with vivid details"}}},
]])

-- ---- the first batch runs everything, in order ----
local status, out, err = run(string.format("batch %q", tmp .. "/exp"))
check.eq(status, 0, "batch succeeds: " .. out .. err)
check.truthy(out:find("4 experiment runs: 4 done, 0 up to date, 0 failed, 0 waiting for inputs", 1, true), out)
local order = {}
for name in ("\n" .. err):gmatch("\nrun ([%w_]+)") do order[#order + 1] = name end
check.eq(table.concat(order, ","), "a_quality,transfer,raw,raw", "dependency order: " .. err)
local transfer = folder.read_lua(runs .. "/transfer/result.lua")
local upstream = folder.read_lua(runs .. "/a_quality/result.lua")
check.truthy(transfer and upstream, "results written")
check.eq(transfer.test_rows + transfer.train_rows, 8, "the split covers the database")
for _, protocol in ipairs({"test", "paper_rows"}) do
  for _, task in ipairs({"quality", "align"}) do
    local s = transfer.results[protocol][task]
    check.truthy(s and s.srcc and s.srcc >= -1 and s.srcc <= 1, protocol .. " " .. task .. " evaluated")
  end
end
check.eq(transfer.results.paper_rows.quality.n, transfer.test_rows, "paper_rows: the first N CSV rows")
-- transfer started from a_quality's trained model
check.truthy(folder.read(runs .. "/transfer/train/log.txt"):find("start:", 1, true), "transfer trained")
local scores = a.read_csv(runs .. "/raw/seed=1/scores.csv")
check.eq(table.concat(scores.header, ","), "name,prompt,quality_score,score,vivid_score,mos_quality,mos_align,"
  .. "reward_quality,reward_align,reward_vivid", "scores.csv: every row, every task's text and the extra prompt")
check.eq(#scores.rows, 8, "every row scored")
-- Every row's texts (the task texts, its own prompt, the extra prompt) were
-- scored together from one encoding (net:score_rows): each equals its text
-- scored alone by the same random model.
do
  local IR = require "aapmt.imagereward"
  local weights = tmp .. "/raw_seed1.safetensors"
  local config = fixtures .. "/train_run/tiny_config.json"
  local net = a.imagereward_random(config, 1, {init = "from_scratch"})
  net:save(weights)
  net:free()
  local m = IR.load{checkpoint = weights, config = config, vocab = fixtures .. "/tokenizer/vocab.txt", image_cache = 0}
  local col = {}
  for k, name in ipairs(scores.header) do col[name] = k end
  local spread = {}
  for i, row in ipairs(scores.rows) do
    local image = fixtures .. "/image/" .. row[col.name]
    local texts = {quality_score = require("aapmt.train_config").task_prompts.quality, score = row[col.prompt],
      vivid_score = "with vivid details"}
    for column, text in pairs(texts) do
      local alone, got = m:score(text, {image})[1], tonumber(row[col[column]])
      check.near(got, alone, 1e-6 + 1e-6 * math.abs(alone), string.format("raw scores.csv row %d, %s", i, column))
      spread[column] = spread[column] or {}
      spread[column][i] = got
    end
    -- the texts score apart, so a mix-up of texts would show
    check.truthy(math.abs(spread.quality_score[i] - spread.vivid_score[i]) > 1e-3, "row " .. i .. ": texts apart")
  end
  m:free()
end
local seed1 = folder.read(runs .. "/raw/seed=1/scores.csv")
check.truthy(seed1 ~= folder.read(runs .. "/raw/seed=2/scores.csv"), "sweep: the seeds give other models")
check.truthy(folder.exists(runs .. "/summary.md") and folder.exists(runs .. "/summary.csv"), "summary written")
check.truthy(folder.read(runs .. "/summary.md"):find("| transfer |", 1, true), "summary lists transfer")
check.truthy(folder.read(runs .. "/a_quality/report.md"):find("| quality |", 1, true), "report.md")

-- ---- the second batch reuses everything; a changed file reruns only itself ----
status, out = run(string.format("batch %q", tmp .. "/exp"))
check.eq(status, 0, "second batch")
check.truthy(out:find("4 experiment runs: 0 done, 4 up to date, 0 failed, 0 waiting for inputs", 1, true), "all up to date: " .. out)
-- the description changes no number: nothing reruns
write_exp("raw", [[
  start = "random", train = false, sweep = {seed = {1, 2}}, description = "changed",
  evaluate = {prompts = {{name = "vivid", text = "with vivid details"}}},
]])
status, out = run(string.format("batch %q", tmp .. "/exp"))
check.truthy(out:find("4 experiment runs: 0 done, 4 up to date", 1, true), "a description edit reruns nothing: " .. out)
-- an evaluation prompt changes raw's scores only
write_exp("raw", [[
  start = "random", train = false, sweep = {seed = {1, 2}}, description = "changed",
  evaluate = {prompts = {{name = "vivid", text = "with very vivid details"}}},
]])
status, out = run(string.format("batch %q", tmp .. "/exp"))
check.truthy(out:find("4 experiment runs: 2 done, 2 up to date, 0 failed, 0 waiting for inputs", 1, true), "only raw reruns: " .. out)

-- ---- overrides: a changed seed makes another result ----
status, out, err = run(string.format("run %q seed=5", tmp .. "/exp/raw.lua"))
check.eq(status, 0, "aapmt run FILE key=value: " .. err)
check.truthy(out:find("# raw (seed=", 1, true), "the report is printed: " .. out)
status, out, err = run(string.format("run %q bogus", tmp .. "/exp/raw.lua"))
check.eq(status, 2, "a non key=value argument")

-- ---- errors: file and line; a failure does not stop the others ----
folder.write_atomic(tmp .. "/exp/typo.lua", "return aapmt.experiment{\n" .. common .. [[
  start = "random",
  train = {metrics = {"quality"}, epoch = 2},
}
]])
local ok, e = pcall(experiment.load, tmp .. "/exp/typo.lua")
check.truthy(not ok and e:find("typo.lua:5: experiment 'typo': unknown key 'epoch' in train (did you mean 'epochs'?)",
  1, true), tostring(e))
folder.write_atomic(tmp .. "/exp/typo.lua", "return aapmt.experiment{\n" .. common .. [[
  start = "random", seed = "42",
}
]])
ok, e = pcall(experiment.load, tmp .. "/exp/typo.lua")
check.truthy(not ok and e:find("typo.lua:4: experiment 'typo': 'seed' must be integer, got string", 1, true),
  tostring(e))
folder.write_atomic(tmp .. "/exp/typo.lua", [[
return aapmt.experiment{database = "aigciqa2023", train = {epochs = 1}}
]])
status, out, err = run(string.format("batch %q", tmp .. "/exp"))
check.eq(status, 1, "a failed experiment makes the batch fail")
check.truthy(out:find("5 experiment runs: 0 done, 4 up to date, 0 failed, 1 waiting for inputs", 1, true), out)
check.truthy(out:find("AIGCIQA2023 is missing", 1, true) and out:find("assets/AIGCIQA2023/Images/", 1, true),
  "the missing database is named with where to put it: " .. out)
os.remove(tmp .. "/exp/typo.lua")

-- ---- the paper's experiment files: all load; without inputs, each missing
-- thing is said once and what needs nothing runs ----
do
  local paper_dir = here .. "/../../experiments/paper"
  local batch = require "aapmt.batch"
  local n = 0
  for _, file in ipairs(batch.files({paper_dir})) do
    local decl = experiment.load(file)
    check.truthy(#experiment.variants(decl) >= 1, file .. " has variants")
    n = n + 1
  end
  check.truthy(n >= 14, "the paper's experiment files: " .. n)
  assert(lfs.mkdir(tmp .. "/no_assets"))
  local _, _, code = os.execute(string.format("cd %q && AAPMT_ASSETS=%q AAPMT_IMAGEREWARD=%q AAPMT_RUNS=%q %q batch %q "
    .. ">%q 2>%q", tmp, tmp .. "/no_assets", tmp .. "/none.pt", tmp .. "/paper_runs", aapmt_bin, paper_dir,
    tmp .. "/stdout", tmp .. "/stderr"))
  out = folder.read(tmp .. "/stdout")
  check.eq(code, 1, "inputs missing: exit status 1")
  check.truthy(out:find("0 failed", 1, true), "nothing crashed: " .. out)
  local said = 0
  for _ in out:gmatch("\n  missing: the ImageReward%-v1%.0 weights are missing") do said = said + 1 end
  check.eq(said, 1, "the missing weights are said once: " .. out)
  check.truthy(out:find("put AGIQA-3K.csv in assets/ and its 2982 images in assets/AGIQA_3K/", 1, true), out)
  check.truthy(folder.read(tmp .. "/paper_runs/table1_options/report.md"):find("| epochs | 10 | 10 | 50 | 50 |", 1, true),
    "Table 1 needs no inputs and is made")
end

-- ---- declarations from Lua ----
do
  local decl = experiment.load(tmp .. "/exp/raw.lua")
  local variants = experiment.variants(decl, {"epochs=3"})
  check.eq(#variants, 2, "a variant per sweep value")
  check.eq(variants[2].id, "seed=2", "variant id")
  check.eq(variants[2].fields.seed, 2, "the sweep value is set")
  check.eq(variants[1].fields.train, false, "epochs= leaves a scoring-only experiment untrained")
  local trained = experiment.variants(experiment.load(tmp .. "/exp/a_quality.lua"), {"epochs=3", "database.demo.size=8"})
  check.eq(trained[1].fields.train.epochs, 3, "epochs= reaches train.epochs")
  check.eq(trained[1].fields.database.demo, nil, "a block the experiment lacks is not created")
  check.raises(function() experiment.variants(decl, {"head=cnn"}) end, "head 'cnn' is not")
end

os.execute(string.format("rm -rf %q", tmp))
