-- `aapmt check` and databases.lua's project folder: a fake project (two
-- small databases in AAPMT's layout, a checkpoint with ImageReward-v1.0's
-- key names and tiny tensors, a vocabulary) checked from another folder,
-- with an image missing, a wrong key, AAPMT_ASSETS, AAPMT_IMAGEREWARD and
-- AAPMT_HOME; and the READMEs held to databases.layout.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local lfs = require "lfs"
local files = require "files"
local databases = require "aapmt.databases"
local plan = require "aapmt.experiment_plan"
local a = aapmt


local here = files.absolute(arg[0]:match("^(.*)/") or ".")
local root = here:gsub("/tests/lua$", "")
local fixtures = root .. "/tests/fixtures"
local aapmt_bin = files.absolute(arg[-1])
local tmp = os.tmpname()
os.remove(tmp)
local project, elsewhere = tmp .. "/project", tmp .. "/elsewhere"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end
local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end
local function mkdirs(path)
  local sofar = ""
  for part in path:gmatch("[^/]+") do
    sofar = sofar .. "/" .. part
    lfs.mkdir(sofar)
  end
end
local function has(s, fragment) return s:find(fragment, 1, true) ~= nil end
local function paths_of(entry) return entry.csv and {entry.csv, entry.images} or {entry.file} end

-- Runs aapmt in dir with env ("NAME=value ..."), the user's AAPMT_* and
-- Hugging Face cache variables cleared so only the fake project is seen.
local function aapmt_in(dir, env, args)
  local out, err = tmp .. "/stdout", tmp .. "/stderr"
  local _, _, status = os.execute(string.format("cd %q && env -u AAPMT_ASSETS -u AAPMT_IMAGEREWARD -u AAPMT_HOME "
    .. "-u AAPMT_RUNS -u HF_HUB_CACHE -u HUGGINGFACE_HUB_CACHE -u TRANSFORMERS_CACHE -u HF_HOME -u XDG_CACHE_HOME "
    .. "HOME=%q %s %q %s >%q 2>%q </dev/null", dir, tmp, env or "", aapmt_bin, args, out, err))
  return status, read(out), read(err)
end

-- ---- the fake project ----
for _, d in ipairs({project .. "/experiments/paper", project .. "/assets/AGIQA_3K",
    project .. "/assets/AIGCIQA2023/Images", project .. "/checkpoint/ImageReward", elsewhere, tmp .. "/loose"}) do
  mkdirs(d)
end
local function experiment_file(path, body) write(path, "return aapmt.experiment{" .. body .. "}\n") end
local paper = project .. "/experiments/paper"
experiment_file(paper .. "/agiqa_quality.lua", [[database = "agiqa3k", train = {metrics = {"quality"}}]])
experiment_file(paper .. "/both.lua", [[sweep = {database = {"agiqa3k", "aigciqa2023"}}, train = false]])
experiment_file(paper .. "/transfer.lua", [[database = "aigciqa2023", start = {experiment = "agiqa_quality"},
  train = {metrics = {"align"}}]])
experiment_file(paper .. "/demo.lua", [[database = "demo", train = false]])

local images = {"rgb_224x224.jpg", "grey.jpg", "rgb_32x33.png"}
local agiqa = {"name,prompt,adj1,adj2,style,mos_quality,std_quality,mos_align,std_align\n"}
local aigc = {",name,prompt,style,class,quality_mos,authenticity_mos,correspondence_mos,quality_std,authenticity_std,"
  .. "correspondence_std\n"}
for i, image in ipairs(images) do
  local name = string.format("AttnGAN_normal_%03d.jpg", i - 1)
  write(project .. "/assets/AGIQA_3K/" .. name, read(fixtures .. "/image/" .. image))
  agiqa[#agiqa + 1] = string.format("%s,prompt %d,,,,%g,0.5,%g,0.5\n", name, i, i / 2, i / 3)
  aigc[#aigc + 1] = string.format("%d,%d.png,prompt %d,Basic,Animals,%d,%d,%d,1,1,1\n", i - 1, i - 1, i, 50 + i,
    40 + i, 60 - i)
end
write(project .. "/assets/AGIQA-3K.csv", table.concat(agiqa))
write(project .. "/assets/AIGCIQA2023/AIGCIQA2023.csv", table.concat(aigc))
-- 2.png is left out: the database is incomplete.
write(project .. "/assets/AIGCIQA2023/Images/0.png", read(fixtures .. "/image/palette_50x40.png"))
write(project .. "/assets/AIGCIQA2023/Images/1.png", read(fixtures .. "/image/rgb_37x23.png"))

-- ImageReward-v1.0's key names come from its depths; tiny widths keep it small.
local config = tmp .. "/v1_depths.json"
write(config, string.format([[{"vision": {"image_size": 16, "patch_size": 16, "width": 8, "depth": %d, "heads": 1,
  "mlp_ratio": 1.0}, "text": {"hidden_size": 8, "num_hidden_layers": %d, "num_attention_heads": 1,
  "intermediate_size": 8, "vocab_size": 4, "max_position_embeddings": 4, "layer_norm_eps": 1e-12}}]],
  plan.imagereward_v1.vision.depth, plan.imagereward_v1.text.num_hidden_layers))
local checkpoint = project .. "/checkpoint/ImageReward/ImageReward.pt"
do
  local model = a.imagereward_random(config)
  model:save(checkpoint)
  model:free()
  -- Keys ImageReward.pt holds and the model does not use are no fault.
  local tensors = a.load(checkpoint)
  tensors["blip.vision_proj.weight"] = a.zeros(2, 8)
  tensors["blip.text_encoder.embeddings.position_ids"] = a.zeros({1, 4}, "i64")
  a.save(tensors, checkpoint)
end
local vocab = {read(fixtures .. "/tokenizer/vocab.txt")}
local _, lines = vocab[1]:gsub("\n", "")
for i = lines + 1, databases.layout.vocab.entries do vocab[#vocab + 1] = "[filler" .. i .. "]\n" end
vocab = table.concat(vocab)

-- ---- as it is: an image and the vocabulary missing ----
local status, out = aapmt_in(project .. "/assets", nil, "check")
check.eq(status, 1, "inputs missing: exit status 1\n" .. out)
check.truthy(has(out, "4 experiment files; project folder " .. project),
  "the project is found from a subfolder: " .. out)
status, out = aapmt_in(elsewhere, nil, "check " .. paper)
check.eq(status, 1, "from another folder too\n" .. out)
io.write("aapmt check ", paper, ":\n", out)
check.truthy(has(out, "found       AGIQA-3K: " .. project .. "/assets/AGIQA-3K.csv, 3 rows (the full database has "
  .. "2982); all 3 images in " .. project .. "/assets/AGIQA_3K\n"), "AGIQA-3K found and counted: " .. out)
check.truthy(has(out, "needed by: agiqa_quality, both [database=agiqa3k]\n"), "who needs AGIQA-3K: " .. out)
check.truthy(has(out, "incomplete  AIGCIQA2023: " .. project .. "/assets/AIGCIQA2023/AIGCIQA2023.csv, 3 rows (the full "
  .. "database has 2400); 2 of their images in " .. project .. "/assets/AIGCIQA2023/Images; missing: 2.png\n"),
  "the missing image is named: " .. out)
check.truthy(has(out, "needed by: both [database=aigciqa2023], transfer\n"), "who needs AIGCIQA2023: " .. out)
check.truthy(has(out, "found       ImageReward-v1.0: " .. checkpoint)
  and has(out, "622 tensors with ImageReward-v1.0's key names"), "the checkpoint's keys are v1.0's: " .. out)
check.truthy(has(out, "missing     vocab.txt: looked at " .. project .. "/checkpoint/ImageReward/vocab.txt"), out)
check.truthy(has(out, "to fix: download vocab.txt from Hugging Face bert-base-uncased and put it beside the "
  .. "checkpoint, at " .. project .. "/checkpoint/ImageReward/vocab.txt"), "where the vocabulary goes: " .. out)
check.truthy(not has(out, "demo"), "the demo needs no input: " .. out)
check.truthy(has(out, "2 of 4 inputs ready\n"), out)

-- ---- the layout completed: exit 0 ----
write(project .. "/assets/AIGCIQA2023/Images/2.png", read(fixtures .. "/image/rgb_35x32.png"))
write(project .. "/checkpoint/ImageReward/vocab.txt", vocab)
status, out = aapmt_in(elsewhere, nil, "check " .. paper)
check.eq(status, 0, "everything there: exit status 0\n" .. out)
check.truthy(has(out, "found       vocab.txt: " .. project .. "/checkpoint/ImageReward/vocab.txt, 30522 entries\n"),
  out)
check.truthy(has(out, "4 of 4 inputs ready\n"), out)

-- ---- a checkpoint with a wrong key; AAPMT_IMAGEREWARD picks another ----
mkdirs(tmp .. "/good")
os.rename(checkpoint, tmp .. "/good/ImageReward.pt")
write(tmp .. "/good/vocab.txt", vocab)
do
  local tensors = a.load(tmp .. "/good/ImageReward.pt")
  tensors["mlp.layer.7.bias"], tensors["mlp.layers.7.bias"] = tensors["mlp.layers.7.bias"], nil
  a.save(tensors, checkpoint)
end
status, out = aapmt_in(elsewhere, nil, "check " .. paper)
check.eq(status, 1, "a wrong key: exit status 1\n" .. out)
check.truthy(has(out, "wrong       ImageReward-v1.0: " .. checkpoint)
  and has(out, "not ImageReward-v1.0's keys (missing: mlp.layers.7.bias; unexpected: mlp.layer.7.bias)"),
  "the wrong key is named: " .. out)
status, out = aapmt_in(elsewhere, "AAPMT_IMAGEREWARD=" .. tmp .. "/good/ImageReward.pt", "check " .. paper)
check.eq(status, 0, "AAPMT_IMAGEREWARD is honoured\n" .. out)
check.truthy(has(out, "found       ImageReward-v1.0: " .. tmp .. "/good/ImageReward.pt")
  and has(out, "found       vocab.txt: " .. tmp .. "/good/vocab.txt"), "the checkpoint and its vocabulary: " .. out)
os.rename(tmp .. "/good/ImageReward.pt", checkpoint)

-- ---- AAPMT_HOME: experiment files outside any project ----
experiment_file(tmp .. "/loose/quality.lua", [[database = "agiqa3k", train = false]])
status, out = aapmt_in(elsewhere, "AAPMT_HOME=" .. project, "check " .. tmp .. "/loose")
check.eq(status, 0, "AAPMT_HOME is the project\n" .. out)
check.truthy(has(out, "project folder " .. project .. "\n") and has(out, "found       AGIQA-3K: " .. project), out)
status, out = aapmt_in(elsewhere, nil, "check " .. tmp .. "/loose")
check.eq(status, 1, "without AAPMT_HOME the current folder is the project\n" .. out)
check.truthy(has(out, "missing     AGIQA-3K: " .. elsewhere .. "/assets/AGIQA-3K.csv does not exist"), out)

-- ---- AAPMT_ASSETS ----
os.rename(project .. "/assets", tmp .. "/moved_assets")
status, out = aapmt_in(elsewhere, nil, "check " .. paper)
check.eq(status, 1, "assets moved away\n" .. out)
check.truthy(has(out, "(assets/ is " .. project .. "/assets)"), out)
status, out = aapmt_in(elsewhere, "AAPMT_ASSETS=" .. tmp .. "/moved_assets", "check " .. paper)
check.eq(status, 0, "AAPMT_ASSETS is honoured\n" .. out)
check.truthy(has(out, "found       AIGCIQA2023: " .. tmp .. "/moved_assets/AIGCIQA2023/AIGCIQA2023.csv"), out)

-- ---- the command line ----
check.eq((aapmt_in(elsewhere, nil, "check --quick")), 2, "an unknown option")
local nowhere, _, err = aapmt_in(elsewhere, nil, "check " .. tmp .. "/nowhere")
check.eq(nowhere, 2, "a path that does not exist")
check.truthy(has(err, tmp .. "/nowhere: no such file or folder"), err)
status, out = aapmt_in(elsewhere, nil, "check --help")
check.eq(status, 0, "check --help")
local _, train_help = aapmt_in(elsewhere, nil, "train --help")
for _, e in ipairs(databases.layout) do
  for _, path in ipairs(paths_of(e)) do
    check.truthy(has(out, path) and has(train_help, path), "the help texts name " .. path)
  end
end
check.truthy(has(train_help, 'csv = "assets/AGIQA-3K.csv"') and has(train_help, 'images = "assets/AGIQA_3K"')
  and has(train_help, "taken from the current directory"), "train's example uses the layout: " .. train_help)

-- ---- the project folder, in Lua ----
check.eq(databases.project_dir(paper .. "/both.lua"), project, "an experiment file's project")
check.eq(databases.project_dir(project .. "/experiments/../experiments/paper"), project, "a folder's, .. resolved")
if not os.getenv("AAPMT_HOME") and not os.getenv("AAPMT_ASSETS") and not os.getenv("AAPMT_IMAGEREWARD") then
  local outside = true
  for dir in (tmp .. "/loose"):gmatch("()/") do
    local d = (tmp .. "/loose"):sub(1, dir - 1)
    if lfs.attributes(d .. "/assets") or lfs.attributes(d .. "/experiments") then outside = false end
  end
  if outside then
    check.eq(databases.project_dir(tmp .. "/loose/quality.lua"), lfs.currentdir(),
      "outside any project: the current folder")
  else
    print("note: a folder above " .. tmp .. " holds assets/ or experiments/; project_dir outside a project not checked")
  end
  check.eq(databases.assets_dir(project), project .. "/assets", "assets_dir")
  check.eq(databases.imagereward(project), checkpoint, "imagereward(project)")
  local found, why = databases.locate("agiqa3k", tmp .. "/loose")
  check.truthy(not found and has(why, "AGIQA-3K is missing: ") and has(why, tmp .. "/loose/assets"), tostring(why))
else
  print("note: AAPMT_HOME, AAPMT_ASSETS or AAPMT_IMAGEREWARD is set; the in-process path checks were skipped")
end

-- ---- the READMEs name exactly the layout's paths ----
-- The layout's paths and the folders above them are all a README may name
-- under assets/ and checkpoint/ (a folder with or without its final slash).
local function key(p) return (p:gsub("/$", "")) end
local allowed = {}
for _, e in ipairs(databases.layout) do
  for _, path in ipairs(paths_of(e)) do
    allowed[key(path)] = true
    for up in path:gmatch("()/") do allowed[path:sub(1, up - 1)] = true end
  end
end
-- Every problem of one README at once, so a rewrite can fix them together.
local function readme_paths(path, want_prefix)
  local text, named, problems = read(path), {}, {}
  for start, p in text:gmatch("()(%a+/[%w_%.%-/]*)") do
    local before = start > 1 and text:sub(start - 1, start - 1) or ""
    if (p:find("^assets/") or p:find("^checkpoint/")) and not before:find("[%w_%.%-/]") then
      p = p:gsub("[%.,]+$", "")
      named[key(p)] = true
      if not allowed[key(p)] then problems[#problems + 1] = "names " .. p .. ", which is not in databases.layout" end
    end
  end
  for _, e in ipairs(databases.layout) do
    for _, p in ipairs(paths_of(e)) do
      if p:find("^" .. want_prefix) and not named[key(p)] then problems[#problems + 1] = "does not name " .. p end
    end
  end
  check.truthy(#problems == 0, path .. ":\n  " .. table.concat(problems, "\n  ") .. "\n")
end
readme_paths(root .. "/assets/README.md", "assets/")
readme_paths(root .. "/checkpoint/README.md", "checkpoint/")
readme_paths(root .. "/README.md", "")

files.remove_tree(tmp)
print("test_check: ok")
