-- aapmt batch [--force] [--clean] [DIR|FILE ...] [key=value ...]
local cli = require "aapmt.cli"
local batch = require "aapmt.batch"
local experiment = require "aapmt.experiment"
local interrupts = require "aapmt.interrupts"

local usage = [[
usage: aapmt batch [--force] [--clean] [DIR|FILE ...] [key=value ...]

Runs experiment files (default: experiments/paper) in dependency order: an
experiment that starts from, needs or is compared with another runs after
it. Every file and variant is checked first: a mistake anywhere (a
misspelt key or metric, a missing file, an unknown experiment) stops the
batch before any work, naming the file and line.

Each result has a fingerprint of everything it depends on. A variant whose
result is up to date is not run again; an interrupted training resumes from
its last checkpoint when its training is unchanged; after an edit that
changes the training (lr, epochs, the database, the start model...) the
variant trains afresh and its old folder is moved aside to
VARIANT.superseded-<time>/ (reports and final model kept, checkpoints
deleted); an edit that changes only scoring or reporting rescores without
training. A failure is reported and the others go on; Ctrl-C stops the
batch (rerun the same command to resume). key=value overrides apply to
every experiment (seed=100, epochs=2, train.lr=1e-5).

Results go to runs/ in the project folder (the nearest folder above the
experiment files that holds assets/ or experiments/; AAPMT_RUNS or runs=
change it); runs/summary.md and runs/summary.csv list every current result,
with 95% bootstrap intervals and the mean ± sd over seeds.

  --force   train afresh even what is up to date or could resume
  --clean   remove superseded folders instead of moving them aside
Exit status: 0 when every experiment succeeded, 1 when any failed or waits
for inputs, 130 when interrupted.
]]

return cli.command("batch", usage, {force = "flag", clean = "flag"}, function(opts, positional)
  local paths, overrides = {}, {}
  for _, p in ipairs(positional) do
    if p:find("^[%a_][%w_%.]*=") then overrides[#overrides + 1] = p else paths[#paths + 1] = p end
  end
  if #paths == 0 then paths = {"experiments/paper"} end
  local repeated_ok, repeated = pcall(experiment.check_repeated, overrides)
  if not repeated_ok then cli.fail(repeated, 2) end
  -- Ctrl-C while planning goes on up (cli.command: exit status 130).
  local ok, entries, failures, stopped = interrupts.pcall(batch.run, paths, overrides,
    {force = opts.force, clean = opts.clean})
  if not ok then cli.fail(entries) end
  local mistakes = {}
  for _, e in ipairs(entries) do
    if e.status == "mistake" then mistakes[#mistakes + 1] = e end
  end
  if #mistakes > 0 then
    io.write(string.format("%d mistake%s found before any work; nothing was run:\n", #mistakes,
      #mistakes == 1 and "" or "s"))
    for _, e in ipairs(mistakes) do io.write("  ", tostring(e.error), "\n") end
    return 1
  end
  local counts, missing, order = {}, {}, {}
  for _, e in ipairs(entries) do
    counts[e.status] = (counts[e.status] or 0) + 1
    for reason in (e.missing or ""):gmatch("[^\n]+") do
      if not missing[reason] then order[#order + 1] = reason end
      missing[reason] = missing[reason] or {}
      table.insert(missing[reason], e.name .. (e.variant ~= "" and (" [" .. e.variant .. "]") or ""))
    end
  end
  io.write(string.format("%d experiment runs: %d done, %d up to date, %d failed, %d waiting for inputs%s\n", #entries,
    counts["done"] or 0, counts["up to date"] or 0, (counts["failed"] or 0) + (counts["waiting"] or 0),
    counts["missing input"] or 0, stopped and string.format(", %d interrupted, %d not run", counts["interrupted"] or 0,
      counts["not run"] or 0) or ""))
  for _, e in ipairs(entries) do
    if e.status == "failed" or e.status == "waiting" then
      io.write(string.format("  %s: %s%s: %s\n", e.status, e.name, e.variant ~= "" and (" [" .. e.variant .. "]") or "",
        tostring(e.error)))
    end
  end
  for _, reason in ipairs(order) do
    io.write(string.format("  missing: %s\n    (needed by %d runs: %s)\n", reason, #missing[reason],
      table.concat(missing[reason], ", ")))
  end
  if stopped then return 130 end
  return failures > 0 and 1 or 0
end)
