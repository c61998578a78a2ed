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

-- Model and optimizer first, under names of their own; the state file that
-- points at them is written last, atomically, so a kill at any moment leaves
-- the previous complete checkpoint in force.
function M.write(run, state)
  local model_path, optim_path, head_path = checkpoint_paths(run.out, state.step)
  local previous = folder.read_lua(run.state_path)
  local ok, err = pcall(function()
    run.net:save(model_path)
    a.save(run.opt:state(), optim_path)
    if run.lua_head then lua_head.save(run.lua_head, head_path) end
    state.model, state.optimizer, state.head = model_path, optim_path, run.lua_head and head_path or nil
    folder.write_atomic(run.state_path, "return " .. folder.lua_value(state) .. "\n")
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
    if (name:find("%.tmp") or name:find("^step%-%d+%..*safetensors$")) and not keep[path] then os.remove(path) end
  end
end

return M
