-- aapmt score --prompt TEXT [options] IMAGE|DIR...
-- aapmt score --csv FILE [--image-column C] [--prompt-column P] [--images DIR] [--out FILE]
local cli = require "aapmt.cli"
local IR = require "aapmt.imagereward"
local databases = require "aapmt.databases"
local progress = require "aapmt.progress"
local run_folder = require "aapmt.run_folder"
local lfs = require "lfs"
local a = aapmt

local usage = [[
usage: aapmt score --prompt TEXT [options] IMAGE|DIR...
       aapmt score --csv FILE [--image-column C] [--prompt-column P]
                   [--images DIR] [--out FILE] [options]

Scores each IMAGE against the prompt with ImageReward and prints one line per
image, in input order: PATH<TAB>SCORE (the normalised score; 9 significant
digits, which round-trip float32). A DIR is scored with every image under it
(.png .jpg .jpeg .bmp .gif .tga, any case, in subfolders too), in sorted
order. An image that cannot be read is reported on stderr with the reason
and the others are scored. Images are scored in batches of N (default 8).

With --csv, scores the CSV's rows, each image against its row's prompt, and
writes the CSV with its columns as they were plus a last column score
(empty where the image could not be read) to --out, or to stdout.

  --prompt TEXT        the prompt (for IMAGE and DIR arguments); repeated, each
                       image is scored against every prompt (its image
                       encoding computed once) and each line is
                       PATH<TAB>PROMPT<TAB>SCORE
  --csv FILE           a CSV with an image column and a prompt column
  --image-column C     the image column (default image)
  --prompt-column P    the prompt column (default prompt)
  --images DIR         the folder relative image paths in --csv are in
                       (default: the CSV's folder)
  --out FILE           where the scored CSV goes (written whole, then renamed
                       into place; default stdout)
  --checkpoint FILE    .pt or safetensors (default: checkpoint/ImageReward/
                       ImageReward.pt in the project folder, or
                       $AAPMT_IMAGEREWARD)
  --config FILE        model config JSON (default: ImageReward-v1.0)
  --vocab FILE         bert-base-uncased vocab.txt (default: beside the
                       checkpoint, else the Hugging Face cache)
  --batch N            images a batch (default 8)
  --threads N          threads (default: all the cores we may use)
  --max-image-pixels N an image of more pixels is not decoded but reported
                       as a possible decompression bomb (default
                       $AAPMT_MAX_IMAGE_PIXELS, else 178956970 as in Pillow)
  --json               print {"prompt": ..., "scores": [{"image": ..., "score": ...}
                       or {"image": ..., "error": ...}, ...]} (not with --csv),
                       a line for each prompt
  --skip-bad           exit 0 even when some images could not be read

Exit status: 0 when every image was scored (or --skip-bad), 1 when one
could not be read or the model did not load, 2 for a wrong command line.
]]

local image_extensions = {png = true, jpg = true, jpeg = true, bmp = true, gif = true, tga = true}

local function is_image_name(name)
  local ext = name:match("%.([^./]+)$")
  return ext ~= nil and image_extensions[ext:lower()] == true
end

-- The IMAGE arguments with each folder replaced by the images under it.
local function expand(args)
  local out = {}
  local function walk(dir)
    local names = {}
    for name in lfs.dir(dir) do
      local path = dir .. "/" .. name
      if name:sub(1, 1) ~= "." and (lfs.attributes(path, "mode") == "directory" or is_image_name(name)) then
        names[#names + 1] = name
      end
    end
    table.sort(names)
    for _, name in ipairs(names) do
      local path = dir .. "/" .. name
      if lfs.attributes(path, "mode") == "directory" then walk(path) else out[#out + 1] = path end
    end
  end
  for _, arg in ipairs(args) do
    if lfs.attributes(arg, "mode") == "directory" then
      local before = #out
      walk((arg:gsub("(.)/+$", "%1")))
      if #out == before then cli.fail(arg .. ": the folder holds no images (.png .jpg .jpeg .bmp .gif .tga)") end
    else
      out[#out + 1] = arg   -- a missing file is reported with the other bad images
    end
  end
  return out
end

local function load_model(opts)
  local checkpoint = opts.checkpoint
  if not checkpoint then
    local where, missing = databases.imagereward()
    if not where then cli.fail(missing) end
    checkpoint = where
  end
  -- One pass over the images: a cache of their encodings could only hold memory.
  local ok, model = pcall(IR.load, {checkpoint = checkpoint, config = opts.config, vocab = opts.vocab,
    batch = opts.batch, max_image_pixels = opts.max_image_pixels, image_cache = 0})
  if not ok then cli.fail(model) end
  return model
end

-- Scores images (prompt: one string or one per image); every failure is
-- reported on stderr as "aapmt score: WHERE: reason", WHERE from where(i).
-- Returns the scores (nil where an image failed), the errors and their count.
local function report(errors, n, where)
  local failed = 0
  for i = 1, n do
    if errors[i] then
      failed = failed + 1
      io.stderr:write("aapmt score: ", where(i), ": ", errors[i], "\n")
    end
  end
  return failed
end

local function score_all(model, prompt, images, where)
  local shown = #images > model.batch and progress.new(#images, "images", "scoring ") or nil
  local ok, scores, errors = pcall(model.score_each, model, prompt, images, {progress = shown})
  if not ok then cli.fail(scores) end
  return scores, errors, report(errors, #images, where)
end

-- Several prompts: each image is encoded once for all of them.
local function score_prompts(model, prompts, images)
  local shown = #images > model.batch and progress.new(#images, "images", "scoring ") or nil
  local ok, scores, errors = pcall(model.score_texts_each, model, prompts, images, {progress = shown})
  if not ok then cli.fail(scores) end
  return scores, errors, report(errors, #images, function(i) return images[i] end)
end

local function json_line(prompt, images, scores, errors)
  local rows = {}
  for i, path in ipairs(images) do
    rows[i] = errors[i] and string.format('{"image": %s, "error": %s}', run_folder.json(path),
      run_folder.json(errors[i])) or string.format('{"image": %s, "score": %.9g}', run_folder.json(path), scores[i])
  end
  return string.format('{"prompt": %s, "scores": [%s]}', run_folder.json(prompt), table.concat(rows, ", "))
end

-- scores[t][i] for prompts[t]: one prompt prints PATH<TAB>SCORE, several
-- PATH<TAB>PROMPT<TAB>SCORE (each image's prompts together); --json one
-- object a prompt, a line each.
local function print_scores(opts, prompts, images, scores, errors)
  if opts.json then
    for t, prompt in ipairs(prompts) do print(json_line(prompt, images, scores[t], errors)) end
    return
  end
  for i, path in ipairs(images) do
    for t, prompt in ipairs(prompts) do
      local v = scores[t][i]
      if v and #prompts == 1 then print(string.format("%s\t%.9g", path, v))
      elseif v then print(string.format("%s\t%s\t%.9g", path, prompt, v)) end
    end
  end
end

-- --csv: every row's image against its prompt; the CSV back with a score column.
local function score_csv(opts, model_of)
  local path = opts.csv
  local ok, csv = pcall(a.read_csv, path)
  if not ok then cli.fail(csv) end
  local ic = cli.csv_column(csv, path, opts.image_column or "image", "--image-column")
  local pc = cli.csv_column(csv, path, opts.prompt_column or "prompt", "--prompt-column")
  for i, h in ipairs(csv.header) do
    if h == "score" and not (i == 1 and csv.index_column) then
      cli.fail(path .. ": already has a column 'score'; the scores would be ambiguous")
    end
  end
  if #csv.rows == 0 then cli.fail(path .. ": no data rows to score") end
  local folder = opts.images or path:match("^(.*)/[^/]*$") or "."
  local images, prompts, rows, failed = {}, {}, {}, 0   -- rows[k]: the data row of images[k]
  for r, row in ipairs(csv.rows) do
    local cell = row[ic]
    if cell == "" then
      failed = failed + 1
      io.stderr:write(string.format("aapmt score: %s, line %d: the %s cell is empty\n", path, csv.lines[r],
        csv.header[ic]))
    else
      rows[#rows + 1] = r
      images[#rows] = cell:sub(1, 1) == "/" and cell or folder .. "/" .. cell
      prompts[#rows] = row[pc]
    end
  end
  local scores = {}
  if #rows > 0 then
    local model = model_of()
    local where = function(k) return string.format("%s, line %d: %s", path, csv.lines[rows[k]], images[k]) end
    local by_image, _, bad = score_all(model, prompts, images, where)
    model:free()
    for k, r in ipairs(rows) do scores[r] = by_image[k] end
    failed = failed + bad
  end
  local lines = {run_folder.csv_line(table.move(csv.header, 1, #csv.header, 1, {}))}
  lines[1] = lines[1]:gsub("\n$", ",score\n")
  for r, row in ipairs(csv.rows) do
    local fields = table.move(row, 1, #row, 1, {})
    fields[#fields + 1] = scores[r] and string.format("%.9g", scores[r]) or ""
    lines[#lines + 1] = run_folder.csv_line(fields)
  end
  if opts.out then
    local wrote, err = pcall(run_folder.write_atomic, opts.out, table.concat(lines))
    if not wrote then cli.fail(err) end
  else
    io.write(table.concat(lines))
  end
  return failed
end

return cli.command("score", usage,
  {prompt = "strings", checkpoint = "string", config = "string", vocab = "string", batch = "integer",
   json = "flag", skip_bad = "flag", threads = "integer", csv = "string", image_column = "string",
   prompt_column = "string", images = "string", out = "string", max_image_pixels = "integer"},
  function(opts, args)
    if opts.batch and opts.batch < 1 then cli.fail("--batch must be at least 1", 2) end
    if opts.threads and opts.threads < 1 then cli.fail("--threads must be at least 1", 2) end
    if opts.max_image_pixels and opts.max_image_pixels < 1 then cli.fail("--max-image-pixels must be at least 1", 2) end
    if opts.csv then
      if opts.prompt then cli.fail("--prompt is for IMAGE arguments; with --csv each row has its prompt", 2) end
      if #args > 0 then cli.fail("--csv takes no IMAGE arguments, got '" .. args[1] .. "'", 2) end
      if opts.json then cli.fail("--json is for IMAGE arguments; --csv writes a CSV", 2) end
    else
      for _, name in ipairs({"image_column", "prompt_column", "images", "out"}) do
        if opts[name] then cli.fail("--" .. name:gsub("_", "-") .. " needs --csv", 2) end
      end
      if not opts.prompt then cli.fail("--prompt TEXT is required (or --csv FILE)", 2) end
      if #args == 0 then cli.fail("no IMAGE given", 2) end
    end
    if opts.threads then a.set_num_threads(opts.threads) end
    local failed
    if opts.csv then
      failed = score_csv(opts, function() return load_model(opts) end)
    else
      local images = expand(args)
      local model = load_model(opts)
      local scores, errors
      if #opts.prompt == 1 then
        local one
        one, errors, failed = score_all(model, opts.prompt[1], images, function(i) return images[i] end)
        scores = {one}
      else
        scores, errors, failed = score_prompts(model, opts.prompt, images)
      end
      model:free()
      print_scores(opts, opts.prompt, images, scores, errors)
    end
    if failed > 0 then
      io.stderr:write(string.format("aapmt score: %d image%s could not be scored%s\n", failed,
        failed == 1 and "" or "s", opts.skip_bad and " (skipped: --skip-bad)" or ""))
      if not opts.skip_bad then return 1 end
    end
    return 0
  end)
