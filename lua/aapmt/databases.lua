-- Where experiments find the databases, the ImageReward weights and the
-- tokenizer vocabulary, and what to tell the user when one is missing.
--
-- Databases are looked for under the assets folder (AAPMT_ASSETS, default
-- "assets", relative to the current directory) in AAPMT's own layout first
-- (assets/AGIQA-3K.csv with the images in assets/AGIQA_3K/;
-- assets/AIGCIQA2023/AIGCIQA2023.csv with assets/AIGCIQA2023/Images/), then
-- in a folder per database holding the CSV and images/.
local a = aapmt
local lfs = require "lfs"

local M = {}

local function assets() return os.getenv("AAPMT_ASSETS") or "assets" end

local function is_file(p) return lfs.attributes(p, "mode") == "file" end
local function is_dir(p) return lfs.attributes(p, "mode") == "directory" end

M.known = {
  agiqa3k = {
    kind = "agiqa3k", title = "AGIQA-3K", targets = {"mos_quality", "mos_align"}, epochs = 10,
    layouts = function(root)
      return {{csv = root .. "/AGIQA-3K.csv", images = root .. "/AGIQA_3K"},
              {csv = root .. "/AGIQA_3K/AGIQA-3K.csv", images = root .. "/AGIQA_3K"},
              {csv = root .. "/AGIQA-3K/AGIQA-3K.csv", images = root .. "/AGIQA-3K/images"}}
    end,
    get = "the AGIQA-3K database (https://github.com/lcysyzxdxc/AGIQA-3k-Database): put AGIQA-3K.csv "
      .. "in assets/ and its 2982 images in assets/AGIQA_3K/",
  },
  aigciqa2023 = {
    kind = "aigciqa2023", title = "AIGCIQA2023", targets = {"mos_quality", "mos_align", "mos_authenticity"},
    epochs = 50,
    layouts = function(root)
      return {{csv = root .. "/AIGCIQA2023/AIGCIQA2023.csv", images = root .. "/AIGCIQA2023/Images"},
              {csv = root .. "/AIGCIQA2023/AIGCIQA2023.csv", images = root .. "/AIGCIQA2023/images"}}
    end,
    get = "the AIGCIQA2023 database (Hugging Face IntMeGroup/AIGCIQA2023): put its rating CSV at "
      .. "assets/AIGCIQA2023/AIGCIQA2023.csv and its 2400 images (0.png ... 2399.png) in "
      .. "assets/AIGCIQA2023/Images/",
  },
}

-- The database's files: {kind=, csv=, images=, title=, targets=}, or nil and
-- one message saying what is missing, where to get it and where to put it.
function M.locate(name)
  local db = M.known[name]
  if not db then
    local names = {}
    for k in pairs(M.known) do names[#names + 1] = k end
    table.sort(names)
    return nil, string.format("unknown database '%s' (known: %s, demo, or {kind=, csv=, images=, targets=})",
      tostring(name), table.concat(names, ", "))
  end
  for _, layout in ipairs(db.layouts(assets())) do
    if is_file(layout.csv) and is_dir(layout.images) then
      return {kind = db.kind, csv = layout.csv, images = layout.images, title = db.title, targets = db.targets}
    end
  end
  return nil, string.format("%s is missing: %s", db.title, db.get)
end

M.imagereward_checkpoint = "checkpoint/ImageReward/ImageReward.pt"

-- ImageReward.pt (the AAPMT layout, or assets/ImageReward.pt), or nil and a message.
function M.imagereward()
  for _, p in ipairs({os.getenv("AAPMT_IMAGEREWARD") or M.imagereward_checkpoint, assets() .. "/ImageReward.pt"}) do
    if is_file(p) then return p end
  end
  return nil, "the ImageReward-v1.0 weights are missing: download ImageReward.pt from the Hugging Face "
    .. "repository THUDM/ImageReward and put it at " .. M.imagereward_checkpoint
end

-- The BERT vocabulary for a checkpoint, or nil and a message.
function M.vocab(explicit, checkpoint)
  local path, where = a.find_vocab(explicit, checkpoint)
  if path then return path end
  return nil, "the tokenizer vocabulary (bert-base-uncased vocab.txt) is missing: download it from the Hugging "
    .. "Face repository bert-base-uncased and put it beside the checkpoint (" .. tostring(where) .. ")"
end

return M
