-- aapmt eval --csv FILE --pred COL --mos COL [--rows FIRST:LAST] [--mos-csv FILE [--key NAME]]
--            [--drop-missing]
local cli = require "aapmt.cli"
local a = aapmt

local usage = [==[
usage: aapmt eval --csv FILE --pred COL --mos COL [--rows FIRST:LAST]
                  [--mos-csv FILE [--key NAME]] [--drop-missing]

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
  --key NAME         the key column, in both files (default name); a key on
                     two rows of --mos-csv is an error
  --drop-missing     leave out the rows whose prediction or MOS is empty, NaN
                     or inf (and say how many); without it they are an error

A column that is constant over the rows leaves PLCC, SRCC and KRCC undefined:
they print as nan, with a warning on stderr, and the exit status stays 0.
]==]

local function read(path)
  local ok, csv = pcall(a.read_csv, path)
  if not ok then cli.fail(csv) end
  return csv
end

-- What pandas writes for a value it does not have (and for overflow).
local missing_words = {[""] = true, nan = true, inf = true, infinity = true}

-- A cell as a finite number, or nil and what is wrong with it: "missing"
-- (empty, NaN, inf) or "bad" (not a number at all).
local function cell_number(cell)
  local t = cell:match("^%s*(.-)%s*$"):lower()
  if missing_words[(t:gsub("^[+-]", ""))] then return nil, "missing" end
  local v = t:match("^[%d.e+-]+$") and tonumber(t)
  if not v then return nil, "bad" end
  if v ~= v or v == math.huge or v == -math.huge then return nil, "missing" end
  return v + 0.0
end

-- Where a cell is, for messages: "FILE, line L (data row R), column 'C'".
local function cell_place(csv, path, r, name)
  return string.format("%s, line %d (data row %d), column '%s'", path, csv.lines[r], r, name)
end

local function describe(cell, kind)
  if cell == "" then return "the empty cell" end
  return "'" .. cell .. "'" .. (kind == "bad" and " is not a number" or "")
end

-- "a, b, c, d, e and 3 more": the first few of a list, and how many there are.
local function first_few(list, separator)
  local shown = 5
  local s = table.concat(list, separator or "; ", 1, math.min(#list, shown))
  return #list > shown and string.format("%s and %d more", s, #list - shown) or s
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
-- MOS column. A key on two rows is an error: which MOS a score gets would
-- depend on the order of the file.
local function index_mos(path, key, mos)
  local csv = read(path)
  local kc, mc = cli.csv_column(csv, path, key), cli.csv_column(csv, path, mos)
  local by, twice = {}, {}
  for r, row in ipairs(csv.rows) do
    local k = row[kc]
    if by[k] then
      twice[#twice + 1] = string.format("'%s' (lines %d and %d)", k, csv.lines[by[k]], csv.lines[r])
    else
      by[k] = r
    end
  end
  if #twice > 0 then
    cli.fail(string.format("%s: %d key%s of column '%s' %s on more than one row, so the MOS is ambiguous: %s", path,
      #twice, #twice == 1 and "" or "s", key, #twice == 1 and "is" or "are", first_few(twice)))
  end
  return csv, function(k) return by[k] end, mc
end

local function shortest(v)
  if v ~= v then return "nan" end
  for digits = 15, 16 do
    local s = string.format("%." .. digits .. "g", v)
    if tonumber(s) == v then return s end
  end
  return string.format("%.17g", v)
end

-- The predictions and MOS of rows first..last as two lists of numbers.
-- mos_cell(r) = {csv, path, row, column, name} says where row r's MOS is.
-- Empty, NaN and inf cells are an error listing the first few, or (with
-- --drop-missing) leave their row out, said on stderr; other non-numbers
-- are always an error.
local function read_pairs(opts, csv, path, first, last, pc, mos_cell)
  local y, yhat, problems, dropped = {}, {}, {}, {}
  for r = first, last do
    local values, drop = {}, false
    for i, c in ipairs({{csv, path, r, pc, opts.pred}, mos_cell(r)}) do
      local cell = c[1].rows[c[3]][c[4]]
      local v, kind = cell_number(cell)
      if kind == "missing" and opts.drop_missing then
        drop = true
      elseif kind then
        problems[#problems + 1] = cell_place(c[1], c[2], c[3], c[5]) .. ": " .. describe(cell, kind)
      end
      values[i] = v
    end
    if drop then
      dropped[#dropped + 1] = string.format("line %d", csv.lines[r])
    elseif values[1] and values[2] then
      yhat[#yhat + 1], y[#y + 1] = values[1], values[2]
    end
  end
  if #problems > 0 then
    cli.fail(string.format("%d cell%s cannot be used: %s%s", #problems, #problems == 1 and "" or "s",
      first_few(problems), opts.drop_missing and "" or " (--drop-missing leaves out rows with empty, NaN or inf cells)"))
  end
  if #dropped > 0 then
    io.stderr:write(string.format("aapmt eval: dropped %d of %d rows whose prediction or MOS is empty, NaN or inf "
      .. "(%s, %s)\n", #dropped, last - first + 1, path, first_few(dropped, ", ")))
  end
  if #y < 2 then
    cli.fail(string.format("%s: %d row%s left after dropping the missing ones; the correlations need at least 2",
      path, #y, #y == 1 and "" or "s"))
  end
  return y, yhat
end

-- A constant column has no correlation: nan is the right output, but the
-- user should know why rather than suspect a bug.
local function warn_if_constant(values, what)
  for i = 2, #values do
    if values[i] ~= values[1] then return end
  end
  io.stderr:write(string.format("aapmt eval: warning: the %s is constant (%s) over the %d rows, so PLCC, "
    .. "SRCC and KRCC are undefined (printed as nan)\n", what, shortest(values[1]), #values))
end

return cli.command("eval", usage,
  {csv = "string", pred = "string", mos = "string", rows = "string", mos_csv = "string", key = "string",
   drop_missing = "flag"},
  function(opts, positional)
    if #positional > 0 then cli.fail("unexpected argument '" .. positional[1] .. "'", 2) end
    for _, name in ipairs({"csv", "pred", "mos"}) do
      if not opts[name] then cli.fail("--" .. name .. (name == "csv" and " FILE" or " COL") .. " is required", 2) end
    end
    if opts.key and not opts.mos_csv then cli.fail("--key needs --mos-csv", 2) end
    local path = opts.csv
    local csv = read(path)
    local pc = cli.csv_column(csv, path, opts.pred)
    local first, last = row_range(opts.rows, #csv.rows, path)
    if last - first + 1 < 2 then
      cli.fail(string.format("%s: %d data row%s to evaluate%s; the correlations need at least 2", path,
        last - first + 1, last - first + 1 == 1 and "" or "s", opts.rows and " (--rows " .. opts.rows .. ")" or ""))
    end
    -- Each row's MOS cell: {csv, path, row, column index, column name}, in
    -- --csv or in --mos-csv.
    local mos_cell
    if opts.mos_csv then
      local key = opts.key or "name"
      local kc = cli.csv_column(csv, path, key)
      local mos_csv, find, mc = index_mos(opts.mos_csv, key, opts.mos)
      local missing = {}
      for r = first, last do
        if not find(csv.rows[r][kc]) then
          missing[#missing + 1] = string.format("line %d (data row %d) '%s'", csv.lines[r], r, csv.rows[r][kc])
        end
      end
      if #missing > 0 then
        cli.fail(string.format("%s: %d row%s %s no match in column '%s' of %s: %s", path, #missing,
          #missing == 1 and "" or "s", #missing == 1 and "has" or "have", key, opts.mos_csv,
          first_few(missing, ", ")))
      end
      mos_cell = function(r) return {mos_csv, opts.mos_csv, find(csv.rows[r][kc]), mc, opts.mos} end
    else
      local mc = cli.csv_column(csv, path, opts.mos)
      mos_cell = function(r) return {csv, path, r, mc, opts.mos} end
    end
    local y, yhat = read_pairs(opts, csv, path, first, last, pc, mos_cell)
    warn_if_constant(y, "MOS column '" .. opts.mos .. "'")
    warn_if_constant(yhat, "prediction column '" .. opts.pred .. "'")
    local m = a.metrics.all(y, yhat)
    print("N " .. m.n)
    print("PLCC " .. shortest(m.plcc))
    print("SRCC " .. shortest(m.srcc))
    print("KRCC " .. shortest(m.krcc))
    print("RMSE " .. shortest(m.rmse))
    print("PLCC_LOGISTIC " .. shortest(m.plcc_logistic))
  end)
