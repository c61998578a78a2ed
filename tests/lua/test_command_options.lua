-- The option parsing every Lua subcommand shares (lua/aapmt/cli.lua), run
-- through the program: a repeated option is an error in every command, a
-- wrong option prints one line and the synopsis, --help works anywhere, and
-- split's seed is checked as a command-line value.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"

local here = arg[0]:match("^(.*)/") or "."
local exe = arg[-1]
local err_file = os.tmpname()

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Runs `aapmt ARGS...`; returns stdout, stderr and the exit status.
local function run(...)
  local quoted = {}
  for i, v in ipairs({...}) do quoted[i] = q(v) end
  local p = io.popen(string.format("%s %s 2>%s </dev/null; echo status=$?", q(exe), table.concat(quoted, " "),
    q(err_file)))
  local out = p:read("a")
  p:close()
  local f = assert(io.open(err_file))
  local err = f:read("a")
  f:close()
  return out:gsub("status=%d+\n$", ""), err, tonumber(out:match("status=(%d+)\n$"))
end

local function lines(s) return select(2, s:gsub("\n", "")) end

-- A usage error: exit 2, the message on the first line, then the synopsis
-- and the pointer to --help; never the whole usage.
local function usage_error(what, fragment, command, ...)
  local out, err, status = run(command, ...)
  check.eq(status, 2, what .. ": exit status (" .. err .. ")")
  check.eq(out, "", what .. ": nothing on stdout")
  local first = err:match("^[^\n]*")
  check.truthy(first:find("aapmt " .. command .. ": ", 1, true) == 1, what .. ": names the command: " .. err)
  check.truthy(first:find(fragment, 1, true), ("%s: first line %q lacks %q"):format(what, first, fragment))
  check.truthy(err:find("\nusage: aapmt " .. command, 1, true), what .. ": the synopsis follows: " .. err)
  check.truthy(err:find("aapmt " .. command .. " --help", 1, true), what .. ": says where the rest is: " .. err)
  check.truthy(lines(err) <= 5, what .. ": a short message, not the whole usage: " .. err)
  return err
end

-- ---- a repeated option with a value, in every command that has one ----

local repeated = {   -- the option, then the command line
  {"--image-column", "score", "--csv", "a.csv", "--image-column", "a", "--image-column", "b"},
  {"--batch", "score", "--batch", "2", "--batch=3", "x.png"},
  {"--csv", "eval", "--csv", "a.csv", "--csv", "b.csv", "--pred", "p", "--mos", "m"},
  {"--seed", "split", "--csv", "a.csv", "--seed", "1", "--seed", "2"},
  {"--vocab", "tokenize", "--vocab", "a.txt", "--vocab", "b.txt", "text"},
  {"--out", "demo-db", "--out", "a", "--out", "b"},
  {"--epochs", "train", "run.lua", "--epochs", "1", "--epochs", "2"},
}
for _, case in ipairs(repeated) do
  local args = table.move(case, 2, #case, 1, {})
  local err = usage_error(table.concat(args, " "), "option " .. case[1] .. " is given twice", table.unpack(args))
  check.truthy(not err:find("cannot open", 1, true), "nothing was read: " .. err)
end

-- key=value overrides of batch and check: the same key twice (shortcuts
-- resolved) is an error before any file is read.
usage_error("batch seed= twice", "'seed=1' and 'seed=2' both set seed; give it once", "batch", "seed=1", "seed=2",
  "/nonexistent")
usage_error("check epochs= and train.epochs=", "'epochs=1' and 'train.epochs=2' both set train.epochs", "check",
  "epochs=1", "train.epochs=2", "/nonexistent")
local experiment = require "aapmt.experiment"
check.raises(function() experiment.check_repeated({"lr=1e-5", "seed=3", "lr=2e-5"}) end,
  "'lr=1e-5' and 'lr=2e-5' both set train.lr")
experiment.check_repeated({"seed=1", "epochs=2", "train.lr=1e-5"})   -- different keys are fine

-- ---- wrong options: one line naming the option ----

usage_error("an unknown option", "unknown option --bogus", "score", "--bogus")
usage_error("an unknown option of eval", "unknown option --frobnicate", "eval", "--frobnicate=1")
usage_error("a missing value", "option --seed needs a value", "split", "--csv", "a.csv", "--seed")
usage_error("a flag with a value", "option --json takes no value", "score", "--json=yes")
usage_error("a bad integer", "option --batch needs an integer, got 'two'", "score", "--batch", "two")

-- ---- split's seed and fraction are command-line values ----

local csv = here .. "/../fixtures/data/plain.csv"
local err = usage_error("split --seed -1", "--seed -1 is outside numpy's range", "split", "--csv", csv, "--seed", "-1")
check.truthy(not err:find("split: split:", 1, true), "the message does not repeat 'split:': " .. err)
usage_error("split --seed 2^32", "--seed 4294967296", "split", "--csv", csv, "--seed", "4294967296")
usage_error("split --train-fraction 2", "--train-fraction 2 is not in [0, 1]", "split", "--csv", csv, "--seed",
  "1", "--train-fraction", "2")
local out, e, status = run("split", "--csv", csv, "--seed", "4294967295")
check.eq(status, 0, "split --seed 4294967295 is numpy's largest (" .. e .. ")")
check.truthy(#out > 0, "split printed the held-out prompts")

-- ---- --help anywhere before "--" ----

for _, args in ipairs({{"score", "--help"}, {"score", "--prompt", "x", "-h"}, {"eval", "--csv", "a", "--help"}}) do
  out, e, status = run(table.unpack(args))
  check.eq(status, 0, table.concat(args, " ") .. ": exit status")
  check.truthy(out:find("^usage: aapmt " .. args[1]), table.concat(args, " ") .. ": prints the usage")
end

os.remove(err_file)
print("ok")
