-- `aapmt export`: a trained run as one file with ImageReward.pt's keys and
-- shapes, in both formats, read back by aapmt bit for bit and scoring as the
-- run's model does; an unfinished run exports its last checkpoint; errors
-- name what is wrong. (test_export_torch.lua loads the file in PyTorch.)
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local run = require "export_run"
local folder = require "aapmt.run_folder"
local IR = require "aapmt.imagereward"
local lfs = require "lfs"
local a = aapmt
local q = run.q

local tmp = os.tmpname()
os.remove(tmp)
assert(lfs.mkdir(tmp))

local out = tmp .. "/run"
run.train(tmp, out)

local function keys(t)
  local list = {}
  for k in pairs(t) do list[#list + 1] = k end
  table.sort(list)
  return list
end

local function same_tensor(x, y)
  return x:dtype() == y:dtype() and table.concat(x:size(), "x") == table.concat(y:size(), "x") and
    (x:numel() == 0 or x:to("f64"):eq(y:to("f64")):to("f64"):sum():item() == x:numel())
end

local start, trained = a.load(run.start), a.load(out .. "/model.safetensors")
check.truthy(trained["blip.vision_proj.weight"] == nil, "the run's model lacks the unused tensors (else this test proves nothing)")

for _, format in ipairs({"safetensors", "pt"}) do
  local file = tmp .. "/exported." .. format
  local status, stdout, err = run.aapmt(tmp, string.format("export %s --out %s", q(out), q(file)))
  check.eq(status, 0, format .. ": aapmt export exits 0 (" .. err .. ")")
  check.truthy(err:find("wrote " .. file .. " (" .. format .. ", ", 1, true), format .. ": says what it wrote: " .. err)
  check.eq(stdout, "", format .. ": nothing on stdout")
  local fh = assert(io.open(file, "rb"))
  check.eq(fh:read(2) == "PK", format == "pt", format .. ": a zip archive exactly when pt")
  fh:close()
  local got = a.load(file)
  check.eq(table.concat(keys(got), " "), table.concat(keys(start), " "),
    format .. ": exactly the keys of the torch.save checkpoint the run started from")
  for name, t in pairs(got) do
    local want = trained[name] or start[name]
    check.truthy(same_tensor(t, want), format .. ": " .. name .. " is the run's (or, unused, the start's) bit for bit")
  end
  check.eq(table.concat(got["blip.text_encoder.embeddings.position_ids"]:tolist()[1], ","),
    table.concat(start["blip.text_encoder.embeddings.position_ids"]:tolist()[1], ","), format .. ": position_ids")
  local model = IR.load{checkpoint = file, config = run.config, vocab = run.vocab}
  local reference = IR.load{checkpoint = out .. "/model.safetensors", config = run.config, vocab = run.vocab}
  local s, r = model:score("a red cat", run.images), reference:score("a red cat", run.images)
  for i = 1, #r do check.eq(s[i], r[i], format .. ": the exported model scores as the run's, image " .. i) end
end

-- The format by extension, or --format; a wrong one is a usage error.
local status, _, err = run.aapmt(tmp, string.format("export %s --out %s --format pt", q(out), q(tmp .. "/x.bin")))
check.eq(status, 0, "--format pt with another extension (" .. err .. ")")
local f = assert(io.open(tmp .. "/x.bin", "rb"))
check.eq(f:read(2), "PK", "--format pt writes PyTorch's zip format")
f:close()
status, _, err = run.aapmt(tmp, string.format("export %s --out %s --format onnx", q(out), q(tmp .. "/x.onnx")))
check.eq(status, 2, "--format onnx is a usage error")
check.truthy(err:find("--format must be pt or safetensors, got 'onnx'", 1, true), err)
check.truthy(not folder.exists(tmp .. "/x.onnx"), "nothing written")

-- An unfinished run: its last checkpoint, said on stderr.
local bare_model = tmp .. "/model_alone.safetensors"
assert(os.rename(out .. "/model.safetensors", bare_model))
status, _, err = run.aapmt(tmp, string.format("export %s --out %s", q(out), q(tmp .. "/last.safetensors")))
check.eq(status, 0, "an unfinished run (" .. err .. ")")
check.truthy(err:find(out .. " has not finished: exporting its checkpoint of step 2", 1, true), err)
local last = a.load(tmp .. "/last.safetensors")
check.truthy(same_tensor(last["mlp.layers.0.weight"], trained["mlp.layers.0.weight"]),
  "the last checkpoint is the final model here (one epoch, checkpointed at its end)")

-- A model file, without a run: the unused tensors come from --start, or are left out, said on stderr.
status, _, err = run.aapmt(tmp, string.format("export %s --out %s", q(bare_model), q(tmp .. "/bare.safetensors")))
check.eq(status, 0, "a model file (" .. err .. ")")
check.truthy(err:find("blip.vision_proj.* and blip.text_proj.* (unused by scoring) are left out", 1, true), err)
check.truthy(a.load(tmp .. "/bare.safetensors")["blip.vision_proj.weight"] == nil, "left out")
status, _, err = run.aapmt(tmp, string.format("export %s --start %s --out %s", q(bare_model), q(run.start),
  q(tmp .. "/started.safetensors")))
check.eq(status, 0, "a model file with --start (" .. err .. ")")
check.eq(#keys(a.load(tmp .. "/started.safetensors")), #keys(start), "--start gives the unused tensors")

-- A head written in Lua goes under lua_head.*, beside the backbone.
local headed = tmp .. "/headed"
run.train(tmp, headed, 'head = require("aapmt.nn").Linear(24, 1)')
local head = a.load(headed .. "/head.safetensors")
status, _, err = run.aapmt(tmp, string.format("export %s --out %s", q(headed), q(tmp .. "/headed.pt")))
check.eq(status, 0, "a run with a Lua head (" .. err .. ")")
local with_head, n_head = a.load(tmp .. "/headed.pt"), 0
for name, t in pairs(head) do
  n_head = n_head + 1
  check.truthy(with_head["lua_head." .. name] and same_tensor(with_head["lua_head." .. name], t),
    "the Lua head's " .. name .. " is lua_head." .. name)
end
check.truthy(n_head > 0, "the Lua head has tensors")
check.eq(#keys(with_head), #keys(start) + n_head, "the backbone's keys and the head's, nothing else")

-- A coded Metric Transformer keeps AAPMT's ImageAssessmentModel.* keys.
local coded = tmp .. "/coded"
run.train(tmp, coded, "", string.format("{config = %q, seed = 2}", run.fixtures .. "/train_run/tiny_coded.json"))
status, _, err = run.aapmt(tmp, string.format("export %s --out %s", q(coded), q(tmp .. "/coded.pt")))
check.eq(status, 0, "a run with a coded Metric Transformer (" .. err .. ")")
local coded_model, coded_out, n_coded = a.load(coded .. "/model.safetensors"), a.load(tmp .. "/coded.pt"), 0
for name, t in pairs(coded_model) do
  if name:find("^ImageAssessmentModel%.") then
    n_coded = n_coded + 1
    check.truthy(coded_out[name] and same_tensor(coded_out[name], t), "the coded head's " .. name .. " is kept")
  end
end
check.truthy(n_coded > 0, "the coded run has ImageAssessmentModel.* tensors")

-- Errors.
status, _, err = run.aapmt(tmp, string.format("export %s --out %s", q(tmp .. "/nothing"), q(tmp .. "/y.pt")))
check.eq(status, 1, "a missing run")
check.truthy(err:find(tmp .. "/nothing: no such run folder or checkpoint", 1, true), err)
assert(lfs.mkdir(tmp .. "/empty"))
status, _, err = run.aapmt(tmp, string.format("export %s --out %s", q(tmp .. "/empty"), q(tmp .. "/y.pt")))
check.eq(status, 1, "a folder that is not a run")
check.truthy(err:find("not a training run folder", 1, true), err)
a.save({w = a.zeros(2)}, tmp .. "/other.safetensors")
status, _, err = run.aapmt(tmp, string.format("export %s --out %s", q(tmp .. "/other.safetensors"), q(tmp .. "/y.pt")))
check.eq(status, 1, "a checkpoint that is not an ImageReward model")
check.truthy(err:find("not an ImageReward model", 1, true), err)
status, _, err = run.aapmt(tmp, string.format("export %s", q(out)))
check.eq(status, 2, "--out is required")
check.truthy(not folder.exists(tmp .. "/y.pt"), "no file after an error")

os.execute("rm -rf " .. q(tmp))
print("ok")
