-- aapmt split --csv FILE --seed N [--train-fraction F] [--prompt-column NAME]
local cli = require "aapmt.cli"
local a = aapmt

local usage = [[
usage: aapmt split --csv FILE --seed N [--train-fraction F] [--prompt-column NAME]

Prints the held-out prompts of the paper's content-isolated split, one per
line: the unique prompts of FILE in order of first appearance, shuffled as
np.random.seed(N); np.random.shuffle(prompts) does, the first
int(F * count) for training (F = 0.8 by default) and the rest printed, in
that shuffled order. The output can be given back as a fixed split
(ds:split{file=...}).

  --csv FILE            the ratings CSV (a leading unnamed index column is fine)
  --seed N              numpy seed, 0..4294967295 (the paper: 42, 100, 200)
  --train-fraction F    share of prompts for training (default 0.8)
  --prompt-column NAME  the prompt column (default prompt)
]]

return cli.command("split", usage,
  {csv = "string", seed = "integer", train_fraction = "number", prompt_column = "string"},
  function(opts, positional)
    if #positional > 0 then cli.fail("unexpected argument '" .. positional[1] .. "'", 2) end
    if not opts.csv then cli.fail("--csv FILE is required", 2) end
    if not opts.seed then cli.fail("--seed N is required", 2) end
    -- numpy's seeds are 32-bit: a seed outside is a wrong command line, said here
    -- rather than by the engine (whose message would repeat "split:").
    if opts.seed < 0 or opts.seed > 4294967295 then
      cli.fail(string.format("--seed %d is outside numpy's range 0..4294967295", opts.seed), 2)
    end
    local fraction = opts.train_fraction or 0.8
    if not (fraction >= 0 and fraction <= 1) then
      cli.fail(string.format("--train-fraction %s is not in [0, 1]", tostring(opts.train_fraction)), 2)
    end
    local column = opts.prompt_column or "prompt"
    local ok, csv = pcall(a.read_csv, opts.csv)
    if not ok then cli.fail(csv) end
    local col
    for i, name in ipairs(csv.header) do
      if name == column and not (i == 1 and csv.index_column) then col = i end
    end
    if not col then cli.fail(string.format("%s: no column '%s'", opts.csv, column)) end
    local prompts = {}
    for r, row in ipairs(csv.rows) do
      if row[col] == "" then
        cli.fail(string.format("%s, line %d, column '%s': the cell is empty", opts.csv, csv.lines[r], column))
      end
      prompts[r] = row[col]
    end
    local ok2, train_or_err, _, test_prompts = pcall(a.split_prompts, prompts, opts.seed, fraction)
    if not ok2 then cli.fail(train_or_err) end
    for _, p in ipairs(test_prompts) do
      if p:find("[\r\n]") then
        cli.fail(string.format("the test prompt %q spans several lines; it cannot be printed one per line", p))
      end
    end
    for _, p in ipairs(test_prompts) do io.write(p, "\n") end
  end)
