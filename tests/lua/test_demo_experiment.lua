-- The README's demo, shortened (a small database, one epoch), through the
-- batch runner twice: the first run trains and reports every experiment of
-- experiments/demo/, the second reuses all of their results.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local folder = require "aapmt.run_folder"
local lfs = require "lfs"
local files = require "files"

local absolute = files.absolute
local here = absolute(arg[0]:match("^(.*)/") or ".")
local demo = here .. "/../../experiments/demo.lua"
local aapmt_bin = absolute(arg[-1])
local tmp = os.tmpname()
os.remove(tmp)
assert(lfs.mkdir(tmp))

local function run()
  local _, _, status = os.execute(string.format("cd %q && AAPMT_RUNS=%q %q run %q database.demo.images=96 epochs=1 train.schedule.warmup=1 "
    .. "train.batch_size=16 >%q 2>%q", tmp, tmp .. "/runs", aapmt_bin, demo, tmp .. "/out", tmp .. "/err"))
  return status, folder.read(tmp .. "/out") or "", folder.read(tmp .. "/err") or ""
end

local status, out, err = run()
check.eq(status, 0, "the demo runs: " .. out .. err)
local experiments = {"demo_align", "demo_metric_transformer", "demo_quality", "demo_results"}
for _, name in ipairs(experiments) do
  check.truthy(err:find("\ndone " .. name, 1, true) or err:find("^done " .. name), name .. " ran: " .. err)
  check.truthy(folder.exists(tmp .. "/runs/" .. name .. "/report.md"), name .. ": report.md")
  if name ~= "demo_results" then
    check.truthy(folder.exists(tmp .. "/runs/" .. name .. "/train/model.safetensors"), name .. ": trained model")
  end
end
for _, line in ipairs({"demo_quality%s+quality%s+%-?%d%.%d+%s+%-?%d%.%d+%s+%d+",
                       "demo_align%s+align%s+%-?%d%.%d+", "demo_metric_transformer%s+authenticity%s+%-?%d%.%d+"}) do
  check.truthy(out:find(line), "the results table has " .. line .. ": " .. out)
end
check.truthy(folder.exists(tmp .. "/runs/summary.md"), "summary.md")
check.truthy(folder.read(tmp .. "/runs/demo_results/report.md"):find("| demo_metric_transformer | authenticity |", 1,
  true), "the results figure's table")

-- The second run reuses every result.
status, out, err = run()
check.eq(status, 0, "the second run: " .. err)
local reused = 0
for _ in err:gmatch("up to date demo_") do reused = reused + 1 end
check.eq(reused, #experiments, "every result reused: " .. err)
check.truthy(not err:find("\nrun demo_", 1, true) and not err:find("^run demo_"), "nothing trained again")
check.truthy(out:find("demo_quality%s+quality"), "the table again: " .. out)

os.execute(string.format("rm -rf %q", tmp))
