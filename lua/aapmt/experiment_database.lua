-- The database of an experiment variant (experiment_plan.lua): a named
-- one found in the assets, the built-in demo (keyed by what its generator
-- draws, drawn only when a run needs it), or a CSV with its images; its
-- columns and every image checked before any work; and its identity for
-- the training fingerprint, by content.
local a = aapmt
local folder = require "aapmt.run_folder"
local databases = require "aapmt.databases"
local experiment = require "aapmt.experiment"
local fingerprint = require "aapmt.fingerprint"
local interrupts = require "aapmt.interrupts"

local M = {}
local fail_at, canonical = experiment.fail_at, fingerprint.canonical

local function fnv1a(s)   -- a short, stable tag for the demo database's folder name
  local h = -3750763034362895579   -- 0xcbf29ce484222325
  for i = 1, #s do h = (h ~ s:byte(i)) * 1099511628211 end
  return string.format("%016x", h)
end

local function demo_database(opts, runs)
  opts = opts == true and {} or opts
  local o = {images = opts.images or 400, size = opts.size or 32, seed = opts.seed or 42,
    per_prompt = opts.per_prompt or 4}
  -- The folder is keyed by the parameters and by what the generator draws
  -- (the first rows' prompts and scores), so a cache from another version
  -- of the generator is never reused.
  local db = a.demo_db(o)
  local drawn = {}
  for i = 1, math.min(3, db:size()) do
    local r = db:row(i)
    drawn[#drawn + 1] = string.format("%s|%.17g|%.17g|%.17g", r.prompt, r.mos_quality, r.mos_align, r.mos_authenticity)
  end
  db:free()
  local key = fnv1a(table.concat(drawn, "\n"))
  local dir = string.format("%s/.databases/demo-%d-%dpx-seed%d-%dpp-%s", runs, o.images, o.size, o.seed,
    o.per_prompt, key:sub(1, 8))
  return {kind = "csv", csv = dir .. "/demo.csv", images = dir .. "/images", title = "demo",
    targets = {"mos_quality", "mos_align", "mos_authenticity"}, vocab = dir .. "/vocab.txt", demo = o,
    dir = dir, identity = string.format("demo images=%d size=%d seed=%d per_prompt=%d generator=%s", o.images,
      o.size, o.seed, o.per_prompt, key)}
end

function M.is_demo(f)
  return f.database == "demo" or type(f.database) == "table" and f.database.demo ~= nil
end

-- Column names, as a list: {"mos_quality", "mos_align"}.
local function check_targets(decl, targets)
  if targets == nil then return end
  local ok = type(targets) == "table"
  local n = 0
  for k, v in pairs(ok and targets or {}) do
    n = n + 1
    if math.type(k) ~= "integer" or type(v) ~= "string" then
      fail_at(decl, "targets", "database.targets must be a list of column names, e.g. {\"mos_quality\", "
        .. "\"mos_align\"}; found %s = %s", tostring(k), canonical(v))
    end
  end
  if not ok or n == 0 or n ~= #targets then
    fail_at(decl, "targets", "database.targets must be a non-empty list of column names, e.g. {\"mos_quality\"}")
  end
end

-- {kind=, csv=, images=, targets=, title=, ...}, or nil and what is missing.
function M.resolve(decl, f, p)
  local d = f.database
  if d == nil then fail_at(decl, "database", "'database' is required") end
  if M.is_demo(f) then return demo_database(d == "demo" and {} or d.demo, p.runs) end
  if type(d) == "string" then
    local found, why = databases.locate(d, p.project)
    if not found and not databases.known[d] then fail_at(decl, "database", "%s", why) end
    return found, why
  end
  for _, key in ipairs({"csv", "images"}) do
    if type(d[key]) ~= "string" then fail_at(decl, "database", "database.%s (a path) is required", key) end
  end
  check_targets(decl, d.targets)
  for key, kind in pairs({csv = "file", images = "directory"}) do
    local facts = a.file_facts(d[key])
    if not facts or facts.kind ~= kind then
      fail_at(decl, key, "database.%s: %s is not a %s", key, d[key], kind == "file" and "readable file" or "folder")
    end
  end
  local known = databases.known[d.kind or ""]
  local db = {kind = d.kind or "csv", csv = d.csv, images = d.images, skip_missing = d.skip_missing,
    title = d.title or d.csv:match("[^/]*$"), targets = d.targets or (known and known.targets) or {}}
  -- Opening it checks the columns and every row's image now, not after hours of work.
  local ok, ds = interrupts.pcall(a.dataset, {kind = db.kind, csv = db.csv, images = db.images, targets = db.targets,
    skip_missing = db.skip_missing})
  if not ok then fail_at(decl, d.targets and "targets" or "database", "%s", tostring(ds)) end
  ds:free()
  return db
end

-- The database by content: its CSV's bytes, and each row's image by name,
-- size and content (hashes are cached, so this reads the images once).
-- Opening it also checks every target column and image before any work.
function M.identity(decl, db)
  if db.identity then return db.identity end
  local ok, ds = interrupts.pcall(a.dataset, {kind = db.kind, csv = db.csv, images = db.images, targets = db.targets,
    skip_missing = db.skip_missing})
  if not ok then fail_at(decl, "database", "%s", tostring(ds)) end
  local lines = {"csv " .. assert(fingerprint.file(db.csv))}
  for i = 1, ds:size() do
    local r = ds:row(i)
    local hash, why = fingerprint.file(r.image)
    if not hash then ds:free(); fail_at(decl, "database", "%s", why) end
    lines[#lines + 1] = string.format("%s %d %s", r.name, a.file_facts(r.image).size, hash)
  end
  local skipped = ds:skipped()
  db.rows = ds:size()
  ds:free()
  return string.format("%s rows=%d skipped=%d %s", db.kind, db.rows, skipped, a.sha256(table.concat(lines, "\n")))
end

-- Draws the demo database when it is not there yet. The cache is shared by
-- every run under runs/: a second process waits for the one drawing (and
-- then finds it drawn), and the drawing goes into DIR.partial, renamed into
-- place when complete, so no one ever reads a half-drawn database, not even
-- after a drawing process was killed.
function M.draw(db)
  if not db.demo or folder.exists(db.csv) then return end
  folder.mkdir(db.dir:match("^(.*)/"))
  local lock <close> = folder.lock(db.dir, {file = db.dir .. ".lock", wait = true})
  if folder.exists(db.csv) then return end   -- drawn while we waited
  local partial = db.dir .. ".partial"
  folder.remove_tree(partial)   -- a killed drawing's
  folder.remove_tree(db.dir)    -- a folder without its CSV, drawn before drawings were renamed into place
  folder.mkdir(partial)
  local d = a.demo_db(db.demo)
  local ok, err = pcall(d.write, d, partial)
  d:free()
  if not ok then error(err, 0) end
  local renamed, why = os.rename(partial, db.dir)
  if not renamed then error(string.format("cannot rename %s to %s: %s", partial, db.dir, tostring(why)), 0) end
end

return M
