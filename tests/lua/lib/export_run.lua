-- A short training run of the tiny 224 px model of tests/fixtures/e2e (made
-- by torch.save, with the unused vision_proj, text_proj and position_ids of
-- ImageReward.pt) for the export tests, and a runner for the aapmt program.
local folder = require "aapmt.run_folder"

local M = {}

local here = arg[0]:match("^(.*)/") or "."
M.fixtures = here .. "/../fixtures"
M.start = M.fixtures .. "/e2e/tiny_224.pt"
M.config = M.fixtures .. "/e2e/tiny_224_config.json"
M.vocab = M.fixtures .. "/tokenizer/vocab.txt"
M.images = {}
for i, name in ipairs({"rgb_224x224.jpg", "grey.jpg", "palette_50x40.png", "rgba_45x67.png"}) do
  M.images[i] = M.fixtures .. "/image/" .. name
end

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
M.q = q

-- Runs `aapmt ARGS` (a string, already quoted); the exit status, stdout, stderr.
function M.aapmt(tmp, args)
  local out, err = tmp .. "/stdout", tmp .. "/stderr"
  local _, _, status = os.execute(string.format("%s %s >%s 2>%s </dev/null", q(arg[-1]), args, q(out), q(err)))
  return status, folder.read(out) or "", folder.read(err) or ""
end

-- Trains one epoch in out (extra: more run options, Lua source; model: the
-- model option's Lua source, default the tiny 224 px start) and checks it ran.
function M.train(tmp, out, extra, model)
  local run_file = tmp .. "/run.lua"
  local f = assert(io.open(run_file, "w"))
  f:write(string.format([[
local rows = {}
for i, image in ipairs(%s) do
  rows[i] = {name = tostring(i), image = image, prompt = i %% 2 == 0 and "a red cat" or "a blue boat",
    targets = {mos_quality = i / 2}}
end
return {model = %s, vocab = %q, train = rows, test = rows,
  metrics = {"quality"}, optimizer = {kind = "adam", lr = 1e-3}, epochs = 1, batch_size = 2, threads = 1,
  progress = false, out = %q, %s}
]], folder.lua_value(M.images), model or string.format("{checkpoint = %q, config = %q}", M.start, M.config),
    M.vocab, out, extra or ""))
  f:close()
  local status, _, err = M.aapmt(tmp, "train " .. q(run_file) .. " --no-progress")
  assert(status == 0, "the training run failed: " .. err)
end

return M
