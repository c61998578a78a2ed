-- `aapmt score` beyond the numbers (test_imagereward.lua holds those to
-- PyTorch): bad images among good ones, --skip-bad, --json errors, folders,
-- --threads, --csv with --out, and the missing checkpoint's advice. Uses the
-- tiny 224 px model the e2e fixtures commit.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local lfs = require "lfs"
local IR = require "aapmt.imagereward"

local here = arg[0]:match("^(.*)/") or "."
local fixtures = here .. "/../fixtures"
local image_dir = fixtures .. "/image/"
local model_opts = {checkpoint = fixtures .. "/e2e/tiny_224.pt", config = fixtures .. "/e2e/tiny_224_config.json",
  vocab = fixtures .. "/tokenizer/vocab.txt"}

local function abs(p) return p:sub(1, 1) == "/" and p or lfs.currentdir() .. "/" .. p end
local exe = abs(arg[-1])
local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local tmp = os.tmpname()
os.remove(tmp)
assert(lfs.mkdir(tmp))

-- Runs `aapmt score MODEL ARGS...` in dir (default: here), with env (VAR=VALUE
-- words) set; stdout, stderr, status.
local function score(args, opts)
  opts = opts or {}
  local quoted = {}
  if not opts.no_model then
    for _, k in ipairs({"checkpoint", "config", "vocab"}) do
      quoted[#quoted + 1] = "--" .. k .. " " .. q(abs(model_opts[k]))
    end
  end
  for _, v in ipairs(args) do quoted[#quoted + 1] = q(v) end
  local p = io.popen(string.format("cd %s && env -u AAPMT_IMAGEREWARD -u AAPMT_HOME %s %s score %s 2>%s; echo status=$?",
    q(opts.dir or "."), opts.env or "", q(exe), table.concat(quoted, " "), q(tmp .. "/err")))
  local out = p:read("a")
  p:close()
  local f = assert(io.open(tmp .. "/err"))
  local err = f:read("a")
  f:close()
  return out:gsub("status=%d+\n$", ""), err, tonumber(out:match("status=(%d+)\n$"))
end

local function has(text, fragment, what)
  check.truthy(text:find(fragment, 1, true), ("%s: %q lacks %q"):format(what, text, fragment))
end

local function copy(from, to)
  local f = assert(io.open(from, "rb"))
  local data = f:read("a")
  f:close()
  f = assert(io.open(to, "wb"))
  f:write(data)
  f:close()
end

local model = IR.load(model_opts)
local good = {image_dir .. "grey.jpg", image_dir .. "palette_50x40.png", image_dir .. "rgba_45x67.png"}
local want = model:score("a cat", good)

local function score_of(out, path)
  for line in out:gmatch("[^\n]+") do
    local p, v = line:match("^(.-)\t(%S+)$")
    if p == path then return tonumber(v) end
  end
end

-- ---- bad images among good ones ----

local truncated, missing = image_dir .. "truncated.png", tmp .. "/no such.png"
local args = {"--prompt", "a cat", good[1], truncated, good[2], missing, good[3]}
local out, err, status = score(args)
check.eq(status, 1, "a bad image makes the exit status 1 (" .. err .. ")")
for i, path in ipairs(good) do
  check.near(score_of(out, path), want[i], 1e-5, "the good image " .. path .. " is scored")
end
check.eq(select(2, out:gsub("\n", "")), 3, "one line per good image, none for the bad")
has(err, "aapmt score: " .. truncated .. ": the file is truncated", "stderr names the truncated image and why")
has(err, "aapmt score: " .. missing .. ": cannot open", "stderr names the missing image and why")
has(err, "2 images could not be scored", "stderr counts them")
check.truthy(not err:find("traceback", 1, true), "no traceback: " .. err)

table.insert(args, 1, "--skip-bad")
local out2, err2, status2 = score(args)
check.eq(status2, 0, "--skip-bad: exit status 0 (" .. err2 .. ")")
check.eq(out2, out, "--skip-bad scores the same")
has(err2, missing, "--skip-bad still reports the bad images")

-- Image files are read up to AAPMT_MAX_IMAGE_BYTES (1 GiB by default):
-- /dev/zero is refused at the limit instead of filling memory.
out, err, status = score({"--prompt", "a cat", good[1], "/dev/zero"}, {env = "AAPMT_MAX_IMAGE_BYTES=1M"})
check.eq(status, 1, "/dev/zero as an image: exit status 1 (" .. err .. ")")
check.near(score_of(out, good[1]), want[1], 1e-5, "the good image beside /dev/zero is scored")
has(err, "aapmt score: /dev/zero: more bytes arrived than the limit of 1048576 bytes (AAPMT_MAX_IMAGE_BYTES",
  "/dev/zero is refused at the limit")
out, err, status = score({"--prompt", "a cat", good[1]}, {env = "AAPMT_MAX_IMAGE_BYTES=1MB"})
check.eq(status, 1, "a malformed AAPMT_MAX_IMAGE_BYTES: exit status 1 (" .. err .. ")")
has(err, "AAPMT_MAX_IMAGE_BYTES='1MB' is not a byte count", "a malformed limit names its variable")

-- ---- --json has an entry per image, the bad with its error ----

out, err, status = score({"--json", "--threads", "1", "--prompt", "a cat", good[1], missing})
check.eq(status, 1, "--json with a bad image: exit status 1")
has(out, '{"image": "' .. good[1] .. '", "score": ', "--json scores the good image")
has(out, '{"image": "' .. missing .. '", "error": "cannot open', "--json gives the bad image's error")

-- ---- several prompts: every image against each, PATH<TAB>PROMPT<TAB>SCORE ----

local dog = model:score("a dog", good)
out, err, status = score({"--prompt", "a cat", "--prompt", "a dog", good[1], missing, good[2], good[3]})
check.eq(status, 1, "two prompts with a bad image: exit status 1 (" .. err .. ")")
local got, order = {}, {}
for path, prompt, v in out:gmatch("([^\t\n]+)\t([^\t\n]+)\t(%S+)\n") do
  got[path .. "|" .. prompt] = tonumber(v)
  order[#order + 1] = path .. "|" .. prompt
end
check.eq(#order, 6, "a line per good image and prompt: " .. out)
check.eq(order[1] .. " " .. order[2], good[1] .. "|a cat " .. good[1] .. "|a dog", "each image's prompts together, in order")
for i, path in ipairs(good) do
  check.near(got[path .. "|a cat"], want[i], 1e-5, "two prompts: " .. path .. " against a cat")
  check.near(got[path .. "|a dog"], dog[i], 1e-5, "two prompts: " .. path .. " against a dog")
end
check.eq(select(2, err:gsub(missing, "")), 1, "the bad image is reported once, not once a prompt: " .. err)
out, err, status = score({"--json", "--prompt", "a cat", "--prompt", "a dog", good[1], missing})
local objects = {}
for line in out:gmatch("[^\n]+") do objects[#objects + 1] = line end
check.eq(#objects, 2, "--json: one object a prompt, a line each: " .. out)
has(objects[2], '{"prompt": "a dog", "scores": [{"image": "' .. good[1] .. '", "score": ', "--json: the second prompt")
has(objects[2], '{"image": "' .. missing .. '", "error": "cannot open', "--json: the bad image in each object")

-- ---- the pixel bound: --max-image-pixels, else AAPMT_MAX_IMAGE_PIXELS ----

-- palette_50x40.png has 2000 pixels, rgba_45x67.png 3015.
local bomb = "aapmt score: " .. good[3] .. ": 45 x 67 = 3015 pixels exceeds the limit of 2000 pixels"
out, err, status = score({"--max-image-pixels", "2000", "--prompt", "a cat", good[2], good[3]})
check.eq(status, 1, "an image over --max-image-pixels is a bad image (" .. err .. ")")
check.near(score_of(out, good[2]), want[2], 1e-5, "the image within the bound is scored")
has(err, bomb, "--max-image-pixels: stderr names the image, its pixels and the limit")
out, err, status = score({"--prompt", "a cat", good[2], good[3]}, {env = "AAPMT_MAX_IMAGE_PIXELS=2000"})
check.eq(status, 1, "an image over AAPMT_MAX_IMAGE_PIXELS is a bad image (" .. err .. ")")
has(err, bomb, "AAPMT_MAX_IMAGE_PIXELS: stderr names the image, its pixels and the limit")
out, err, status = score({"--max-image-pixels", "4000", "--prompt", "a cat", good[3]},
  {env = "AAPMT_MAX_IMAGE_PIXELS=2000"})
check.eq(status, 0, "--max-image-pixels wins over the environment (" .. err .. ")")
out, err, status = score({"--prompt", "a cat", good[3]}, {env = "AAPMT_MAX_IMAGE_PIXELS=lots"})
check.eq(status, 1, "a malformed AAPMT_MAX_IMAGE_PIXELS")
has(err, "AAPMT_MAX_IMAGE_PIXELS='lots' is not a positive whole number", "names the variable and its value")
out, err, status = score({"--max-image-pixels", "0", "--prompt", "a cat", good[3]})
check.eq(status, 2, "--max-image-pixels 0 is a wrong command line")
has(err, "--max-image-pixels must be at least 1", "says why")

-- ---- folders: every image under them, recursively, sorted ----

local dir = tmp .. "/images"
assert(lfs.mkdir(dir))
assert(lfs.mkdir(dir .. "/b sub"))
copy(good[1], dir .. "/c.JPG")
copy(good[2], dir .. "/b sub/z.png")
copy(good[3], dir .. "/a.png")
copy(image_dir .. "agiqa.txt", dir .. "/notes.txt")   -- not an image by its name: left out
copy(good[1], dir .. "/.hidden.jpg")
out, err, status = score({"--threads", "2", "--prompt", "a cat", dir .. "/"})
check.eq(status, 0, "a folder (" .. err .. ")")
local order = {}
for path in out:gmatch("([^\t\n]+)\t") do order[#order + 1] = path end
check.eq(table.concat(order, "|"), table.concat({dir .. "/a.png", dir .. "/b sub/z.png", dir .. "/c.JPG"}, "|"),
  "the folder's images, sorted, subfolders included, no other files")
check.near(score_of(out, dir .. "/b sub/z.png"), want[2], 1e-5, "the image in the subfolder is scored")
assert(lfs.mkdir(tmp .. "/empty"))
out, err, status = score({"--prompt", "a cat", tmp .. "/empty"})
check.eq(status, 1, "a folder without images")
has(err, tmp .. "/empty: the folder holds no images", "names the empty folder")

-- ---- --csv: the input's columns and a score column ----

local csv = tmp .. "/db.csv"
local csv_args = {"--csv", csv, "--image-column", "name", "--prompt-column", "text"}
local function lines_of(text)
  local t = {}
  for line in text:gmatch("([^\n]*)\n") do t[#t + 1] = line end
  return t
end
local good2 = abs(good[2])
local f = assert(io.open(csv, "wb"))
f:write(',name,text,note\n0,images/a.png,a cat,"x, ""y"""\n1,' .. good2 .. ',a cat,\n2,gone.png,a dog,z\n',
  '3,,a dog,empty image cell\n')
f:close()
out, err, status = score(csv_args)
check.eq(status, 1, "--csv with bad rows: exit status 1 (" .. err .. ")")
local rows = lines_of(out)
check.eq(#rows, 5, "--csv: the header and every row")
check.eq(rows[1], ",name,text,note,score", "--csv: the header gains score")
local s1 = rows[2]:match('^0,images/a%.png,a cat,"x, ""y""",(%S+)$')
check.near(tonumber(s1), want[3], 1e-5, "--csv row 1: its columns as they were and its score")
check.near(tonumber(rows[3]:match(",a cat,,(%S+)$")), want[2], 1e-5, "--csv row 2, an absolute path")
check.eq(rows[4], "2,gone.png,a dog,z,", "--csv: a bad image leaves the score empty")
check.eq(rows[5], "3,,a dog,empty image cell,", "--csv: an empty image cell leaves the score empty")
has(err, csv .. ", line 4: " .. tmp .. "/gone.png: cannot open", "--csv names the file, the line and the image")
has(err, csv .. ", line 5: the name cell is empty", "--csv names the empty cell's line")

-- --out: the same text, written whole; --images: the folder of relative paths.
local out_file = tmp .. "/scored.csv"
local out3, err3, status3 = score({"--csv", csv, "--image-column", "name", "--prompt-column", "text", "--out", out_file,
  "--skip-bad"})
check.eq(status3, 0, "--csv --skip-bad (" .. err3 .. ")")
check.eq(out3, "", "--out: nothing on stdout")
f = assert(io.open(out_file, "rb"))
check.eq(f:read("a"), out, "--out holds what stdout had")
f:close()
check.eq(lfs.attributes(out_file .. ".tmp"), nil, "no temporary file is left")
local out4 = score({"--csv", csv, "--image-column", "name", "--prompt-column", "text", "--images", tmp})
check.eq(out4, out, "--images DIR is the folder relative paths are in")

-- --csv errors
local _, e = score({"--csv", csv})
has(e, csv .. ": no column 'image' for --image-column (its columns: name, text, note)", "--csv without the column")
local _, e2, st2 = score({"--csv", csv, "--prompt", "x"})
check.eq(st2, 2, "--csv with --prompt is a usage error")
has(e2, "--prompt is for IMAGE arguments", "--csv with --prompt")
local _, e3, st3 = score({"--prompt", "x", "--out", out_file, good[1]})
check.eq(st3, 2, "--out without --csv is a usage error")
has(e3, "--out needs --csv", "--out without --csv")

-- ---- a missing checkpoint: where to download ImageReward-v1.0 and where to put it ----

out, err, status = score({"--prompt", "x", abs(good[1])}, {no_model = true, dir = tmp})
check.eq(status, 1, "no checkpoint: exit status 1")
has(err, "the ImageReward-v1.0 weights are missing", "no default checkpoint")
has(err, "Hugging Face THUDM/ImageReward", "says where to download it")
has(err, "checkpoint/ImageReward/ImageReward.pt", "says where to put it")
out, err, status = score({"--checkpoint", tmp .. "/none.pt", "--prompt", "x", good[1]}, {no_model = true})
check.eq(status, 1, "a --checkpoint that is not there: exit status 1")
has(err, tmp .. "/none.pt: no such file; download ImageReward.pt from Hugging Face THUDM/ImageReward",
  "an explicit checkpoint that is not there")
check.raises(function() return IR.load{checkpoint = tmp .. "/none.pt"} end, "none.pt: no such file",
  "THUDM/ImageReward")

model:free()
os.execute("rm -rf " .. q(tmp))
print("ok")
