-- Where experiments find their inputs (the databases, the ImageReward
-- weights, the tokenizer vocabulary) and what to tell the user when one is
-- missing. M.layout is the one place AAPMT's layout is written down: the
-- missing-input messages, `aapmt check` and the help texts are built from
-- it, and tests/lua/test_check.lua holds the READMEs to it.
--
-- Paths are under the project folder (M.project_dir): assets/ (or
-- $AAPMT_ASSETS), checkpoint/ImageReward/ImageReward.pt (or
-- $AAPMT_IMAGEREWARD) and runs/ (or $AAPMT_RUNS). Every function returns
-- absolute paths. Older layouts (a folder per database holding its CSV and
-- images/, assets/ImageReward.pt) are still found, but not documented.
local a = aapmt
local lfs = require "lfs"

local M = {}

-- The documented inputs, paths relative to the project folder.
M.layout = {
  {name = "agiqa3k", title = "AGIQA-3K", missing = "AGIQA-3K is missing", what = "the AGIQA-3K database",
   from = "https://github.com/lcysyzxdxc/AGIQA-3k-Database",
   csv = "assets/AGIQA-3K.csv", images = "assets/AGIQA_3K/", count = 2982},
  {name = "aigciqa2023", title = "AIGCIQA2023", missing = "AIGCIQA2023 is missing", what = "the AIGCIQA2023 database",
   from = "Hugging Face IntMeGroup/AIGCIQA2023",
   csv = "assets/AIGCIQA2023/AIGCIQA2023.csv", images = "assets/AIGCIQA2023/Images/", count = 2400},
  {name = "imagereward", title = "ImageReward-v1.0", missing = "the ImageReward-v1.0 weights are missing",
   what = "the ImageReward-v1.0 weights", from = "Hugging Face THUDM/ImageReward",
   file = "checkpoint/ImageReward/ImageReward.pt"},
  {name = "vocab", title = "vocab.txt",
   missing = "the tokenizer vocabulary (bert-base-uncased vocab.txt) is missing",
   what = "bert-base-uncased's WordPiece vocabulary", from = "Hugging Face bert-base-uncased",
   file = "checkpoint/ImageReward/vocab.txt", entries = 30522},
}
for _, entry in ipairs(M.layout) do M.layout[entry.name] = entry end

M.environment = {
  {"AAPMT_HOME", "the project folder for experiment files outside any"},
  {"AAPMT_ASSETS", "a folder instead of assets/"},
  {"AAPMT_IMAGEREWARD", "a file instead of " .. M.layout.imagereward.file},
  {"AAPMT_RUNS", "a folder instead of runs/"},
}

M.project_rule = "The project folder is the nearest folder at or above the experiment files that holds assets/ "
  .. "or experiments/, else $AAPMT_HOME, else the current directory."

-- ---- paths ----

local function is_file(p) return lfs.attributes(p, "mode") == "file" end
local function is_dir(p) return lfs.attributes(p, "mode") == "directory" end
local function env(name) local v = os.getenv(name) return v ~= "" and v or nil end

-- path made absolute against the current directory, "." and ".." removed
-- by name (so the paths in messages are the ones to type).
local function absolute(path)
  if path:sub(1, 1) ~= "/" then path = lfs.currentdir() .. "/" .. path end
  local parts = {}
  for part in path:gmatch("[^/]+") do
    if part == ".." then parts[#parts] = nil
    elseif part ~= "." then parts[#parts + 1] = part end
  end
  return "/" .. table.concat(parts, "/")
end

local function parent(path) return path:match("^(.+)/[^/]*$") or "/" end

function M.project_dir(path)
  local dir = absolute(path or ".")
  if not is_dir(dir) then dir = parent(dir) end
  while true do
    if is_dir(dir .. "/assets") or is_dir(dir .. "/experiments") then return dir end
    if dir == "/" then break end
    dir = parent(dir)
  end
  return absolute(env("AAPMT_HOME") or ".")
end

local function project_of(project) return project and absolute(project) or M.project_dir() end

function M.assets_dir(project)
  return env("AAPMT_ASSETS") and absolute(env("AAPMT_ASSETS")) or project_of(project) .. "/assets"
end

function M.runs_dir(project)
  return env("AAPMT_RUNS") and absolute(env("AAPMT_RUNS")) or project_of(project) .. "/runs"
end

-- A layout path ("assets/...", "checkpoint/...") where it is for project.
local function resolve(rel, project)
  rel = rel:gsub("/$", "")
  local in_assets = rel:match("^assets/(.*)$")
  if in_assets then return M.assets_dir(project) .. "/" .. in_assets end
  if rel == M.layout.imagereward.file and env("AAPMT_IMAGEREWARD") then return absolute(env("AAPMT_IMAGEREWARD")) end
  return project_of(project) .. "/" .. rel
end

-- Where an input of the layout goes for project: {csv=, images=} for a
-- database, the file's path otherwise (vocab.txt: beside the checkpoint).
function M.expected(name, project)
  local entry = assert(M.layout[name], "databases.expected: unknown input")
  if entry.csv then return {csv = resolve(entry.csv, project), images = resolve(entry.images, project)} end
  if name == "vocab" then return parent(resolve(M.layout.imagereward.file, project)) .. "/vocab.txt" end
  return resolve(entry.file, project)
end

-- What to do about an input: where to get it and where to put it. The
-- vocabulary goes beside checkpoint (default: the project's ImageReward.pt).
function M.advice(name, project, checkpoint)
  local entry = M.layout[name]
  local put
  if entry.csv then
    put = string.format("%s in %s and its %d images in %s (assets/ is %s)", entry.csv:match("[^/]+$"),
      entry.csv:match("^(.*/)"), entry.count, entry.images, M.assets_dir(project))
  elseif name == "vocab" then
    put = string.format("it beside the checkpoint, at %s",
      checkpoint and parent(absolute(checkpoint)) .. "/vocab.txt" or M.expected("vocab", project))
  elseif env("AAPMT_IMAGEREWARD") then
    put = string.format("it at %s (AAPMT_IMAGEREWARD)", M.expected(name, project))
  else
    put = string.format("it at %s (%s)", entry.file, M.expected(name, project))
  end
  return string.format("download %s from %s and put %s", entry.csv and entry.what or entry.file:match("[^/]+$"),
    entry.from, put)
end

-- The layout as help text, indented by `indent`: three lines an input.
function M.describe(indent)
  indent = indent or "  "
  local lines = {}
  for _, e in ipairs(M.layout) do
    local where = e.csv and string.format("%s, images in %s", e.csv, e.images)
      or e.name == "vocab" and e.file .. ", beside the checkpoint" or e.file
    local what = e.what .. (e.count and string.format(" (%d images)", e.count)
      or e.entries and string.format(" (%d entries)", e.entries) or "")
    lines[#lines + 1] = string.format("%s%s\n%s    %s\n%s    from %s\n", indent, where, indent, what, indent, e.from)
  end
  return table.concat(lines)
end

-- ---- finding the inputs ----

local function layouts(name)
  local entry = M.layout[name]
  return function(root)   -- root: the assets folder
    local documented = {csv = root .. "/" .. entry.csv:gsub("^assets/", ""),
      images = root .. "/" .. entry.images:gsub("^assets/", ""):gsub("/$", "")}
    if name == "agiqa3k" then
      return {documented, {csv = root .. "/AGIQA_3K/AGIQA-3K.csv", images = root .. "/AGIQA_3K"},
              {csv = root .. "/AGIQA-3K/AGIQA-3K.csv", images = root .. "/AGIQA-3K/images"}}
    end
    return {documented, {csv = root .. "/AIGCIQA2023/AIGCIQA2023.csv", images = root .. "/AIGCIQA2023/images"}}
  end
end

M.known = {
  agiqa3k = {kind = "agiqa3k", title = "AGIQA-3K", targets = {"mos_quality", "mos_align"}, epochs = 10,
    layouts = layouts("agiqa3k")},
  aigciqa2023 = {kind = "aigciqa2023", title = "AIGCIQA2023",
    targets = {"mos_quality", "mos_align", "mos_authenticity"},
    epochs = 50, layouts = layouts("aigciqa2023")},
}

-- The database's files: {kind=, csv=, images=, title=, targets=}, or nil and
-- one message saying what is missing, where to get it and where to put it.
function M.locate(name, project)
  local db = M.known[name]
  if not db then
    local names = {}
    for k in pairs(M.known) do names[#names + 1] = k end
    table.sort(names)
    return nil, string.format("unknown database '%s' (known: %s, demo, or {kind=, csv=, images=, targets=})",
      tostring(name), table.concat(names, ", "))
  end
  for _, layout in ipairs(db.layouts(M.assets_dir(project))) do
    if is_file(layout.csv) and is_dir(layout.images) then
      return {kind = db.kind, csv = layout.csv, images = layout.images, title = db.title, targets = db.targets}
    end
  end
  return nil, M.layout[name].missing .. ": " .. M.advice(name, project)
end

M.imagereward_checkpoint = M.layout.imagereward.file

-- ImageReward.pt, or nil, the message and the path where it should be.
function M.imagereward(project)
  local path = M.expected("imagereward", project)
  if is_file(path) then return path end
  local old = M.assets_dir(project) .. "/ImageReward.pt"
  if not env("AAPMT_IMAGEREWARD") and is_file(old) then return old end
  return nil, M.layout.imagereward.missing .. ": " .. M.advice("imagereward", project), path
end

-- What to say when there is no checkpoint at path: the file, and where the
-- ImageReward-v1.0 weights come from and go (the advice aapmt batch gives).
function M.checkpoint_missing(path)
  return string.format("%s: no such file; %s", path, M.advice("imagereward"))
end

-- The BERT vocabulary for a checkpoint, or nil and a message.
function M.vocab(explicit, checkpoint)
  local path, where = a.find_vocab(explicit, checkpoint)
  if path then return path end
  local entry = M.layout.vocab
  if explicit or not checkpoint then return nil, entry.missing .. ": " .. tostring(where) end
  return nil, entry.missing .. ": " .. M.advice("vocab", nil, checkpoint)
end

return M
