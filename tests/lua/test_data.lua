-- Datasets and splits from Lua (lua/binding/data.c) and the `aapmt split`
-- command. Expected values come from tests/fixtures/make_data_fixtures.py
-- (numpy and pandas); the real databases in shared/ are checked when present.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local lfs = require "lfs"
local a = aapmt


local here = arg[0]:match("^(.*)/") or "."
local fix = here .. "/../fixtures/data/"
local shared = here .. "/../../../shared/datasets/"

local function lines_of(path)
  local out = {}
  for line in io.lines(path) do out[#out + 1] = line end
  return out
end

local function same_list(got, want, what)
  check.eq(#got, #want, what .. ": length")
  for i = 1, #want do
    if got[i] ~= want[i] then check.eq(got[i], want[i], what .. "[" .. i .. "]") end
  end
end

local tmp = os.tmpname()
os.remove(tmp)
assert(lfs.mkdir(tmp))
local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

-- ---- a small AGIQA-3K and AIGCIQA2023 ----

local agiqa = a.dataset{kind = "agiqa3k", csv = fix .. "agiqa_mini.csv"}
check.eq(agiqa:size(), 19, "size")
check.eq(#agiqa, 19, "#ds")
same_list(agiqa:targets(), {"mos_align", "mos_quality"}, "AGIQA-3K targets")
local row = agiqa:row(2)
check.eq(row.name, "gen0_001.jpg", "row name")
check.eq(row.prompt, "a tray of sushi, cold color", "a prompt with a comma")
check.eq(row.image, nil, "no image without a folder")
check.eq(row.line, 3, "the CSV line")
check.eq(row.csv_row, 2, "the CSV data row")
check.eq(agiqa:row(5).prompt, "line\nbreak", "a prompt with a line break")
check.eq(agiqa:row(6).line, 8, "lines count the line break")
check.eq(#agiqa:column("prompt"), 19, "column of prompts")
check.raises(function() return agiqa:row(20) end, "Dataset:row: row 20 is outside 1..19")
-- ds[i] is ds:row(i): the same fields, the same errors (never nil), methods still found.
for _, i in ipairs({1, 2, 5, 19}) do
  local by_method, by_index = agiqa:row(i), agiqa[i]
  check.eq(type(by_index), "table", "ds[" .. i .. "] is a row")
  for _, key in ipairs({"name", "prompt", "line", "csv_row"}) do
    check.eq(by_index[key], by_method[key], "ds[" .. i .. "]." .. key)
  end
  same_list(by_index.targets, by_method.targets, "ds[" .. i .. "].targets")
end
check.raises(function() return agiqa[0] end, "row 0 is outside 1..19")
check.raises(function() return agiqa[20] end, "row 20 is outside 1..19")
check.raises(function() return agiqa[1.5] end, "number has no integer representation")
check.eq(agiqa.nope, nil, "a key that is no method is nil")
check.eq(type(agiqa.split), "function", "methods are found beside ds[i]")
check.raises(function() return agiqa:column("nope") end, "no column 'nope'")
check.raises(function() return agiqa:column("image") end, "without an image folder")

local published = a.dataset{kind = "aigciqa2023", csv = fix .. "aigc_published.csv"}
local renamed = a.dataset{kind = "aigciqa2023", csv = fix .. "aigc_renamed.csv"}
same_list(published:targets(), {"mos_align", "mos_quality", "mos_authenticity"}, "AIGCIQA2023 targets")

local n_targets = 0
for _, line in ipairs(lines_of(fix .. "mini.expected")) do
  local file, r, name, value = line:match("^target (%S+) (%d+) (%S+) (%S+)$")
  if file then
    local want = tonumber(value)
    local dss = file == "agiqa_mini.csv" and {agiqa} or {published, renamed}
    for _, ds in ipairs(dss) do
      local got = ds:column(name)[tonumber(r) + 1]
      if got ~= want then check.eq(got, want, file .. " row " .. r .. " " .. name) end
    end
    n_targets = n_targets + 1
  end
end
check.eq(n_targets, 19 * 2 + 24 * 3, "targets compared with pandas")

-- ---- splits against numpy and pandas ----

local n_splits = 0
for _, line in ipairs(lines_of(fix .. "mini.expected")) do
  local file, seed, fraction, train, test = line:match("^split (%S+) (%d+) (%S+) %d+ train ([%d ]*) ; test ([%d ]*) ;")
  if file then
    local ds = file == "agiqa_mini.csv" and agiqa or published
    local want_train, want_test = {}, {}
    for v in train:gmatch("%d+") do want_train[#want_train + 1] = tonumber(v) + 1 end
    for v in test:gmatch("%d+") do want_test[#want_test + 1] = tonumber(v) + 1 end
    local got_train, got_test = ds:split{seed = tonumber(seed), train_fraction = tonumber(fraction)}
    same_list(got_train, want_train, file .. " seed " .. seed .. " train rows")
    same_list(got_test, want_test, file .. " seed " .. seed .. " test rows")
    n_splits = n_splits + 1
  end
end
check.eq(n_splits, 20, "splits compared with numpy")

-- split_prompts with distinct prompts and fraction 1: the train prompts are
-- numpy's shuffle of np.arange(n).
local n_perms = 0
for _, line in ipairs(lines_of(fix .. "numpy_shuffles.txt")) do
  local seed, n, perm = line:match("^shuffle (%d+) (%d+) %x+ ([%d ]+)$")
  if seed and tonumber(n) <= 100 then
    local prompts = {}
    for i = 1, tonumber(n) do prompts[i] = "p" .. (i - 1) end
    local train, test, test_prompts, train_prompts = a.split_prompts(prompts, tonumber(seed), 1.0)
    check.eq(#train + #test, tonumber(n), "every row once")
    local i = 0
    for v in perm:gmatch("%d+") do
      i = i + 1
      if train_prompts[i] ~= "p" .. v then check.eq(train_prompts[i], "p" .. v, "seed " .. seed .. " n " .. n) end
    end
    check.eq(#test_prompts, 0, "no test prompts at fraction 1")
    n_perms = n_perms + 1
  end
end
check.truthy(n_perms >= 70, "numpy permutations compared: " .. n_perms)
local tr, te, tp = a.split_prompts({"x", "y", "x", "z", "w", "y"}, 42)
check.eq(#tr + #te, 6, "split_prompts covers every row")
check.eq(#tp, 4 - math.floor(0.8 * 4), "int(0.8 * 4) train prompts")
check.raises(function() return a.split_prompts({"x"}, -1) end, "seed -1 is outside numpy's range")
check.raises(function() return a.split_prompts({"x", 3}, 1) end, "prompt 2 is a number, not a string")

-- Rounds: round r is the split with seed + r - 1.
local rounds = agiqa:splits{seed = 100, rounds = 3}
check.eq(#rounds, 3, "three rounds")
for r = 1, 3 do
  local _, test, test_prompts = agiqa:split{seed = 100 + r - 1}
  check.eq(rounds[r].seed, 100 + r - 1, "round seed")
  same_list(rounds[r].test, test, "round " .. r .. " test rows")
  same_list(rounds[r].test_prompts, test_prompts, "round " .. r .. " test prompts")
end

-- A fixed split from a file and from a list.
write(tmp .. "/test.txt", "a boat\r\n\r\nstatue of a man\n")
local train, test, test_prompts = agiqa:split{file = tmp .. "/test.txt"}
same_list(test_prompts, {"a boat", "statue of a man"}, "fixed test prompts")
same_list(test, {1, 4, 8, 11, 15, 17}, "fixed test rows")
check.eq(#train, 13, "fixed train rows")
local _, test2 = agiqa:split{test_prompts = {"a boat", "statue of a man"}}
same_list(test2, test, "fixed split from a list")
write(tmp .. "/bad.txt", "a boat\nnot there\n")
check.raises(function() return agiqa:split{file = tmp .. "/bad.txt"} end, "bad.txt', line 2: 'not there' is not a prompt")
check.raises(function() return agiqa:split{} end, "give exactly one of seed")
check.raises(function() return agiqa:split{seed = 1, sed = 2} end, "unknown option 'sed'")
check.raises(function() return agiqa:split{seed = 1, train_fraction = 2} end, "train fraction 2 is not in [0, 1]")

-- ---- images ----

local folder = tmp .. "/images"
assert(lfs.mkdir(folder))
for i = 1, agiqa:size() do
  local name = agiqa:row(i).name
  if name ~= "gen1_002.jpg" then write(folder .. "/" .. name, "x") end
end
check.raises(function() return a.dataset{kind = "agiqa3k", csv = fix .. "agiqa_mini.csv", images = folder} end,
  "agiqa_mini.csv, line 12, column 'name': image '", "gen1_002.jpg' does not exist")
local some = a.dataset{kind = "agiqa3k", csv = fix .. "agiqa_mini.csv", images = folder, skip_missing = true}
check.eq(some:size(), 18, "rows with an image")
local skipped, first = some:skipped()
check.eq(skipped, 1, "skipped rows")
check.truthy(first:find("gen1_002.jpg", 1, true), "the first missing image")
check.eq(some:row(1).image, folder .. "/gen0_000.jpg", "image path")
check.eq(some:row(10).csv_row, 11, "csv_row after a skipped row")
local _, t_some = some:split{seed = 42}
local _, t_all = agiqa:split{seed = 42}
local missing_in_test = 0
for _, r in ipairs(t_all) do missing_in_test = missing_in_test + (r == 10 and 1 or 0) end
check.eq(#t_some, #t_all - missing_in_test, "the same split without the missing row")
check.raises(function() return a.dataset{kind = "agiqa3k", csv = fix .. "agiqa_mini.csv", images = tmp .. "/none"} end,
  "image folder '", "none': No such file or directory")
some:free()
check.raises(function() return some:size() end, "the dataset was freed")

-- ---- options and errors ----

check.raises(function() return a.dataset{kind = "imagenet", csv = "x.csv"} end, "kind 'imagenet' is not one of")
check.raises(function() return a.dataset{kind = "csv"} end, "option 'csv' (the ratings file) is missing")
check.raises(function() return a.dataset{csv = fix .. "agiqa_mini.csv", skip_mising = true} end, "unknown option 'skip_mising'")
check.raises(function() return a.dataset{kind = "aigciqa2023", csv = fix .. "agiqa_mini.csv", targets = {"mos_authenticity"}} end,
  "agiqa_mini.csv, line 1: no column 'mos_authenticity'")
local generic = a.dataset{csv = fix .. "aigc_published.csv", targets = {"quality_mos", "correspondence_mos"}}
local raw = a.read_csv(fix .. "aigc_published.csv")
check.eq(raw.header[6], "quality_mos", "the raw column")
check.eq(generic:row(3).targets[1], tonumber(raw.rows[3][6]), "a generic CSV's targets are raw")
same_list(generic:targets(), {"quality_mos", "correspondence_mos"}, "generic targets")
check.truthy(tostring(generic):find("aapmt.Dataset (csv, 24 rows, 2 targets", 1, true), tostring(generic))

local csv = a.read_csv(fix .. "tricky.csv")
same_list(csv.header, {"", "name", "prompt", "score"}, "read_csv header")
check.eq(csv.index_column, true, "read_csv index column")
check.eq(csv.rows[3][3], "two\r\nlines\nand three", "read_csv quoted line breaks")
check.eq(csv.rows[2][3], 'she said "hi"', "read_csv doubled quotes")
same_list(csv.lines, {2, 3, 4, 8, 9, 10, 11}, "read_csv lines")
check.raises(function() return a.read_csv(fix .. "nope.csv") end, "csv: ", "nope.csv: cannot open")

-- ---- aapmt split ----

local exe = arg[-1]
local function run(args)
  local p = io.popen(string.format("%q split %s 2>%q; echo status=$?", exe, args, tmp .. "/err"))
  local out = p:read("a")
  p:close()
  local status = tonumber(out:match("status=(%d+)\n$"))
  local f = io.open(tmp .. "/err")
  local err = f:read("a")
  f:close()
  return out:gsub("status=%d+\n$", ""), err, status
end
write(tmp .. "/ratings.csv", ",name,prompt\n0,a.png,cat\n1,b.png,\"dog, big\"\n2,c.png,cat\n3,d.png,eel\n" ..
  "4,e.png,fox\n5,f.png,gnu\n6,g.png,\"dog, big\"\n")
local prompts = {"cat", "dog, big", "cat", "eel", "fox", "gnu", "dog, big"}
for _, seed in ipairs({0, 42, 100}) do
  local _, _, want = a.split_prompts(prompts, seed, 0.6)
  local out, err, status = run(string.format("--csv %q --seed %d --train-fraction 0.6", tmp .. "/ratings.csv", seed))
  check.eq(status, 0, "aapmt split exit status (" .. err .. ")")
  check.eq(out, table.concat(want, "\n") .. "\n", "aapmt split prints the test prompts, seed " .. seed)
end
local _, err, status = run(string.format("--csv %q", tmp .. "/ratings.csv"))
check.eq(status, 2, "missing --seed is a usage error")
check.truthy(err:find("--seed N is required", 1, true), err)
_, err, status = run(string.format("--csv %q --seed 1 --prompt-column text", tmp .. "/ratings.csv"))
check.eq(status, 1, "a missing column fails")
check.truthy(err:find("no column 'text'", 1, true), err)

-- ---- the real databases, when shared/ is there ----

if lfs.attributes(shared .. "AGIQA-3K/AGIQA-3K.csv") then
  local real = a.dataset{kind = "agiqa3k", csv = shared .. "AGIQA-3K/AGIQA-3K.csv",
                         images = shared .. "AGIQA-3K/images", skip_missing = true}
  check.eq(real:size(), 1669, "AGIQA-3K rows with images")
  check.eq((real:skipped()), 2982 - 1669, "AGIQA-3K rows skipped")
  local all = a.dataset{kind = "agiqa3k", csv = shared .. "AGIQA-3K/AGIQA-3K.csv"}
  for seed, n in pairs({[42] = 599, [100] = 595, [200] = 595}) do
    local _, t, tp = all:split{seed = seed}
    check.eq(#t, n, "AGIQA-3K seed " .. seed .. " test images")
    check.eq(#tp, 60, "AGIQA-3K seed " .. seed .. " test prompts")
  end
  local aigc = a.dataset{kind = "aigciqa2023", csv = shared .. "AIGCIQA2023/AIGCIQA2023.csv"}
  local _, t = aigc:split{seed = 42}
  check.eq(#t, 480, "AIGCIQA2023 seed 42 test images")
  check.eq(aigc:row(1).targets[3], 2.0781569374455344, "AIGCIQA2023 authenticity as AAPMT printed it")
  check.eq(aigc:row(2).targets[3], 1.552310180949391, "AIGCIQA2023 authenticity as AAPMT printed it")
else
  print("note: shared/datasets not found; the real databases were not checked")
end

os.execute(string.format("rm -rf %q", tmp))
print("ok")
