-- aapmt eval --csv FILE --pred COL --mos COL [--rows FIRST:LAST] [--mos-csv FILE [--key NAME]]
local cli = require "aapmt.cli"
local a = aapmt

local usage = [==[
usage: aapmt eval --csv FILE --pred COL --mos COL [--rows FIRST:LAST]
                  [--mos-csv FILE [--key NAME]]

Prints how well the predictions in a score CSV agree with the MOS, one value
per line, to the digits that read back exactly:
  N              the number of rows evaluated
  PLCC           scipy.stats.pearsonr of the raw predictions and the MOS
  SRCC           scipy.stats.spearmanr
  KRCC           scipy.stats.kendalltau (tau-b)
  RMSE           root mean squared difference of the raw values
  PLCC_LOGISTIC  PLCC after the standard 5-parameter logistic mapping
                 (nan with fewer than 5 rows; not in AAPMT's numbers)

  --csv FILE         the score CSV: any CSV, AAPMT's own score files (pandas'
                     unnamed index column, quoted fields) included
  --pred COL         the predictions' column (AAPMT: score, quality_score,
                     authenticity_score)
  --mos COL          the MOS column: in --csv, or in --mos-csv when given
  --rows FIRST:LAST  only data rows FIRST..LAST of --csv (1-based, inclusive);
                     1:599 is the paper's AGIQA-3K evaluation for seed 42
                     (docs/aapmt.md §5.3); default: every row
  --mos-csv FILE     take the MOS from this CSV (e.g. AGIQA-3K.csv), matching
                     its rows to --csv's on the key column
  --key NAME         the key column, in both files (default name)
]==]

local function read(path)
  local ok, csv = pcall(a.read_csv, path)
  if not ok then cli.fail(csv) end
  return csv
end

-- The index of the column called name; the error lists the columns there are.
local function column(csv, path, name)
  local names = {}
  for i, h in ipairs(csv.header) do
    if not (i == 1 and csv.index_column) then
      if h == name then return i end
      names[#names + 1] = h
    end
  end
  cli.fail(string.format("%s: no column '%s' (its columns: %s)", path, name, table.concat(names, ", ")))
end

-- A finite decimal number (what pandas writes), else an error naming the cell.
local function number(csv, path, r, col, name)
  local cell = csv.rows[r][col]
  local v = cell:match("^%s*[%d.eE+-]+%s*$") and tonumber(cell)
  if not v or v ~= v or v == math.huge or v == -math.huge then
    cli.fail(string.format("%s, line %d (data row %d), column '%s': %s is not a finite number", path,
      csv.lines[r], r, name, cell == "" and "the empty cell" or "'" .. cell .. "'"))
  end
  return v + 0.0
end

local function row_range(spec, nrows, path)
  if not spec then return 1, nrows end
  local first, last = spec:match("^(%d+):(%d+)$")
  first, last = tonumber(first), tonumber(last)
  if not first then cli.fail("--rows must be FIRST:LAST (1-based data rows, inclusive), got '" .. spec .. "'", 2) end
  if first < 1 or first > last then
    cli.fail("--rows " .. spec .. ": FIRST must be at least 1 and at most LAST", 2)
  end
  if last > nrows then
    cli.fail(string.format("--rows %s: %s has %d data rows", spec, path, nrows))
  end
  return math.tointeger(first), math.tointeger(last)
end

-- The MOS CSV, a function from a key to its row there (nil: none), and the
-- MOS column. A key on two rows is an error only when it is looked up.
local function index_mos(path, key, mos)
  local csv = read(path)
  local kc, mc = column(csv, path, key), column(csv, path, mos)
  local by, twice = {}, {}
  for r, row in ipairs(csv.rows) do
    local k = row[kc]
    if by[k] then twice[k] = twice[k] or r else by[k] = r end
  end
  local function find(k)
    if twice[k] then
      cli.fail(string.format("%s: %s '%s' is on lines %d and %d, so its MOS is ambiguous", path, key, k,
        csv.lines[by[k]], csv.lines[twice[k]]))
    end
    return by[k]
  end
  return csv, find, mc
end

local function shortest(v)
  if v ~= v then return "nan" end
  for digits = 15, 16 do
    local s = string.format("%." .. digits .. "g", v)
    if tonumber(s) == v then return s end
  end
  return string.format("%.17g", v)
end

return cli.command("eval", usage,
  {csv = "string", pred = "string", mos = "string", rows = "string", mos_csv = "string", key = "string"},
  function(opts, positional)
    if #positional > 0 then cli.fail("unexpected argument '" .. positional[1] .. "'", 2) end
    for _, name in ipairs({"csv", "pred", "mos"}) do
      if not opts[name] then cli.fail("--" .. name .. (name == "csv" and " FILE" or " COL") .. " is required", 2) end
    end
    if opts.key and not opts.mos_csv then cli.fail("--key needs --mos-csv", 2) end
    local path = opts.csv
    local csv = read(path)
    local pc = column(csv, path, opts.pred)
    local first, last = row_range(opts.rows, #csv.rows, path)
    if last - first + 1 < 2 then
      cli.fail(string.format("%s: %d data row%s to evaluate%s; the correlations need at least 2", path,
        last - first + 1, last - first + 1 == 1 and "" or "s", opts.rows and " (--rows " .. opts.rows .. ")" or ""))
    end
    local y, yhat = {}, {}
    if opts.mos_csv then
      local key = opts.key or "name"
      local kc = column(csv, path, key)
      local mos_csv, find, mc = index_mos(opts.mos_csv, key, opts.mos)
      local missing, count = {}, 0
      for r = first, last do
        local m = find(csv.rows[r][kc])
        if m then
          y[#y + 1] = number(mos_csv, opts.mos_csv, m, mc, opts.mos)
        else
          count = count + 1
          if count <= 5 then
            missing[count] = string.format("line %d (data row %d) '%s'", csv.lines[r], r, csv.rows[r][kc])
          end
        end
      end
      if count > 0 then
        cli.fail(string.format("%s: %d row%s %s no match in column '%s' of %s: %s%s", path, count,
          count == 1 and "" or "s", count == 1 and "has" or "have", key, opts.mos_csv, table.concat(missing, ", "),
          count > 5 and string.format(" and %d more", count - 5) or ""))
      end
    else
      local mc = column(csv, path, opts.mos)
      for r = first, last do y[#y + 1] = number(csv, path, r, mc, opts.mos) end
    end
    for r = first, last do yhat[#yhat + 1] = number(csv, path, r, pc, opts.pred) end
    local m = a.metrics.all(y, yhat)
    print("N " .. m.n)
    print("PLCC " .. shortest(m.plcc))
    print("SRCC " .. shortest(m.srcc))
    print("KRCC " .. shortest(m.krcc))
    print("RMSE " .. shortest(m.rmse))
    print("PLCC_LOGISTIC " .. shortest(m.plcc_logistic))
  end)
