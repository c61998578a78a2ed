-- The planning context (experiment_plan.lua): what an experiment knows of
-- the others it starts from, is compared with or reports on, from the
-- plans of this batch or from the results under runs/.
local lfs = require "lfs"
local folder = require "aapmt.run_folder"
local experiment = require "aapmt.experiment"
local planner = require "aapmt.experiment_plan"
local results = require "aapmt.experiment_results"
local interrupts = require "aapmt.interrupts"

local M = {}

local function read_result(dir) return folder.try_read_lua(dir .. "/result.lua") end

-- The variants in the order they are planned: those that others of the
-- same sweep are compared with first, each group in sweep order.
function M.planning_order(decl, variants)
  local first = {}
  for _, c in ipairs(decl.fields.compare or {}) do
    if type(c) == "table" and (c.experiment or decl.name) == decl.name and c.variant then first[c.variant] = true end
  end
  local out = {}
  for _, v in ipairs(variants) do
    if first[v.id] then out[#out + 1] = v end
  end
  for _, v in ipairs(variants) do
    if not first[v.id] then out[#out + 1] = v end
  end
  return out
end

-- The planning context (experiment_plan.lua): another experiment's variant
-- from this batch's plans (plans_of(name): its list of plans), else its
-- result under runs/.
function M.new(by_name, plans_of, runs_dir, overrides)
  local ctx = {}
  -- The variant ids an experiment of the batch has, planned or not yet.
  local function variant_ids(d)
    local ok, variants = interrupts.pcall(experiment.variants, d, overrides)
    local ids = {}
    for _, v in ipairs(ok and variants or {}) do ids[#ids + 1] = v.id end
    return ids
  end
  local function from_plan(name, p)
    return {name = name, variant = p.variant.id, train_fingerprint = p.train_fingerprint, fingerprint = p.fingerprint,
      vocab = p.vocab, plan = p, read = function() return read_result(p.out) end,
      trains_lua_head = p.trains and experiment.lua_head(p.fields)}
  end
  local function from_result(r, dir)
    return {name = r.name, variant = r.variant or "", train_fingerprint = r.train_fingerprint,
      fingerprint = r.fingerprint, vocab = r.vocab, model = r.model, read = function() return read_result(dir) end,
      trains_lua_head = r.trained and r.model and folder.exists((r.model:match("^(.*)/") or ".") .. "/head.safetensors")}
  end
  function ctx.find(name, variant, wanted)
    local d = by_name[name]
    if d then
      local ids = variant_ids(d)
      local id = #ids == 1 and ids[1] or nil
      for _, i in ipairs(ids) do
        if i == (wanted or variant.id) then id = i end
      end
      if not id then
        return nil, nil, string.format("experiment '%s' has no variant '%s' (its variants: %s)", name,
          tostring(wanted or variant.id), table.concat(ids, "; "))
      end
      local pick
      for _, c in ipairs(plans_of(name) or {}) do
        if c.variant.id == id then pick = c end
      end
      if not pick then return nil, string.format("experiment '%s' [%s] could not be planned (see its error)", name, id) end
      if pick.missing and #pick.missing > 0 then return nil, pick.missing[1] end
      return from_plan(name, pick)
    end
    for _, id in ipairs({wanted or variant.id, ""}) do
      local dir = runs_dir .. "/" .. name .. (id ~= "" and ("/" .. id:gsub("[^%w=,._-]", "_")) or "")
      local r = read_result(dir)
      if r and r.train_fingerprint then return from_result(r, dir) end
    end
    if folder.exists(runs_dir .. "/" .. name) then
      return nil, string.format("the result of experiment '%s'%s is missing: run it first (aapmt batch runs it "
        .. "first when given both files)", name, wanted and (" [" .. wanted .. "]") or "")
    end
    return nil
  end
  function ctx.names()
    local names = {}
    for name in pairs(by_name) do names[#names + 1] = name end
    if lfs.attributes(runs_dir, "mode") == "directory" then
      for name in lfs.dir(runs_dir) do
        if name:sub(1, 1) ~= "." and not by_name[name] then names[#names + 1] = name end
      end
    end
    table.sort(names)
    return names
  end
  -- The fingerprints of an experiment's results as they are on disk now
  -- (a report over them is redone when any changes), nil for no such
  -- experiment.
  function ctx.fingerprints(name)
    local out = {}
    if by_name[name] then
      for _, p in ipairs(plans_of(name) or {}) do
        local r = read_result(p.out)
        out[#out + 1] = p.variant.id .. " " .. (r and r.fingerprint or "absent")
      end
      return out
    end
    for _, r in ipairs(results.results_of(runs_dir, name)) do out[#out + 1] = r.variant .. " " .. r.fingerprint end
    return #out > 0 and out or (folder.exists(runs_dir .. "/" .. name) and out or nil)
  end
  return ctx
end

-- A planning context over experiment files not run now, planned when
-- first asked for (with the overrides given), for checking whether results
-- on disk are still what their files say (experiment_summary.lua).
function M.lazy(by_name, overrides, runs_dir)
  local plans, ctx = {}, nil
  local function plans_of(name)
    if plans[name] == nil and by_name[name] then
      plans[name] = false   -- a cycle plans nothing
      local list = {}
      local ok, variants = interrupts.pcall(experiment.variants, by_name[name], overrides)
      for _, v in ipairs(ok and M.planning_order(by_name[name], variants) or {}) do
        local pok, p = interrupts.pcall(planner.plan, by_name[name], v, ctx)
        if pok then list[#list + 1] = p end
      end
      plans[name] = list
    end
    return plans[name] or nil
  end
  ctx = M.new(by_name, plans_of, runs_dir, overrides)
  return ctx, plans_of
end

return M
