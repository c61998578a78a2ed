-- The statistics an experiment reports beyond point values: a 95%
-- bootstrap interval for every held-out correlation, the paired interval of
-- a difference between two models on the same rows, and the mean, standard
-- deviation and range over replicates (a sweep over seeds).
--
-- The bootstrap resamples held-out prompts, not images: all images of a
-- prompt go together, as the content-isolated split keeps them, so the
-- interval does not pretend the images of one prompt are independent. It
-- is a percentile interval of 1000 resamples with a fixed seed
-- (experiment_plan.lua's M.bootstrap), so a rerun gives the same bounds.
local a = aapmt
local interrupts = require "aapmt.interrupts"

local M = {MEASURES = {"srcc", "plcc", "krcc"}}

-- {srcc = {value=, low=, high=, sd=, valid=}, plcc=, krcc=} for one
-- prediction column against y, rows grouped by prompt; with `paired`, of
-- the difference yhat - paired. nil when there are too few rows or prompts.
function M.interval(settings, y, yhat, prompts, paired)
  local groups = {}
  for _, g in ipairs(prompts) do groups[g] = true end
  local n = 0
  for _ in pairs(groups) do n = n + 1 end
  if #y < 3 or n < 2 then return nil end
  local ok, r = interrupts.pcall(a.metrics.bootstrap, y, yhat, prompts, {resamples = settings.resamples, seed = settings.seed,
    level = settings.level, paired = paired})
  if not ok then return nil end
  return r
end

-- ---- replicates ----

local function mean_sd(values)
  local n, sum = #values, 0
  for _, v in ipairs(values) do sum = sum + v end
  local mean, ss = sum / n, 0
  for _, v in ipairs(values) do ss = ss + (v - mean) ^ 2 end
  local lo, hi = math.huge, -math.huge
  for _, v in ipairs(values) do lo, hi = math.min(lo, v), math.max(hi, v) end
  return mean, n > 1 and math.sqrt(ss / (n - 1)) or 0 / 0, lo, hi
end

-- The variant id without the replicate key: "metrics=quality,seed=42" →
-- "metrics=quality" for replicate "seed".
function M.group_of(values, replicate)
  local keys = {}
  for k in pairs(values or {}) do
    if k ~= replicate then keys[#keys + 1] = k end
  end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = k .. "=" .. tostring(values[k]) end
  return table.concat(parts, ",")
end

-- Results of one experiment's variants ({result=, ...} each) aggregated
-- over the replicate key within each value of the other sweep keys: a list
-- of {group=, replicates = {values}, rows = {{task=, protocol=, measure=,
-- mean=, sd=, min=, max=, n=}}}, groups with two or more replicates only.
function M.aggregate(entries, replicate)
  local groups, order = {}, {}
  for _, e in ipairs(entries) do
    local r = e.result
    local values = r.sweep or {}
    if values[replicate] ~= nil then
      local g = M.group_of(values, replicate)
      if not groups[g] then
        groups[g] = {group = g, replicates = {}, results = {}}
        order[#order + 1] = g
      end
      table.insert(groups[g].replicates, values[replicate])
      table.insert(groups[g].results, r)
    end
  end
  local out = {}
  for _, g in ipairs(order) do
    local group = groups[g]
    if #group.results >= 2 then
      group.rows = {}
      local first = group.results[1]
      for _, protocol in ipairs({"test", "paper_rows"}) do
        for _, task in ipairs(first.scored or {}) do
          for _, measure in ipairs(M.MEASURES) do
            local values = {}
            for _, r in ipairs(group.results) do
              local s = r.results and r.results[protocol] and r.results[protocol][task]
              local v = s and s[measure]
              if type(v) == "number" and v == v then values[#values + 1] = v end
            end
            if #values == #group.results then
              local mean, sd, lo, hi = mean_sd(values)
              group.rows[#group.rows + 1] = {task = task, protocol = protocol, measure = measure, mean = mean, sd = sd,
                min = lo, max = hi, n = #values}
            end
          end
        end
      end
      group.results = nil
      out[#out + 1] = group
    end
  end
  return out
end

-- ---- formatting ----

function M.fmt(v) return type(v) == "number" and v == v and string.format("%.4f", v) or "—" end

-- "0.8731 [0.8512, 0.8907]"
function M.with_interval(value, ci)
  if not (ci and ci.low) then return M.fmt(value) end
  return string.format("%s [%s, %s]", M.fmt(value), M.fmt(ci.low), M.fmt(ci.high))
end

-- "0.8731 ± 0.0120 (0.8600–0.8850)"
function M.spread(row)
  return string.format("%s ± %s (%s–%s)", M.fmt(row.mean), M.fmt(row.sd), M.fmt(row.min), M.fmt(row.max))
end

return M
