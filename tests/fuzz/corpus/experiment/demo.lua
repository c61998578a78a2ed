-- The built-in demo, end to end on any machine: the synthetic database is
-- drawn, a small ImageReward learns quality and alignment from scratch, and
-- a Metric Transformer learns all three metrics at once; each is scored on
-- held-out prompts. The experiments are the files in experiments/demo/, run
-- by the batch runner (results reused when up to date, in runs/).
--
--   aapmt run experiments/demo.lua [key=value ...]    e.g. epochs=2
local batch = require "aapmt.batch"
local databases = require "aapmt.databases"
local a = aapmt

local here = arg[0]:match("^(.*)/") or "."
local overrides = {...}
local runs = databases.runs_dir(databases.project_dir(here))
print(string.format("aapmt %s demo: %d threads; results in %s/", a.version, a.get_num_threads(), runs))
local started = a.clock()
local entries, failures, stopped = batch.run({here .. "/demo"}, overrides)
if stopped then os.exit(130) end

print("\nheld-out prompts (content-isolated split):\n")
print(string.format("%-26s %-13s %7s %7s %7s", "experiment", "task", "PLCC", "SRCC", "n"))
for _, e in ipairs(entries) do
  local r = e.result
  if r and r.results.test then
    for _, task in ipairs(r.trained_metrics or r.scored) do   -- each model's own tasks
      local s = r.results.test[task]
      print(string.format("%-26s %-13s %7.4f %7.4f %7d", e.name, task, s.plcc or 0 / 0, s.srcc or 0 / 0, s.n or 0))
    end
  elseif r and r.out then
    print(string.format("%-26s %s/report.md", e.name, r.out))
  elseif not r then
    print(string.format("%-26s failed: %s", e.name, tostring(e.error)))
  end
end
print(string.format("\n%.0f s; reports and plots: %s/<experiment>/report.md, %s/summary.md", a.clock() - started,
  runs, runs))
if failures > 0 then os.exit(1) end
