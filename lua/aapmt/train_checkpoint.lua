-- Checkpoints of a training run (train.lua): the model, optimizer and Lua
-- head of a step under names of their own, then the state file that points
-- at them, written last and atomically, so a kill at any moment leaves the
-- previous complete checkpoint in force.
local a = aapmt
local lfs = require "lfs"
local folder = require "aapmt.run_folder"
local config = require "aapmt.train_config"
local lua_head = require "aapmt.train_head"

local M = {}
local fail = config.fail

local function checkpoint_paths(out, step)
  local base = string.format("%s/checkpoints/step-%08d", out, step)
  return base .. ".model.safetensors", base .. ".optim.safetensors", base .. ".head.safetensors"
end

local STEP_FILE = "^step%-%d+%.%a+%.safetensors$"

-- state.lua names its files relative to the run folder, so a moved or
-- copied folder resumes from its own files. Older states hold the paths as
-- given (absolute, or relative to the directory the run started in): only
-- the file name is kept, and it must be a step file of this folder, so a
-- copy never reads, nor later deletes, the original's checkpoint.
local function inside(out, stored)
  if stored == nil then return nil end
  local name = stored:match("[^/]+$") or ""
  if not name:find(STEP_FILE) then
    fail("%s/checkpoints/state.lua names %s, not a step file of this run folder; remove %s to start afresh",
      out, stored, out)
  end
  return out .. "/checkpoints/" .. name
end

-- The state of the run in `out` (nil if none), its file paths inside `out`.
function M.read_state(out)
  local state = folder.read_lua(out .. "/checkpoints/state.lua")
  if state then
    state.model, state.optimizer, state.head = inside(out, state.model), inside(out, state.optimizer),
      inside(out, state.head)
  end
  return state
end

local function relative(out, path) return path and path:sub(#out + 2) end

-- Model and optimizer first, under names of their own; the state file that
-- points at them is written last, atomically, so a kill at any moment leaves
-- the previous complete checkpoint in force.
function M.write(run, state)
  local model_path, optim_path, head_path = checkpoint_paths(run.out, state.step)
  local previous = M.read_state(run.out)
  local ok, err = pcall(function()
    run.net:save(model_path)
    a.save(run.opt:state(), optim_path)
    if run.lua_head then lua_head.save(run.lua_head, head_path) end
    state.model, state.optimizer, state.head = model_path, optim_path, run.lua_head and head_path or nil
    local record = {}
    for k, v in pairs(state) do record[k] = v end
    record.model, record.optimizer, record.head = relative(run.out, state.model), relative(run.out, optim_path),
      relative(run.out, state.head)
    folder.write_atomic(run.state_path, "return " .. folder.lua_value(record) .. "\n")
  end)
  if not ok then
    -- A full disk, most likely: what was written goes, the checkpoint in
    -- force stays, and the message says which one that is.
    if not (previous and previous.model == model_path) then
      os.remove(model_path)
      os.remove(optim_path)
      os.remove(head_path)
    end
    fail("checkpoint at step %d not written: %s; %s", state.step, tostring(err), previous and
      string.format("the checkpoint of step %d is intact (resume = true goes on from it)", previous.step) or
      "no earlier checkpoint exists")
  end
  if previous and previous.step ~= state.step then
    os.remove(previous.model)
    os.remove(previous.optimizer)
    if previous.head then os.remove(previous.head) end
  end
end


-- A kill can leave temporary files of a checkpoint being written, or the
-- previous checkpoint's files when it came between writing the state and
-- removing them: only what the state names is kept.
function M.remove_leftovers(dir, state)
  local keep = {}
  if state then keep[state.model], keep[state.optimizer] = true, true end
  if state and state.head then keep[state.head] = true end
  for name in lfs.dir(dir) do
    local path = dir .. "/" .. name
    if (name:find("%.tmp") or name:find(STEP_FILE)) and not keep[path] then os.remove(path) end
  end
end

return M
