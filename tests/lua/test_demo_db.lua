-- The built-in demo database from Lua (lua/binding/demo_db.c) and the
-- `aapmt demo-db` command. The generator itself is checked in C by
-- tests/test_demo_db.c; here: the binding's rows, pixels, errors and files.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local lfs = require "lfs"
local files = require "files"
local a = aapmt


local db = a.demo_db{images = 25, size = 32, seed = 5}
check.eq(#db, 25, "#db")
check.eq(db:size(), 25, "db:size()")
check.eq(db:nprompts(), 3, "25 images at 10 a prompt")
local cfg = db:config()
check.eq(cfg.size, 32, "config size")
check.eq(cfg.seed, 5, "config seed")
check.eq(cfg.per_prompt, 10, "default images per prompt")
check.truthy(tostring(db):find("25 images, 3 prompts, 32x32, seed 5", 1, true), tostring(db))

local r1 = db:row(1)
check.eq(r1.name, "demo_00000.png", "row 1 is the first image")
check.eq(r1.prompt_index, 1, "row 1's prompt")
check.eq(db:row(11).prompt_index, 2, "row 11 starts the second prompt")
check.eq(db:row(10).prompt, r1.prompt, "a prompt's rows share it")
for _, key in ipairs{"mos_quality", "mos_align", "mos_authenticity"} do
  check.truthy(r1[key] >= 0 and r1[key] <= 5, key .. " in [0, 5]: " .. tostring(r1[key]))
end
for _, key in ipairs{"blur", "noise", "blockiness", "banding", "low_contrast", "shading", "shadow", "texture"} do
  check.truthy(r1[key] >= 0 and r1[key] <= 1, key .. " in [0, 1]")
end
check.eq((r1.mismatches == 0), (r1.drawn == r1.prompt), "drawn text equals the prompt exactly without mismatches")
check.eq(type(r1.mismatch_kinds), "string", "mismatch kinds")

local im = db:image(1)
check.eq(im:dtype(), "u8", "image dtype")
check.shape(im, {32, 32, 3}, "image shape")
local again = a.demo_db{images = 25, size = 32, seed = 5}:image(1):totable()
local other = a.demo_db{images = 25, size = 32, seed = 6}:image(1):totable()
local same, differ = true, false
local first = im:totable()
for y = 1, 32 do
  for x = 1, 32 do
    for c = 1, 3 do
      same = same and first[y][x][c] == again[y][x][c]
      differ = differ or first[y][x][c] ~= other[y][x][c]
    end
  end
end
check.truthy(same, "the same seed draws the same pixels")
check.truthy(differ, "another seed draws other pixels")

local batch = db:preprocess({3, 1, 25})
check.shape(batch, {3, 3, 32, 32}, "preprocess at the db's size")
check.shape(db:preprocess({2}, 48), {1, 3, 48, 48}, "preprocess at another size")

-- errors
check.raises(function() return db:row(0) end, "DemoDB:row", "row 0 out of range 1..25")
check.raises(function() return db:row(26) end, "row 26 out of range")
check.raises(function() return db:preprocess({1, "x"}) end, "rows[2] is a string")
check.raises(function() return db:preprocess({}) end, "at least one row")
check.raises(function() return a.demo_db{size = 4} end, "aapmt.demo_db", "8..4096", "got 4")
check.raises(function() return a.demo_db{images = 0} end, "number of images", "got 0")
check.raises(function() return a.demo_db{image = 5} end, "unknown option 'image'")
check.raises(function() return a.demo_db{seed = -1} end, "seed must be at least 0")
check.raises(function() return a.demo_db{size = 2.5} end, "'size' must be an integer")

-- files
local tmp = os.tmpname()
os.remove(tmp)
local remove_tree = files.remove_tree

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local ok, err = pcall(function()
  db:write(tmp .. "/lua")
  local csv = read(tmp .. "/lua/demo.csv")
  check.truthy(csv:find("^name,prompt,mos_quality,mos_align,mos_authenticity,"), "CSV header")
  local lines = 0
  for _ in csv:gmatch("\n") do lines = lines + 1 end
  check.eq(lines, 26, "header + 25 rows")
  check.eq(lfs.attributes(tmp .. "/lua/images/demo_00024.png", "mode"), "file", "last image")
  -- the PNG through ImageReward's file pipeline equals the in-memory path
  local from_file = a.preprocess({tmp .. "/lua/images/demo_00002.png"}, 32)
  local diff = (from_file - db:preprocess({3}))
  check.eq((diff * diff):sum():item(), 0, "file and memory pixels agree")
  -- vocab.txt: a tokenizer for training from scratch; no prompt has [UNK]
  local tok = a.tokenizer(tmp .. "/lua/vocab.txt")
  local prompts = {}
  for i = 1, #db do prompts[i] = db:row(i).prompt end
  local ids = tok:encode_batch(prompts, 35)
  local unknown = 0
  for _, row in ipairs(ids:totable()) do
    for _, id in ipairs(row) do unknown = unknown + (id == 1 and 1 or 0) end
  end
  check.eq(unknown, 0, "[UNK] tokens in the prompts")
  tok:free()
  check.raises(function() return db:write(tmp .. "/lua/demo.csv/x") end, "is not a folder")
  db:free()
  check.raises(function() return db:row(1) end, "freed")

  -- the command
  local exe = arg[-1]
  local p = io.popen(string.format("%q demo-db --out %q --images 12 --size 16 --seed 9 2>&1; echo status=$?",
    exe, tmp .. "/cmd"))
  local out = p:read("a")
  p:close()
  check.truthy(out:find("wrote 12 images of 2 prompts (16x16, seed 9) and " .. tmp .. "/cmd/demo.csv", 1, true)
    and out:find("status=0", 1, true), "aapmt demo-db output: " .. out)
  local mine = a.demo_db{images = 12, size = 16, seed = 9}
  mine:write(tmp .. "/same")
  check.eq(read(tmp .. "/cmd/demo.csv"), read(tmp .. "/same/demo.csv"), "the command writes what the binding writes")
  check.eq(read(tmp .. "/cmd/vocab.txt"), read(tmp .. "/same/vocab.txt"), "and the same vocab.txt")
  check.eq(read(tmp .. "/cmd/images/demo_00011.png"), read(tmp .. "/same/images/demo_00011.png"), "same PNG bytes")
  p = io.popen(string.format("%q demo-db --images 3 2>&1; echo status=$?", exe))
  out = p:read("a")
  p:close()
  check.truthy(out:find("--out DIR is required", 1, true) and out:find("status=2", 1, true),
    "a usage error exits 2: " .. out)
  p = io.popen(string.format("%q demo-db --out /proc/aapmt_demo_db/x --images 2 2>&1; echo status=$?", exe))
  out = p:read("a")
  p:close()
  check.truthy(out:find("cannot create the folder '/proc/aapmt_demo_db'", 1, true) and out:find("status=1", 1, true),
    "an unwritable folder exits 1: " .. out)
end)
remove_tree(tmp)
if not ok then error(err, 0) end
print("demo_db: ok")
