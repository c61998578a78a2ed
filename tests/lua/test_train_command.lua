-- `aapmt train RUN.lua`: a run file's options with command-line overrides,
-- the printed metrics, --resume, and errors naming the file or option.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local folder = require "aapmt.run_folder"
local lfs = require "lfs"
local a = aapmt

local here = arg[0]:match("^(.*)/") or "."
local fixtures = here .. "/../fixtures"
local aapmt_bin = arg[-1]
local tmp = os.tmpname()
os.remove(tmp)
assert(lfs.mkdir(tmp))

-- Runs `aapmt ARGS`; returns the exit status, stdout and stderr.
local function run(args)
  local out, err = tmp .. "/stdout", tmp .. "/stderr"
  local cmd = string.format("%q %s >%q 2>%q </dev/null", aapmt_bin, args, out, err)
  local _, _, status = os.execute(cmd)
  return status, folder.read(out) or "", folder.read(err) or ""
end

local image_dir = fixtures .. "/image"
local files = {"rgb_224x224.jpg", "rgb_32x33.png", "grey.jpg", "palette_50x40.png", "rgb_37x23.png",
  "rgba_45x67.png"}
local run_file = tmp .. "/run.lua"
local f = assert(io.open(run_file, "w"))
f:write(string.format([[
local rows = {}
for i, name in ipairs(%s) do
  rows[i] = {name = name, image = %q .. "/" .. name, prompt = i %% 2 == 0 and "a red cat" or "a blue boat",
    targets = {mos_quality = i / 2, mos_align = (7 - i) / 2}}
end
return {model = {config = %q, seed = 3}, vocab = %q, train = rows, test = rows,
  metrics = {"quality", "align"}, optimizer = {kind = "adam", lr = 1e-3}, epochs = 1, batch_size = 2,
  out = %q}
]], folder.lua_value(files), image_dir, fixtures .. "/train_run/tiny_config.json",
  fixtures .. "/tokenizer/vocab.txt", tmp .. "/from_file"))
f:close()

-- The file's options, overridden from the command line.
local status, out, err = run(string.format("train %q --epochs 2 --out %q --lr 0.01 --threads 1 --no-progress",
  run_file, tmp .. "/cli"))
check.eq(status, 0, "aapmt train exits 0: " .. err)
check.truthy(out:find("run " .. tmp .. "/cli: 6 steps\n", 1, true), "steps and folder printed: " .. out)
local printed = {}
for metric, srcc, plcc, n in out:gmatch("test (%a+) SRCC (%S+) PLCC (%S+) KRCC %S+ RMSE %S+ N (%d+)\n") do
  printed[metric] = {srcc = tonumber(srcc), plcc = tonumber(plcc), n = tonumber(n)}
end
check.truthy(printed.quality and printed.align, "a line per metric: " .. out)
check.eq(printed.quality.n, 6, "N is the test size")
local rec = folder.read_lua(tmp .. "/cli/config.lua")
check.eq(rec.epochs, 2, "--epochs overrides the file")
check.eq(rec.optimizer.lr, 0.01, "--lr overrides the optimizer's lr")
check.eq(rec.optimizer.kind, "adam", "--lr keeps the optimizer kind")
check.eq(rec.threads, 1, "--threads")
check.eq(err, "", "--no-progress: nothing on stderr")
local scores = a.read_csv(tmp .. "/cli/scores.csv")
local y, yhat = {}, {}
for i, row in ipairs(scores.rows) do y[i], yhat[i] = tonumber(row[5]), tonumber(row[3]) end
check.near(printed.quality.srcc, a.metrics.srcc(y, yhat), 1e-6, "the printed SRCC is the scores' SRCC")

-- Progress lines on stderr when not a terminal.
status, out, err = run(string.format("train %q", run_file))
check.eq(status, 0, "defaults from the file: " .. err)
check.truthy(err:find("train 3/3 steps", 1, true), "progress lines: " .. err)
check.truthy(folder.exists(tmp .. "/from_file/model.safetensors"), "the file's out folder")

-- A finished run's folder is not overwritten; --resume goes on (here: nothing left).
status, out, err = run(string.format("train %q --no-progress", run_file))
check.eq(status, 1, "a second run into the same folder fails")
check.truthy(err:find("aapmt train: train.run: " .. tmp .. "/from_file already holds a run", 1, true), err)
status, out, err = run(string.format("train %q --resume --no-progress", run_file))
check.eq(status, 0, "--resume: " .. err)

-- Errors.
status, out, err = run("train")
check.eq(status, 2, "no run file: usage error")
check.truthy(err:find("give one run file", 1, true), err)
status, out, err = run(string.format("train %q", tmp .. "/missing.lua"))
check.eq(status, 1, "missing run file")
check.truthy(err:find("missing.lua", 1, true), err)
local bad = tmp .. "/bad.lua"
folder.write_atomic(bad, "return {model = 1, vocab = 'x', out = 'y', bogus = true}\n")
status, out, err = run(string.format("train %q", bad))
check.eq(status, 1, "bad option")
check.truthy(err:find("unknown option 'bogus'", 1, true), err)
check.truthy(not err:find("traceback", 1, true), "no traceback for a user error")
folder.write_atomic(bad, "return 42\n")
status, out, err = run(string.format("train %q", bad))
check.truthy(err:find("must return a table of train.run options, it returned a number", 1, true), err)
status, out, err = run(string.format("train %q --epochs two", run_file))
check.eq(status, 2, "bad --epochs")
check.truthy(err:find("--epochs needs an integer", 1, true), err)

-- A start checkpoint that is not there: where ImageReward-v1.0 comes from and goes.
local no_weights = tmp .. "/no_weights.lua"
folder.write_atomic(no_weights, string.format("local cfg = dofile(%q)\ncfg.model = %q\ncfg.out = %q\nreturn cfg\n",
  run_file, tmp .. "/none.pt", tmp .. "/no_weights_run"))
status, out, err = run(string.format("train %q", no_weights))
check.eq(status, 1, "a missing checkpoint")
check.truthy(err:find(tmp .. "/none.pt: no such file; download ImageReward.pt from Hugging Face THUDM/ImageReward",
  1, true), err)

os.execute(string.format("rm -rf %q", tmp))
