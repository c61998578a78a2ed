-- A model `aapmt export` wrote from a short training run, loaded by PyTorch
-- (Debian's python3-torch, torch.load with weights_only=True, strict keys
-- into the reference ImageReward of tests/fixtures) scores the images as
-- aapmt scores them, within 1e-5. Skips (77) without torch.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local run = require "export_run"
local folder = require "aapmt.run_folder"
local IR = require "aapmt.imagereward"
local lfs = require "lfs"
local q = run.q

local here = arg[0]:match("^(.*)/") or "."
local script = here .. "/../interop/score_export.py"
local probe = io.popen("/usr/bin/python3 -c 'import torch, torchvision, PIL' 2>&1; echo status=$?")
local said = probe:read("a")
probe:close()
if not said:find("status=0\n", 1, true) then
  print("skipped: /usr/bin/python3 cannot import torch, torchvision and PIL (python3-torch, python3-torchvision, "
    .. "python3-pil): " .. said)
  os.exit(77)
end

local tmp = os.tmpname()
os.remove(tmp)
assert(lfs.mkdir(tmp))
local out = tmp .. "/run"
run.train(tmp, out)
local file = tmp .. "/exported.pt"
local status, _, err = run.aapmt(tmp, string.format("export %s --out %s", q(out), q(file)))
check.eq(status, 0, "aapmt export (" .. err .. ")")

local prompt = "a red cat"
local quoted = {}
for i, p in ipairs(run.images) do quoted[i] = q(p) end
local cmd = string.format("/usr/bin/python3 %s %s %s %s %s %s 2>%s", q(script), q(file), q(run.config), q(run.vocab),
  q(prompt), table.concat(quoted, " "), q(tmp .. "/py.err"))
local p = io.popen(cmd)
local printed = p:read("a")
local ok = p:close()
check.truthy(ok, "the PyTorch side failed: " .. printed .. (folder.read(tmp .. "/py.err") or ""))
local torch_scores, keys = {}, tonumber(printed:match("^keys (%d+)\n"))
for line in printed:gmatch("[^\n]+") do
  if not line:find("^keys") then torch_scores[#torch_scores + 1] = tonumber(line) end
end
local start_keys = 0
for _ in pairs(aapmt.load(run.start)) do start_keys = start_keys + 1 end
check.eq(keys, start_keys, "PyTorch loaded every key of ImageReward's layout, strictly")

local model = IR.load{checkpoint = file, config = run.config, vocab = run.vocab, batch = 1}
local ours = model:score(prompt, run.images)
check.eq(#torch_scores, #ours, "a PyTorch score per image")
for i = 1, #ours do
  check.near(torch_scores[i], ours[i], 1e-5, "image " .. i .. ": PyTorch's score of the exported model")
end

os.execute("rm -rf " .. q(tmp))
print("ok")
