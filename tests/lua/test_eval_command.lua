-- PLCC after the 5-parameter logistic from Lua (aapmt.metrics.plcc_logistic)
-- and the `aapmt eval` command, run through the program. Expected values
-- come from scipy and pandas (tests/fixtures/make_train_fixtures.py: the
-- logistic<k> and eval<k> entries of expected.safetensors, and the CSVs
-- eval_scores.csv, eval_mos.csv, eval_plain.csv beside it). AGIQA-3K in
-- shared/ is used when present (the paper's --rows 1:599 protocol).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local lfs = require "lfs"
local a = aapmt

local here = arg[0]:match("^(.*)/") or "."
local fixdir = here .. "/../fixtures/train/"
local fx = a.load(fixdir .. "expected.safetensors")
local shared_agiqa = here .. "/../../../shared/datasets/AGIQA-3K/AGIQA-3K.csv"

local function isnan(v) return v ~= v end

-- ---- aapmt.metrics.plcc_logistic against scipy's curve_fit ----

local cases = 0
for k = 0, 99 do
  local x, y = fx["logistic" .. k .. ".x"], fx["logistic" .. k .. ".y"]
  if not x then break end
  cases = cases + 1
  local e = fx["logistic" .. k .. ".expected"]:totable()
  local plcc, params = a.metrics.plcc_logistic(y, x)
  check.near(plcc, e[1], e[4], "logistic" .. k .. " plcc against scipy")
  check.eq(#params, 5, "logistic" .. k .. " has 5 parameters")
  check.truthy(params.sse > 0 and params.iterations > 0 and type(params.converged) == "boolean",
    "logistic" .. k .. " sse, iterations, converged")
  -- The parameters give the fitted predictions (compared where the optimum is
  -- well determined; a far valley leaves the parameters loose).
  if e[4] <= 1e-6 then
    local fitted, xs = fx["logistic" .. k .. ".fitted"]:totable(), x:totable()
    local largest, worst = 0, 0
    for i, xi in ipairs(xs) do
      local f = params[1] * (0.5 - 1 / (1 + math.exp(params[2] * (xi - params[3])))) + params[4] * xi + params[5]
      worst = math.max(worst, math.abs(f - fitted[i]))
      largest = math.max(largest, math.abs(fitted[i]))
    end
    check.truthy(worst <= 1e-5 * largest, ("logistic%d: fitted predictions off by %g"):format(k, worst))
  end
  local from_lists = a.metrics.plcc_logistic(y:totable(), x:totable())
  check.eq(from_lists, plcc, "logistic" .. k .. " lists and tensors agree")
  check.eq(a.metrics.all(y, x).plcc_logistic, plcc, "logistic" .. k .. " metrics.all has plcc_logistic")
end
check.truthy(cases >= 8, "logistic cases in the fixture: " .. cases)

local plcc, params, why = a.metrics.plcc_logistic({1, 2, 3, 4}, {1, 3, 2, 4})
check.truthy(isnan(plcc) and params == nil and why:find("5 parameters", 1, true), "4 points: " .. tostring(why))
plcc, params, why = a.metrics.plcc_logistic({1, 2, 3, 4, 5, 6}, {2, 2, 2, 2, 2, 2})
check.truthy(isnan(plcc) and params == nil and why:find("predictions", 1, true), "constant predictions")
check.truthy(isnan(a.metrics.all({1, 2, 3}, {1, 3, 2}).plcc_logistic), "metrics.all: nan for 3 points")
check.raises(function() return a.metrics.plcc_logistic({1, 2, 3, 4, 5}, {1, 2}) end,
  "aapmt.metrics.plcc_logistic", "5 values", "2")
check.raises(function() return a.metrics.plcc_logistic({1, 2, "x", 4, 5}, {1, 2, 3, 4, 5}) end,
  "aapmt.metrics.plcc_logistic", "[3]")

-- ---- aapmt eval ----

local tmp = os.tmpname()
os.remove(tmp)
assert(lfs.mkdir(tmp))
local function write(name, text)
  local f = assert(io.open(tmp .. "/" .. name, "wb"))
  f:write(text)
  f:close()
  return tmp .. "/" .. name
end

local exe = arg[-1]
local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
local function run(args)
  local quoted = {}
  for i, v in ipairs(args) do quoted[i] = q(v) end
  local p = io.popen(string.format("%s eval %s 2>%s; echo status=$?", q(exe), table.concat(quoted, " "),
    q(tmp .. "/err")))
  local out = p:read("a")
  p:close()
  local f = io.open(tmp .. "/err")
  local err = f:read("a")
  f:close()
  return out:gsub("status=%d+\n$", ""), err, tonumber(out:match("status=(%d+)\n$"))
end

-- The printed values by name, and the names in order.
local function parse(out)
  local values, order = {}, {}
  for name, v in out:gmatch("(%u[%u_]*) (%S+)\n") do
    values[name] = v == "nan" and 0 / 0 or tonumber(v)
    order[#order + 1] = name
  end
  return values, order
end

-- The commands of make_train_fixtures.py's EVAL_CASES, in order.
local eval_cases = {
  {"eval_scores.csv", "quality_score", "mos_quality", "eval_mos.csv", "3:32"},
  {"eval_scores.csv", "score", "mos_align", "eval_mos.csv"},
  {"eval_plain.csv", "pred", "mos"},
  {"eval_plain.csv", "pred", "mos", nil, "2:5"},
}
for k, c in ipairs(eval_cases) do
  local args = {"--csv", fixdir .. c[1], "--pred", c[2], "--mos", c[3]}
  if c[4] then table.move({"--mos-csv", fixdir .. c[4]}, 1, 2, #args + 1, args) end
  if c[5] then table.move({"--rows", c[5]}, 1, 2, #args + 1, args) end
  local out, err, status = run(args)
  check.eq(status, 0, "eval case " .. (k - 1) .. " exit status (" .. err .. ")")
  local got, order = parse(out)
  check.eq(table.concat(order, " "), "N PLCC SRCC KRCC RMSE PLCC_LOGISTIC", "eval case " .. (k - 1) .. " lines")
  local e = fx["eval" .. (k - 1) .. ".expected"]:totable()
  check.eq(got.N, math.tointeger(e[1]), "eval case " .. (k - 1) .. " N")
  for i, name in ipairs({"PLCC", "SRCC", "KRCC", "RMSE"}) do
    check.near(got[name], e[i + 1], 1e-12, ("eval case %d %s against scipy"):format(k - 1, name))
  end
  if isnan(e[6]) then
    check.truthy(isnan(got.PLCC_LOGISTIC), "eval case " .. (k - 1) .. " PLCC_LOGISTIC is nan")
  else
    check.near(got.PLCC_LOGISTIC, e[6], 1e-6, ("eval case %d PLCC_LOGISTIC against scipy"):format(k - 1))
  end
end

-- A key column of another name, MOS rows in another order than the scores.
local scores = write("s.csv", "image,p\nb.png,0.5\na.png,0.1\nc.png,0.9\nd.png,0.3\n")
local mos = write("m.csv", 'image,mos,"note, quoted"\nd.png,2.5,x\na.png,1,y\nb.png,3.25,z\nc.png,4,w\ne.png,9,v\n')
local out, err, status = run({"--csv", scores, "--pred", "p", "--mos", "mos", "--mos-csv", mos, "--key", "image"})
check.eq(status, 0, "--key image (" .. err .. ")")
local got = parse(out)
local want = a.metrics.all({3.25, 1, 4, 2.5}, {0.5, 0.1, 0.9, 0.3})
check.eq(got.N, 4, "--key N")
check.near(got.PLCC, want.plcc, 1e-15, "--key PLCC joined by key")
check.near(got.RMSE, want.rmse, 1e-15, "--key RMSE joined by key")

-- Errors name the file, the column, the row.
local function fails(args, want_status, ...)
  local _, e, s = run(args)
  check.eq(s, want_status, "exit status of aapmt eval " .. table.concat(args, " ") .. " (" .. e .. ")")
  for _, fragment in ipairs({...}) do
    check.truthy(e:find(fragment, 1, true), ("stderr %q lacks %q"):format(e, fragment))
  end
end
local plain = fixdir .. "eval_plain.csv"
fails({"--csv", plain, "--pred", "prediction", "--mos", "mos"}, 1, "eval_plain.csv", "no column 'prediction'",
  "id, pred, mos")
fails({"--csv", plain, "--pred", "pred", "--mos", "mos", "--rows", "1-5"}, 2, "--rows must be FIRST:LAST")
fails({"--csv", plain, "--pred", "pred", "--mos", "mos", "--rows", "0:5"}, 2, "--rows 0:5")
fails({"--csv", plain, "--pred", "pred", "--mos", "mos", "--rows", "7:3"}, 2, "--rows 7:3")
fails({"--csv", plain, "--pred", "pred", "--mos", "mos", "--rows", "1:31"}, 1, "--rows 1:31", "30 data rows")
fails({"--csv", plain, "--pred", "pred", "--mos", "mos", "--rows", "4:4"}, 1, "1 data row to evaluate",
  "at least 2")
fails({"--csv", plain, "--pred", "pred"}, 2, "--mos COL is required")
fails({"--csv", plain, "--pred", "pred", "--mos", "mos", "--key", "id"}, 2, "--key needs --mos-csv")
fails({"--csv", tmp .. "/none.csv", "--pred", "pred", "--mos", "mos"}, 1, "none.csv")
local bad = write("bad.csv", ",name,score\n0,a.png,0.5\n1,b.png,high\n2,c.png,0.7\n")
fails({"--csv", bad, "--pred", "score", "--mos", "mos", "--mos-csv", mos, "--key", "name"}, 1, "m.csv",
  "no column 'name'", "image, mos, note, quoted")
local bad_mos = write("bad_mos.csv", "name,mos\na.png,1\nb.png,2\nc.png,\n")
fails({"--csv", bad, "--pred", "score", "--mos", "mos", "--mos-csv", bad_mos, "--rows", "1:2"}, 1, "bad.csv",
  "line 3 (data row 2)", "column 'score'", "'high'")
fails({"--csv", bad, "--pred", "score", "--mos", "mos", "--mos-csv", bad_mos, "--rows", "2:3"}, 1, "bad_mos.csv",
  "line 4", "column 'mos'", "the empty cell")
local partial = write("partial.csv", "name,mos\nb.png,2\n")
fails({"--csv", bad, "--pred", "score", "--mos", "mos", "--mos-csv", partial}, 1, "bad.csv",
  "2 rows have no match in column 'name' of", "partial.csv: line 2 (data row 1) 'a.png'",
  "line 4 (data row 3) 'c.png'")
local twice = write("twice.csv", "name,mos\na.png,1\nb.png,2\na.png,3\nc.png,4\nz.png,1\nz.png,2\n")
fails({"--csv", bad, "--pred", "score", "--mos", "mos", "--mos-csv", twice}, 1, "twice.csv", "'a.png'",
  "lines 2 and 4")
-- Any key on two rows is an error, looked up or not: the file is ambiguous.
local good = write("good.csv", "name,score\nb.png,0.5\nc.png,0.1\n")
fails({"--csv", good, "--pred", "score", "--mos", "mos", "--mos-csv", twice}, 1, "twice.csv",
  "2 keys of column 'name' are on more than one row", "'a.png' (lines 2 and 4)", "'z.png' (lines 6 and 7)")

-- Reads are capped (AAPMT_MAX_TEXT_BYTES, 2 GiB by default): a CSV on stdin
-- whose line never ends is refused once the limit has arrived, not read on
-- for ever (the timeout fails the test where it would be), and a malformed
-- limit names its variable.
local function eval_shell(pipeline)
  local p = io.popen(pipeline:format(q(exe)) .. " 2>" .. q(tmp .. "/err") .. "; echo status=$?")
  local out = p:read("a")
  p:close()
  local f = assert(io.open(tmp .. "/err"))
  local e = f:read("a")
  f:close()
  return e, tonumber(out:match("status=(%d+)\n$"))
end
local e, s = eval_shell("yes abcdefgh | tr -d '\\n' | AAPMT_MAX_TEXT_BYTES=1M timeout 60 %s eval --csv /dev/stdin " ..
  "--pred p --mos m")
check.eq(s, 1, "an endless line on stdin: exit status (" .. e .. ")")
check.truthy(e:find("csv: /dev/stdin: more bytes arrived than the limit of 1048576 bytes (AAPMT_MAX_TEXT_BYTES", 1,
  true), "an endless line on stdin is refused at the limit: " .. e)
e, s = eval_shell("AAPMT_MAX_TEXT_BYTES=2X %s eval --csv " .. q(plain) .. " --pred pred --mos mos")
check.eq(s, 1, "a malformed AAPMT_MAX_TEXT_BYTES: exit status (" .. e .. ")")
check.truthy(e:find("AAPMT_MAX_TEXT_BYTES='2X' is not a byte count", 1, true), "names the variable: " .. e)

-- Empty, NaN and inf cells: an error listing the first few, or left out with --drop-missing.
local holes = write("holes.csv", "name,pred,mos\n" .. table.concat({
  "r1,0.1,1", "r2,,2", "r3,0.3,nan", "r4,0.4,4", "r5,inf,5", "r6,0.6,6", "r7,NaN,-inf", "r8,0.8,8",
  "r9,1e999,9", "r10,1.0,10", "r11, ,11", "r12,1.2,12"}, "\n") .. "\n")
fails({"--csv", holes, "--pred", "pred", "--mos", "mos"}, 1, "7 cells cannot be used",
  "holes.csv, line 3 (data row 2), column 'pred': the empty cell",
  "holes.csv, line 4 (data row 3), column 'mos': 'nan'", "line 6 (data row 5), column 'pred': 'inf'",
  "line 8 (data row 7), column 'pred': 'NaN'", "line 8 (data row 7), column 'mos': '-inf'", "and 2 more",
  "--drop-missing")
out, err, status = run({"--csv", holes, "--pred", "pred", "--mos", "mos", "--drop-missing"})
check.eq(status, 0, "--drop-missing (" .. err .. ")")
check.truthy(err:find("dropped 6 of 12 rows whose prediction or MOS is empty, NaN or inf", 1, true),
  "--drop-missing says how many: " .. err)
got = parse(out)
want = a.metrics.all({1, 4, 6, 8, 10, 12}, {0.1, 0.4, 0.6, 0.8, 1.0, 1.2})
check.eq(got.N, 6, "--drop-missing N")
check.near(got.PLCC, want.plcc, 1e-15, "--drop-missing PLCC over the rows kept")
check.near(got.RMSE, want.rmse, 1e-15, "--drop-missing RMSE over the rows kept")
-- A cell that is no number at all is still an error.
local words = write("words.csv", "name,pred,mos\na,0.1,1\nb,high,2\nc,,3\nd,0.4,4\n")
fails({"--csv", words, "--pred", "pred", "--mos", "mos", "--drop-missing"}, 1, "1 cell cannot be used",
  "line 3 (data row 2), column 'pred': 'high' is not a number")
local few = write("few.csv", "name,pred,mos\na,0.1,1\nb,,2\nc,nan,3\n")
fails({"--csv", few, "--pred", "pred", "--mos", "mos", "--drop-missing"}, 1, "1 row left", "at least 2")

-- A constant column: the correlations are undefined, with a warning, and exit 0.
local flat = write("flat.csv", "name,pred,mos\na,0.5,1\nb,0.5,2\nc,0.5,3\nd,0.5,5\n")
out, err, status = run({"--csv", flat, "--pred", "pred", "--mos", "mos"})
check.eq(status, 0, "constant predictions: exit status 0 (" .. err .. ")")
got = parse(out)
check.truthy(isnan(got.PLCC) and isnan(got.SRCC) and isnan(got.KRCC), "constant predictions: nan correlations")
check.eq(got.N, 4, "constant predictions: N")
check.truthy(err:find("warning: the prediction column 'pred' is constant (0.5) over the 4 rows", 1, true)
  and err:find("undefined", 1, true), "constant predictions: the warning says why: " .. err)
out, err, status = run({"--csv", flat, "--pred", "mos", "--mos", "pred"})
check.eq(status, 0, "a constant MOS: exit status 0")
check.truthy(err:find("the MOS column 'pred' is constant", 1, true), "a constant MOS: warning: " .. err)
local _, _, help_status = run({"--help"})
check.eq(help_status, 0, "aapmt eval --help")

-- ---- the paper's protocol on AGIQA-3K, when shared/ is there ----

if lfs.attributes(shared_agiqa) then
  -- An AAPMT-format score file over the database's rows, in its order; the
  -- paper evaluated its first 599 rows (docs/aapmt.md §5.3).
  local db = a.read_csv(shared_agiqa)
  local col = {}
  for i, h in ipairs(db.header) do col[h] = i end
  local lines, y, yhat = {",name,prompt1,score,prompt2,quality_score\n"}, {}, {}
  for r, row in ipairs(db.rows) do
    local s = math.sin(r) + 0.5 * tonumber(row[col.mos_quality])
    lines[#lines + 1] = string.format('%d,%s,"%s",%.17g,"extremely high quality image, with vivid details",%.17g\n',
      r - 1, row[col.name], row[col.prompt]:gsub('"', '""'), -s, s)
    if r <= 599 then
      y[r], yhat[r] = tonumber(row[col.mos_quality]), s
    end
  end
  local path = write("agiqa_scores.csv", table.concat(lines))
  out, err, status = run({"--csv", path, "--pred", "quality_score", "--mos", "mos_quality", "--mos-csv",
    shared_agiqa, "--rows", "1:599"})
  check.eq(status, 0, "AGIQA-3K --rows 1:599 (" .. err .. ")")
  got = parse(out)
  want = a.metrics.all(y, yhat)
  check.eq(got.N, 599, "AGIQA-3K N")
  for _, name in ipairs({"plcc", "srcc", "krcc", "rmse", "plcc_logistic"}) do
    check.near(got[name:upper()], want[name], 1e-14, "AGIQA-3K " .. name)
  end
else
  print("note: shared/datasets not found; the AGIQA-3K protocol was not checked")
end

os.execute("rm -rf " .. q(tmp))
print("ok")
