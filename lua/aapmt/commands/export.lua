-- aapmt export RUN|CHECKPOINT --out FILE [--format pt|safetensors]
--
-- A trained model as one file the Python tools load: the backbone under
-- ImageReward.pt's names and shapes, its unused tensors (blip.vision_proj,
-- blip.text_proj, the position_ids buffer) added back so the key set is
-- ImageReward.pt's, heads under their own prefixes beside it.
local cli = require "aapmt.cli"
local folder = require "aapmt.run_folder"
local train_checkpoint = require "aapmt.train_checkpoint"
local lfs = require "lfs"
local a = aapmt

local usage = [[
usage: aapmt export RUN|CHECKPOINT --out FILE [--format pt|safetensors]
                    [--start CHECKPOINT]

Writes a trained model as one file that PyTorch and the ImageReward package
load. RUN is a training run folder (aapmt train's out, or an experiment's
train folder): its model.safetensors when the run finished, else the
checkpoint of its last step (said on stderr). CHECKPOINT is a model file
(.safetensors or .pt) as aapmt writes it.

The file holds exactly ImageReward.pt's keys and shapes for the backbone
(blip.visual_encoder.*, blip.text_encoder.*, mlp.*), so ImageReward.load(FILE)
in Python scores with it. The tensors scoring never uses (blip.vision_proj.*,
blip.text_proj.*) are copied from the checkpoint the run started from, or
--start; blip.text_encoder.embeddings.position_ids is 0..N-1 as in the
original. A coded Metric Transformer keeps AAPMT's ImageAssessmentModel.*
keys, a metric_attention head its metric_attention.* keys, and a head written
in Lua (head.safetensors beside the model) goes under lua_head.*.

  --out FILE          where the file goes (written whole, then renamed)
  --format F          pt (PyTorch's zip format: torch.load(FILE,
                      weights_only=True) reads it) or safetensors; default:
                      pt for a FILE ending in .pt, else safetensors
  --start CHECKPOINT  where blip.vision_proj.* and blip.text_proj.* come from
                      (default: the run's starting checkpoint, when it names
                      one; without either they are left out, as stderr says)
]]

local UNUSED = {"blip.vision_proj.", "blip.text_proj."}
local POSITION_IDS = "blip.text_encoder.embeddings.position_ids"

local function starts(s, prefix) return s:sub(1, #prefix) == prefix end

local function load(path, what)
  local ok, t = pcall(a.load, path)
  if not ok then cli.fail(what .. ": " .. tostring(t)) end
  return t
end

-- The model file of a run folder, its Lua head's file (or nil), and the
-- checkpoint the run started from (or nil).
local function run_files(dir)
  local config = folder.read_lua(dir .. "/config.lua") or {}
  local spec = config.model
  local start = type(spec) == "string" and spec or type(spec) == "table" and spec.checkpoint or nil
  local model, head = dir .. "/model.safetensors", dir .. "/head.safetensors"
  if not folder.exists(model) then
    local state = train_checkpoint.read_state(dir)
    if not state then cli.fail(dir .. ": neither model.safetensors nor checkpoints/state.lua: not a training run folder") end
    model, head = state.model, state.head
    io.stderr:write(string.format("aapmt export: %s has not finished: exporting its checkpoint of step %d\n",
      dir, state.step))
  end
  return model, head and folder.exists(head) and head or nil, start
end

-- The backbone's tensors scoring leaves unused, from the start checkpoint.
local function add_unused(out, start, from)
  if not start then
    io.stderr:write("aapmt export: blip.vision_proj.* and blip.text_proj.* (unused by scoring) are left out: "
      .. "no starting checkpoint is known (give --start CHECKPOINT)\n")
    return
  end
  if not folder.exists(start) then cli.fail("--start: " .. start .. " is not there (the tensors scoring leaves unused come from it)") end
  local found = 0
  for name, t in pairs(load(start, from)) do
    for _, prefix in ipairs(UNUSED) do
      if starts(name, prefix) then out[name], found = t, found + 1 end
    end
  end
  if found == 0 then
    io.stderr:write("aapmt export: " .. start .. " has no blip.vision_proj.* or blip.text_proj.*: they are left out\n")
  end
end

local function export_tensors(source, opts)
  local model_path, head_path, start = source, nil, nil
  if lfs.attributes(source, "mode") == "directory" then model_path, head_path, start = run_files(source) end
  local tensors = load(model_path, source)
  if not tensors["blip.visual_encoder.cls_token"] then
    cli.fail(model_path .. ": no blip.visual_encoder.cls_token: not an ImageReward model")
  end
  local out = {}
  for name, t in pairs(tensors) do out[name] = t end
  add_unused(out, opts.start or start, opts.start and "--start" or "the run's starting checkpoint")
  if not out[POSITION_IDS] then
    local n = tensors["blip.text_encoder.embeddings.position_embeddings.weight"]:size(1)
    out[POSITION_IDS] = a.arange(0, n, {dtype = "i64"}):reshape(1, n)
  end
  if head_path then
    for name, t in pairs(load(head_path, head_path)) do out["lua_head." .. name] = t end
  end
  return out
end

local function format_of(opts)
  local format = opts.format or (opts.out:lower():match("%.pt$") and "pt") or "safetensors"
  if format ~= "pt" and format ~= "safetensors" then
    cli.fail("--format must be pt or safetensors, got '" .. format .. "'", 2)
  end
  return format
end

return cli.command("export", usage, {out = "string", format = "string", start = "string"},
  function(opts, args)
    if #args ~= 1 then cli.fail("expected one RUN or CHECKPOINT, got " .. #args, 2) end
    if not opts.out then cli.fail("--out FILE is required", 2) end
    local format = format_of(opts)
    if not lfs.attributes(args[1]) then cli.fail(args[1] .. ": no such run folder or checkpoint") end
    local tensors = export_tensors(args[1], opts)
    local ok, err = pcall(a.save, tensors, opts.out, {format = format})
    if not ok then cli.fail(err) end
    local n = 0
    for _ in pairs(tensors) do n = n + 1 end
    io.stderr:write(string.format("aapmt export: wrote %s (%s, %d tensors)\n", opts.out, format, n))
    return 0
  end)
