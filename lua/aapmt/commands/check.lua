-- aapmt check [DIR|FILE ...] [key=value ...]: the inputs that experiment
-- files need (databases, ImageReward weights, vocabulary), each found or
-- not, with what is wrong, where to get it and which experiments need it.
local cli = require "aapmt.cli"
local lfs = require "lfs"
local databases = require "aapmt.databases"
local experiment = require "aapmt.experiment"
local plan = require "aapmt.experiment_plan"
local a = aapmt

-- text broken into lines of at most width characters
local function wrap(text, width)
  local lines, line = {}, ""
  for word in text:gmatch("%S+") do
    if #line > 0 and #line + 1 + #word > width then lines[#lines + 1], line = line, word
    else line = #line > 0 and line .. " " .. word or word end
  end
  lines[#lines + 1] = line
  return table.concat(lines, "\n") .. "\n"
end

local environment = {}
for _, e in ipairs(databases.environment) do
  environment[#environment + 1] = string.format("  %-18s %s\n", e[1], e[2])
end

local usage = [[
usage: aapmt check [DIR|FILE ...] [key=value ...]

Says, for the experiment files under each path (default: experiments/paper
of the project folder), which inputs they need and whether each is there:
a database's rows and how many of their images exist, the checkpoint's size
and whether its keys are ImageReward-v1.0's, the vocabulary's size; for a
missing input, where to get it and where to put it; and which experiments
need it. key=value overrides apply as in aapmt batch.

Where the inputs go, under the project folder:
]] .. databases.describe() .. "\n" .. wrap(databases.project_rule, 76) .. "\n" .. table.concat(environment) .. [[

Exit status: 0 when every input needed is there, 1 when one is missing or
wrong (or a file does not load), 2 for a wrong command line.
]]

local function is_file(p) return lfs.attributes(p, "mode") == "file" end
local function is_dir(p) return lfs.attributes(p, "mode") == "directory" end

local function absolute(p) return p:sub(1, 1) == "/" and p or lfs.currentdir() .. "/" .. p end

local function human(bytes)
  for _, u in ipairs({{1e9, "GB"}, {1e6, "MB"}, {1e3, "kB"}}) do
    if bytes >= u[1] then return string.format("%.1f %s", bytes / u[1], u[2]) end
  end
  return bytes .. " B"
end

-- "a, b, c and 4 more"
local function some(list, total)
  local s = table.concat(list, ", ", 1, math.min(#list, 3))
  return total > 3 and string.format("%s and %d more", s, total - 3) or s
end

-- Experiment files under each path (a file, or the .lua files of a folder
-- and its subfolders), sorted, as aapmt batch finds them. (Not batch.files:
-- requiring batch.lua loads the whole training stack.)
local function experiment_files(paths)
  local out = {}
  local function walk(p)
    if not is_dir(p) then out[#out + 1] = p return end
    local names = {}
    for name in lfs.dir(p) do
      if name:sub(1, 1) ~= "." and (name:find("%.lua$") or is_dir(p .. "/" .. name)) then names[#names + 1] = name end
    end
    table.sort(names)
    for _, name in ipairs(names) do walk(p .. "/" .. name) end
  end
  for _, p in ipairs(paths) do walk(p) end
  return out
end

-- ---- what an ImageReward-v1.0 checkpoint holds ----

-- Key names depend on the depths only, so a model of v1.0's depths with
-- tiny widths has v1.0's names without allocating 470M parameters.
local v1_names
local function imagereward_v1_names()
  if v1_names then return v1_names end
  local v, t = plan.imagereward_v1.vision, plan.imagereward_v1.text
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(string.format([[{"vision": {"image_size": 16, "patch_size": 16, "width": 8, "depth": %d, "heads": 1,
  "mlp_ratio": 1.0}, "text": {"hidden_size": 8, "num_hidden_layers": %d, "num_attention_heads": 1,
  "intermediate_size": 8, "vocab_size": 4, "max_position_embeddings": 4, "layer_norm_eps": 1e-12},
  "head": {"hidden_sizes": [1, 1, 1, 1], "dropouts": [0, 0, 0]}}]], v.depth, t.num_hidden_layers))
  f:close()
  local ok, model = pcall(a.imagereward_random, path)
  os.remove(path)
  if not ok then error(model, 0) end
  v1_names = {}
  for i, p in ipairs(model:parameters()) do v1_names[i] = p.name end
  model:free()
  return v1_names
end

-- Keys ImageReward.pt holds that the model does not use (the loader's
-- ir_unused_keys in core/model/imagereward.c).
local function unused(name)
  return name:find("^blip%.vision_proj%.") or name:find("^blip%.text_proj%.")
    or name == "blip.text_encoder.embeddings.position_ids"
end

-- ---- one check per kind of input: {status=, detail=, advice=} ----

local function check_database(db, entry, skip_missing, advice)
  local ok, ds = pcall(a.dataset, {kind = db.kind, csv = db.csv, targets = db.targets})
  if not ok then return {status = "wrong", detail = tostring(ds), advice = advice} end
  local names, rows = ds:column("name"), ds:size()
  ds:free()
  local absent = {}
  for _, name in ipairs(names) do
    if not is_file(db.images .. "/" .. name) then absent[#absent + 1] = name end
  end
  local detail = string.format("%s, %d row%s%s; %s in %s", db.csv, rows, rows == 1 and "" or "s",
    entry and rows ~= entry.count and string.format(" (the full database has %d)", entry.count) or "",
    #absent == 0 and string.format("all %d images", rows) or string.format("%d of their images", rows - #absent),
    db.images)
  if #absent == 0 then return {status = "found", detail = detail} end
  detail = detail .. "; missing: " .. some(absent, #absent)
  if skip_missing then return {status = "found", detail = detail .. " (skip_missing)"} end
  return {status = "incomplete", detail = detail, advice = advice}
end

local function check_named_database(name, project)
  local entry, advice = databases.layout[name], databases.advice(name, project)
  local found = databases.locate(name, project)
  if found then return check_database(found, entry, false, advice) end
  local want = databases.expected(name, project)
  local function say(p, is) return p .. (is(p) and " is there" or " does not exist") end
  return {status = "missing", detail = say(want.csv, is_file) .. ", " .. say(want.images, is_dir), advice = advice}
end

local function check_table_database(d)
  local db = {kind = d.kind or "csv", csv = absolute(d.csv), images = absolute(d.images),
    targets = d.targets or (databases.known[d.kind or ""] or {}).targets}
  local advice = "give database.csv and database.images that exist"
  for _, p in ipairs({db.csv, db.images}) do
    if not lfs.attributes(p) then return {status = "missing", detail = p .. " does not exist", advice = advice} end
  end
  return check_database(db, nil, d.skip_missing, "put the missing images in " .. db.images)
end

-- A checkpoint; with v1, its key names compared with ImageReward-v1.0's.
local function check_checkpoint(path, v1, advice)
  if not is_file(path) then return {status = "missing", detail = path .. " does not exist", advice = advice} end
  local ok, tensors, names = pcall(a.load, path)
  if not ok then return {status = "wrong", detail = tostring(tensors), advice = advice} end
  local detail = string.format("%s, %s, %d tensors", path, human(lfs.attributes(path, "size")), #names)
  if not v1 then return {status = "found", detail = detail} end
  local have, want, missing, unexpected = {}, {}, {}, {}
  for _, n in ipairs(names) do have[n] = true end
  for _, n in ipairs(imagereward_v1_names()) do
    want[n] = true
    if not have[n] then missing[#missing + 1] = n end
  end
  for _, n in ipairs(names) do
    if not want[n] and not unused(n) then unexpected[#unexpected + 1] = n end
  end
  if #missing == 0 and #unexpected == 0 then
    return {status = "found", detail = detail .. " with ImageReward-v1.0's key names"}
  end
  local wrong = {}
  if #missing > 0 then wrong[#wrong + 1] = "missing: " .. some(missing, #missing) end
  if #unexpected > 0 then wrong[#wrong + 1] = "unexpected: " .. some(unexpected, #unexpected) end
  return {status = "wrong", detail = detail .. ", not ImageReward-v1.0's keys (" .. table.concat(wrong, "; ") .. ")",
    advice = advice}
end

local function check_vocab(path, looked, entries, advice)
  if not path then
    local where = tostring(looked):match("looked at: (.*)$") or tostring(looked)
    return {status = "missing", detail = "looked at " .. where, advice = advice}
  end
  path = absolute(path)
  if not is_file(path) then return {status = "missing", detail = path .. " does not exist", advice = advice} end
  local ok, tok = pcall(a.tokenizer, path)
  if not ok then return {status = "wrong", detail = tostring(tok), advice = advice} end
  tok:free()
  local n = 0
  for _ in io.lines(path) do n = n + 1 end
  local detail = string.format("%s, %d entries", path, n)
  if entries and n ~= entries then
    return {status = "wrong", detail = string.format("%s (bert-base-uncased's has %d)", detail, entries),
      advice = advice}
  end
  return {status = "found", detail = detail}
end

-- ---- the inputs of every variant ----

local function gather(files, overrides)
  local inputs, by_key, errors, variants_of = {}, {}, {}, {}
  -- rank: where the input comes in the output (the layout's order).
  local function need(key, title, rank, user, run)
    local input = by_key[key]
    if not input then
      input = run()
      input.title, input.rank, input.order, input.users, input.by = title, rank, #inputs, {}, {}
      by_key[key] = input
      inputs[#inputs + 1] = input
    end
    if not input.by[user.name] then
      input.by[user.name] = {}
      input.users[#input.users + 1] = user.name
    end
    table.insert(input.by[user.name], user.id)
  end
  for _, file in ipairs(files) do
    local project = databases.project_dir(file)
    local ok, decl = pcall(experiment.load, file)
    local variants, why = {}, decl
    if ok then ok, why = pcall(experiment.variants, decl, overrides) end
    if ok then variants, variants_of[decl.name] = why, #why
    else errors[#errors + 1] = tostring(why) end
    for _, v in ipairs(variants) do
      local f, user = v.fields, {name = decl.name, id = v.id}
      local d = f.database
      local demo = d == "demo" or type(d) == "table" and d.demo ~= nil
      if type(d) == "string" and not demo then
        if databases.known[d] then
          need("database " .. d .. " " .. project, databases.layout[d].title, 1, user,
            function() return check_named_database(d, project) end)
        else
          local _, why = databases.locate(d)
          errors[#errors + 1] = string.format("%s: experiment '%s': %s", file, decl.name, why)
        end
      elseif type(d) == "table" and not demo then
        need("database " .. absolute(d.csv), d.title or d.csv:match("[^/]+$"), 2, user,
          function() return check_table_database(d) end)
      end
      local start = f.start or (demo and "random" or "imagereward")
      local checkpoint, expect_entries
      if d == false then
        start = nil   -- a report over other experiments' results: no inputs
      elseif start == "imagereward" then
        local path, _, expected = databases.imagereward(project)
        checkpoint, expect_entries = path or expected, databases.layout.vocab.entries
        need("checkpoint " .. checkpoint, databases.layout.imagereward.title, 3, user,
          function() return check_checkpoint(checkpoint, true, databases.advice("imagereward", project)) end)
      elseif type(start) == "string" and start ~= "random" then
        -- relative to the project folder, as experiment_plan.lua takes it
        checkpoint = start:sub(1, 1) == "/" and start or project .. "/" .. start
        need("checkpoint " .. checkpoint, "checkpoint", 4, user,
          function() return check_checkpoint(checkpoint, false, "give a start checkpoint that exists") end)
      end
      if start and (f.vocab or checkpoint and not demo) then
        local path, looked = f.vocab, nil
        if not path then path, looked = a.find_vocab(nil, checkpoint) end
        local advice = f.vocab and string.format("the experiment's vocab = names %s: put the file there", absolute(f.vocab))
          or databases.advice("vocab", project, checkpoint)
        need("vocab " .. (path and absolute(path) or "beside " .. checkpoint), databases.layout.vocab.title, 5, user,
          function() return check_vocab(path, looked, expect_entries, advice) end)
      end
    end
  end
  table.sort(inputs, function(x, y) return x.rank < y.rank or x.rank == y.rank and x.order < y.order end)
  return inputs, errors, variants_of
end

local function needed_by(input, variants_of)
  local out = {}
  for _, name in ipairs(input.users) do
    local ids = input.by[name]
    out[#out + 1] = (#ids == variants_of[name] or ids[1] == "") and name
      or string.format("%s [%s]", name, table.concat(ids, "; "))
  end
  return table.concat(out, ", ")
end

return cli.command("check", usage, {}, function(_, positional)
  local paths, overrides = {}, {}
  for _, p in ipairs(positional) do
    if p:find("^[%a_][%w_%.]*=") then overrides[#overrides + 1] = p else paths[#paths + 1] = p end
  end
  local repeated_ok, repeated = pcall(experiment.check_repeated, overrides)
  if not repeated_ok then cli.fail(repeated, 2) end
  local default = #paths == 0
  if default then paths = {databases.project_dir() .. "/experiments/paper"} end
  for _, p in ipairs(paths) do
    if not lfs.attributes(p) then
      cli.fail(string.format("%s: no such file or folder%s", p, default and " (give DIR|FILE, run aapmt check in the "
        .. "project folder, or set AAPMT_HOME)" or ""), not default and 2 or 1)
    end
  end
  local files = experiment_files(paths)
  local inputs, errors, variants_of = gather(files, overrides)
  local projects, seen = {}, {}
  for _, file in ipairs(files) do
    local p = databases.project_dir(file)
    if not seen[p] then seen[p], projects[#projects + 1] = true, p end
  end
  io.write(string.format("%d experiment file%s; project folder %s\n", #files, #files == 1 and "" or "s",
    table.concat(projects, ", ")))
  local ready = 0
  for _, input in ipairs(inputs) do
    io.write(string.format("%-10s  %s: %s\n", input.status, input.title, input.detail))
    if input.status == "found" then ready = ready + 1
    else io.write("            to fix: ", input.advice, "\n") end
    io.write("            needed by: ", needed_by(input, variants_of), "\n")
  end
  for _, e in ipairs(errors) do io.write("error       ", e, "\n") end
  io.write(string.format("%d of %d inputs ready%s\n", ready, #inputs,
    #errors > 0 and string.format(", %d experiment files with errors", #errors) or ""))
  return (ready == #inputs and #errors == 0) and 0 or 1
end)
