-- aapmt train RUN.lua [--out DIR] [--epochs N] [--seed N] [--lr X] [--batch-size N]
--                     [--threads N] [--resume] [--no-progress]
local cli = require "aapmt.cli"
local train = require "aapmt.train"
local interrupts = require "aapmt.interrupts"
local databases = require "aapmt.databases"

-- The example and the layout come from databases.lua, so they name the
-- paths that aapmt check and the experiments use.
local layout = databases.layout
local usage = string.format([[
usage: aapmt train RUN.lua [--out DIR] [--epochs N] [--seed N] [--lr X]
                   [--batch-size N] [--threads N] [--resume] [--no-progress]

Fine-tunes a model as RUN.lua describes: a Lua file that returns the options
of train.run (see README, "Fine-tuning runs"), e.g.

  return {model = "%s",
          vocab = "%s",
          data = aapmt.dataset{kind = "agiqa3k", csv = "%s",
                               images = "%s"},
          split = {seed = 42}, metrics = {"quality"}, epochs = 10,
          out = "runs/agiqa3k-quality"}

Relative paths in RUN.lua are taken from the current directory (not from
RUN.lua's folder; the AAPMT_* variables of the experiments do not apply).
AAPMT keeps its inputs here (aapmt check says which are there):
%s
The options below replace the file's. Progress goes to stderr; at the end
the held-out metrics are printed, one line each: METRIC SRCC PLCC KRCC RMSE N
(and the paper_rows protocol's, when asked for). A killed run goes on from
its last checkpoint with --resume.

  --out DIR          the run folder
  --epochs N         epochs
  --seed N           seed of the order and the dropout
  --lr X             the optimizer's learning rate
  --batch-size N     images per micro-batch
  --threads N        threads (default: all the cores we may use)
  --resume           continue the run in the out folder
  --no-progress      no progress bar or lines
]], layout.imagereward.file, layout.vocab.file, layout.agiqa3k.csv, (layout.agiqa3k.images:gsub("/$", "")),
  databases.describe())

local function load_options(path)
  local chunk, err = loadfile(path, "t")
  if not chunk then cli.fail(err) end
  local ok, cfg = pcall(chunk)
  if not ok then cli.fail(path .. ": " .. tostring(cfg)) end
  if type(cfg) ~= "table" then
    cli.fail(string.format("%s must return a table of train.run options, it returned a %s", path, type(cfg)))
  end
  return cfg
end

local function print_metrics(what, metrics, order)
  for _, metric in ipairs(order) do
    local s = metrics[metric.name]
    io.write(string.format("%s %s SRCC %.6f PLCC %.6f KRCC %.6f RMSE %.6f N %d\n", what, metric.name,
      s.srcc or 0 / 0, s.plcc or 0 / 0, s.krcc or 0 / 0, s.rmse or 0 / 0, s.n or 0))
  end
end

return cli.command("train", usage,
  {out = "string", epochs = "integer", seed = "integer", lr = "number", batch_size = "integer",
   threads = "integer", resume = "flag", no_progress = "flag"},
  function(opts, positional)
    if #positional ~= 1 then cli.fail("give one run file (RUN.lua)", 2) end
    local cfg = load_options(positional[1])
    for _, key in ipairs({"out", "epochs", "seed", "batch_size", "threads"}) do
      if opts[key] ~= nil then cfg[key] = opts[key] end
    end
    if opts.resume then cfg.resume = true end
    if opts.no_progress then cfg.progress = false end
    if opts.lr then
      local o = type(cfg.optimizer) == "string" and {kind = cfg.optimizer} or cfg.optimizer or {}
      o.lr = opts.lr
      cfg.optimizer = o
    end
    local ok, result = xpcall(train.run, function(e)
      -- Ctrl-C goes up as it is (train.run has said where its checkpoint
      -- is); bad options, files and data are the user's to fix; anything
      -- else is a bug and keeps its traceback.
      if interrupts.is(e) then return e end
      if type(e) == "string" and not e:find("attempt to ") then return {message = e} end
      return debug.traceback(tostring(e), 2)
    end, cfg)
    if not ok then
      if interrupts.is(result) then
        io.stderr:write(string.format("aapmt train: interrupted; rerun with --resume to go on from the last "
          .. "checkpoint\n"))
        return 130
      end
      if type(result) == "table" then cli.fail(result.message) end
      error(result, 0)
    end
    local order = {}
    local metrics = cfg.metrics or {"quality"}
    for i, m in ipairs(type(metrics) == "string" and {metrics} or metrics) do
      order[i] = {name = type(m) == "table" and m.name or m}
    end
    io.write(string.format("run %s: %d steps%s\n", result.out, result.steps,
      result.stopped and " (stopped early)" or ""))
    if result.metrics then print_metrics("test", result.metrics, order) end
    if result.paper_rows then print_metrics("paper_rows", result.paper_rows, order) end
  end)
