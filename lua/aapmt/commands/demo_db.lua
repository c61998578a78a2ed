-- aapmt demo-db --out DIR [--images N] [--size S] [--seed K] [--per-prompt N]
local cli = require "aapmt.cli"
local progress = require "aapmt.progress"
local a = aapmt

local usage = [[
usage: aapmt demo-db --out DIR [--images N] [--size S] [--seed K] [--per-prompt N]

Writes the built-in synthetic database, drawn by the program: DIR/images/
(demo_00000.png, ...) and DIR/demo.csv with the columns name, prompt,
mos_quality, mos_align, mos_authenticity (MOS in [0, 5]) and the factors
behind each score. Prompts describe one or two coloured shapes on a
background; images degrade quality on purpose (blur, noise, blockiness,
banding, low contrast), differ from their prompt (alignment) and vary in
realism and artifacts (authenticity). The same options give byte-identical
files on any machine, whatever the thread count.
  --out DIR       the folder to write (created if needed)
  --images N      number of images (default 1000)
  --size S        image side in pixels, 8..4096 (default 224, ImageReward's input)
  --seed K        random seed, 0 or more (default 42)
  --per-prompt N  images per prompt (default 10, as in AGIQA-3K)
]]

local CHUNK = 64   -- images written between progress reports

return cli.command("demo-db", usage,
  {out = "string", images = "integer", size = "integer", seed = "integer", per_prompt = "integer"},
  function(opts, positional)
    if #positional > 0 then cli.fail("unexpected argument '" .. positional[1] .. "'", 2) end
    if not opts.out or opts.out == "" then cli.fail("--out DIR is required", 2) end
    if opts.images and opts.images < 1 then cli.fail("--images must be at least 1", 2) end
    if opts.seed and opts.seed < 0 then cli.fail("--seed must be 0 or more", 2) end
    local ok, db = pcall(a.demo_db, {images = opts.images, size = opts.size, seed = opts.seed,
      per_prompt = opts.per_prompt})
    if not ok then cli.fail((tostring(db):gsub("aapmt%.demo_db: ", "")), 2) end
    local n = db:size()
    local shown = n > CHUNK and progress.new(n, "images", "drawing ") or nil
    for first = 1, n, CHUNK do
      local count = math.min(CHUNK, n - first + 1)
      local ok2, err = pcall(db.write_images, db, opts.out, first, count)
      if not ok2 then cli.fail(err) end
      if shown then shown:step(first + count - 1) end
    end
    if shown then shown:finish() end
    local ok3, err = pcall(db.write_csv, db, opts.out)
    if not ok3 then cli.fail(err) end
    local csv = opts.out:gsub("/+$", "") .. "/demo.csv"
    print(string.format("wrote %d images of %d prompts (%dx%d, seed %d) and %s", n, db:nprompts(),
      db:config().size, db:config().size, db:config().seed, csv))
    db:free()
  end)
