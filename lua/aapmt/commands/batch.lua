-- aapmt batch [--force] [DIR|FILE ...] [key=value ...]
local cli = require "aapmt.cli"
local batch = require "aapmt.batch"

local usage = [[
usage: aapmt batch [--force] [DIR|FILE ...] [key=value ...]

Runs experiment files (default: experiments/paper) in dependency order: an
experiment that starts from another's result runs after it. A variant whose
result is up to date (the same file, options and inputs) is not run again;
an interrupted training resumes from its last checkpoint; a failure is
reported and the others go on. key=value overrides apply to every
experiment (seed=100, epochs=2, train.lr=1e-5). Results go to runs/ (set
AAPMT_RUNS or runs= to change it), with runs/summary.md and
runs/summary.csv listing every result beside the paper's.

  --force   run again even what is up to date
Exit status: 0 when every experiment succeeded, 1 when any failed.
]]

return cli.command("batch", usage, {force = "flag"}, function(opts, positional)
  local paths, overrides = {}, {}
  for _, p in ipairs(positional) do
    if p:find("^[%a_][%w_%.]*=") then overrides[#overrides + 1] = p else paths[#paths + 1] = p end
  end
  if #paths == 0 then paths = {"experiments/paper"} end
  local ok, entries, failures = pcall(batch.run, paths, overrides, {force = opts.force})
  if not ok then cli.fail(entries) end
  local counts, missing, order = {}, {}, {}
  for _, e in ipairs(entries) do
    counts[e.status] = (counts[e.status] or 0) + 1
    for reason in (e.missing or ""):gmatch("[^\n]+") do
      if not missing[reason] then order[#order + 1] = reason end
      missing[reason] = missing[reason] or {}
      table.insert(missing[reason], e.name .. (e.variant ~= "" and (" [" .. e.variant .. "]") or ""))
    end
  end
  io.write(string.format("%d experiment runs: %d done, %d up to date, %d failed, %d waiting for inputs\n", #entries,
    counts["done"] or 0, counts["up to date"] or 0, counts["failed"] or 0, counts["missing input"] or 0))
  for _, e in ipairs(entries) do
    if e.status == "failed" then
      io.write(string.format("  failed: %s%s: %s\n", e.name, e.variant ~= "" and (" [" .. e.variant .. "]") or "",
        tostring(e.error)))
    end
  end
  for _, reason in ipairs(order) do
    io.write(string.format("  missing: %s\n    (needed by %d runs: %s)\n", reason, #missing[reason],
      table.concat(missing[reason], ", ")))
  end
  return failures > 0 and 1 or 0
end)
