-- aapmt score --prompt TEXT [options] IMAGE...
local cli = require "aapmt.cli"
local IR = require "aapmt.imagereward"
local progress = require "aapmt.progress"

local usage = [[
usage: aapmt score --prompt TEXT [--checkpoint FILE] [--config FILE] [--vocab FILE]
                   [--batch N] [--json] IMAGE...

Scores each IMAGE against the prompt with ImageReward and prints one line per
image, in input order: PATH<TAB>SCORE (the normalised score; 9 significant
digits, which round-trip float32). Images are scored in batches of N
(default 8).
  --checkpoint FILE  .pt or safetensors (default checkpoint/ImageReward/ImageReward.pt)
  --config FILE      model config JSON (default: ImageReward-v1.0)
  --vocab FILE       bert-base-uncased vocab.txt (default: beside the checkpoint,
                     else the Hugging Face cache)
  --json             print {"prompt": ..., "scores": [{"image": ..., "score": ...}]}
]]

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    local named = {['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t'}
    return named[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

return cli.command("score", usage,
  {prompt = "string", checkpoint = "string", config = "string", vocab = "string", batch = "integer",
   json = "flag"},
  function(opts, images)
    if not opts.prompt then cli.fail("--prompt TEXT is required", 2) end
    if #images == 0 then cli.fail("no IMAGE given", 2) end
    if opts.batch and opts.batch < 1 then cli.fail("--batch must be at least 1", 2) end
    local ok, model = pcall(IR.load, {checkpoint = opts.checkpoint, config = opts.config,
      vocab = opts.vocab, batch = opts.batch})
    if not ok then cli.fail(model) end
    local shown = #images > model.batch and progress.new(#images, "images", "scoring ") or nil
    local ok2, scores = pcall(model.score, model, opts.prompt, images, {progress = shown})
    if not ok2 then cli.fail(scores) end
    if opts.json then
      local rows = {}
      for i, path in ipairs(images) do
        rows[i] = string.format('{"image": %s, "score": %.9g}', json_string(path), scores[i])
      end
      print(string.format('{"prompt": %s, "scores": [%s]}', json_string(opts.prompt), table.concat(rows, ", ")))
    else
      for i, path in ipairs(images) do print(string.format("%s\t%.9g", path, scores[i])) end
    end
  end)
