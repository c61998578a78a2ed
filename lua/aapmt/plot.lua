-- The paper's figures, drawn by gnuplot: grouped bars with value labels
-- (PLCC/SRCC per model variant), lines (a loss per epoch, or per step for
-- aapmt.loss_plot), donuts (shares of prompts) and prediction-vs-MOS
-- scatter plots.
--
-- Each call writes DIR/NAME.csv (the data) and DIR/NAME.gp (a script that
-- reads it, so a figure can be restyled and redrawn by hand), then runs
-- gnuplot for DIR/NAME.png and DIR/NAME.svg. Without gnuplot the CSV and the
-- script are still written and the result's `missing` says how to draw them.
-- The gnuplot used is option gnuplot=, else $AAPMT_GNUPLOT, else "gnuplot".
local folder = require "aapmt.run_folder"

local M = {}

local function fail(kind, fmt, ...)
  error("plot." .. kind .. ": " .. string.format(fmt, ...), 0)
end

-- ---- checking the options ----

local common = {out = true, name = true, title = true, gnuplot = true}

local function check_options(kind, o, known)
  if type(o) ~= "table" then fail(kind, "expected a table of options, got %s", type(o)) end
  for k in pairs(o) do
    if not (common[k] or known[k]) then fail(kind, "unknown option '%s'", tostring(k)) end
  end
  if type(o.out) ~= "string" or o.out == "" then fail(kind, "option 'out' must be a folder name") end
  -- the name goes into the script and a shell command, so it stays plain
  if type(o.name) ~= "string" or not o.name:match("^[%w_][%w_.-]*$") then
    fail(kind, "option 'name' must be a file name of letters, digits, '_', '.' and '-', got %s", tostring(o.name))
  end
  for _, k in ipairs{"title", "xlabel", "ylabel", "note", "gnuplot"} do
    if o[k] ~= nil and type(o[k]) ~= "string" then fail(kind, "option '%s' must be a string", k) end
  end
end

local function numbers(kind, what, list, n)
  if type(list) ~= "table" or #list == 0 then fail(kind, "option '%s' must be a non-empty list of numbers", what) end
  if n and #list ~= n then fail(kind, "option '%s' has %d entries, expected %d", what, #list, n) end
  for i = 1, #list do
    local v = list[i]
    if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge then
      fail(kind, "%s[%d] must be a finite number, got %s", what, i, tostring(v))
    end
  end
  return list
end

local function strings(kind, what, list)
  if type(list) ~= "table" or #list == 0 then fail(kind, "option '%s' must be a non-empty list of strings", what) end
  for i = 1, #list do
    if type(list[i]) ~= "string" then fail(kind, "%s[%d] must be a string, got %s", what, i, type(list[i])) end
  end
  return list
end

-- ---- writing the script ----

-- A newline would end a gnuplot command and split a CSV row.
local function one_line(s) return (s:gsub("%c", " ")) end

-- A gnuplot string literal: single quotes keep backslashes as they are and
-- only need a quote doubled.
local function gp(s)
  return "'" .. (one_line(s):gsub("'", "''")) .. "'"
end

local function num(v) return folder.float_str(v) end

-- Draws to PNG, then redraws the same plot to SVG. The file names are
-- variables so that aapmt can have gnuplot write temporary files first.
-- noenhanced: underscores in labels (mos_quality) stay underscores. A note
-- goes on a line of its own under the title, outside the data area.
local function script(name, title, body, note)
  local heading = title and gp(title)
  if note then heading = (heading and heading .. ' . "\\n" . ' or "") .. gp(note) end
  return table.concat({
    "# Drawn by aapmt.plot from " .. name .. ".csv; redraw with: gnuplot " .. name .. ".gp",
    'if (!exists("png_file")) png_file = ' .. gp(name .. ".png"),
    'if (!exists("svg_file")) svg_file = ' .. gp(name .. ".svg"),
    'if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) { set terminal pngcairo noenhanced size 900,560 } '
      .. "else { set terminal png noenhanced size 900,560 }",
    "set output png_file",
    "set datafile separator comma",
    heading and "set title " .. heading or "unset title",
    body,
    "set terminal svg noenhanced size 900,560 background rgb 'white'",
    "set output svg_file",
    "replot",
    "unset output",
  }, "\n") .. "\n"
end

-- Labels go in the last column and on one line: gnuplot's CSV reader loses
-- a row whose quoted field holds a doubled quote, unless nothing follows it.
local function csv(header, rows)
  local out = {folder.csv_line(header)}
  for _, r in ipairs(rows) do out[#out + 1] = folder.csv_line(r) end
  return table.concat(out)
end

-- ---- running gnuplot ----

local function sh(s) return "'" .. (s:gsub("'", [['\'']])) .. "'" end

-- The gnuplot executable to run, or nil when it cannot be run.
function M.gnuplot(choice)
  local exe = choice or os.getenv("AAPMT_GNUPLOT") or "gnuplot"
  if os.execute(sh(exe) .. " --version >/dev/null 2>&1") then return exe end
  return nil
end

-- Writes the CSV and the script, then draws them; see the file's comment.
local function render(kind, o, csv_text, body)
  local dir, name = folder.mkdir(o.out), o.name
  local base = dir .. "/" .. name
  local result = {csv = base .. ".csv", script = base .. ".gp"}
  folder.write_atomic(result.csv, csv_text)
  folder.write_atomic(result.script, script(name, o.title, body, o.note))
  local exe = M.gnuplot(o.gnuplot)
  if not exe then
    result.missing = string.format("gnuplot is not installed: apt-get install gnuplot-nox, then gnuplot %s.gp (in %s)",
                                   name, dir)
    return result
  end
  local vars = string.format("png_file='%s.png.tmp'; svg_file='%s.svg.tmp'", name, name)
  local cd = dir:sub(1, 1) == "-" and "./" .. dir or dir
  local command = string.format("cd %s && %s -e %s %s 2>&1 </dev/null", sh(cd), sh(exe), sh(vars), sh(name .. ".gp"))
  local p = io.popen(command)
  local said = p:read("a")
  local ok = p:close()
  if not ok then
    os.remove(base .. ".png.tmp")
    os.remove(base .. ".svg.tmp")
    fail(kind, "gnuplot failed on %s (a bug in aapmt.plot, please report it):\n%s", result.script, said)
  end
  for _, ext in ipairs{"png", "svg"} do
    result[ext] = base .. "." .. ext
    local renamed, err = os.rename(result[ext] .. ".tmp", result[ext])
    if not renamed then fail(kind, "gnuplot wrote no %s: %s", result[ext], tostring(err)) end
  end
  return result
end

local function labels(o)
  local lines = {}
  if o.xlabel then lines[#lines + 1] = "set xlabel " .. gp(o.xlabel) end
  if o.ylabel then lines[#lines + 1] = "set ylabel " .. gp(o.ylabel) end
  return table.concat(lines, "\n")
end

-- ---- the plots ----

-- Grouped bars: values[g][s] is series s (PLCC, SRCC) of group g (a model variant).
function M.bars(o)
  check_options("bars", o, {groups = true, series = true, values = true, ylabel = true, yrange = true, labels = true})
  local groups, series = strings("bars", "groups", o.groups), strings("bars", "series", o.series)
  if type(o.values) ~= "table" or #o.values ~= #groups then
    fail("bars", "option 'values' must hold one list per group (%d)", #groups)
  end
  local rows, lowest = {}, 0
  for g, name in ipairs(groups) do
    rows[g] = {table.unpack(numbers("bars", "values[" .. g .. "]", o.values[g], #series))}
    lowest = math.min(lowest, table.unpack(rows[g]))
    rows[g][#series + 1] = one_line(name)
  end
  local yrange = lowest < 0 and "[*:*]" or "[0:*]"   -- bars stand on zero
  if o.yrange ~= nil then
    local r = o.yrange
    if type(r) ~= "table" or #r ~= 2 or type(r[1]) ~= "number" or type(r[2]) ~= "number" or r[1] >= r[2] then
      fail("bars", "option 'yrange' must be {low, high} with low < high")
    end
    yrange = "[" .. num(r[1]) .. ":" .. num(r[2]) .. "]"
  end
  if o.labels ~= nil and type(o.labels) ~= "boolean" then fail("bars", "option 'labels' must be true or false") end
  local header = {table.unpack(series)}
  header[#header + 1] = "group"
  local tics = {}
  for g, name in ipairs(groups) do tics[g] = gp(name) .. " " .. g end
  local file = "'" .. o.name .. ".csv' skip 1"
  local clauses = {}
  for s, name in ipairs(series) do
    clauses[s] = string.format("%s using (bar_x(%d)):%d with boxes title %s", file, s, s, gp(name))
  end
  if o.labels ~= false then
    clauses[#clauses + 1] = "for [s=1:S] " .. file .. " using (bar_x(s)):(column(s))"
      .. ":(sprintf('%.3f', column(s))) with labels offset 0,0.7 notitle"
  end
  local body = {
    labels(o),
    "S = " .. #series .. "; W = 0.8 / S",
    "bar_x(s) = $0 + 1 + (s - (S + 1) / 2.0) * W   # bar s of the group on this row",
    "set boxwidth W",
    "set style fill solid 0.85 border -1",
    "set xtics (" .. table.concat(tics, ", ") .. ") nomirror",
    "set xrange [0.4:" .. #groups + 0.6 .. "]",
    "set yrange " .. yrange,
    "set grid ytics",
    "set key outside right top",
    "plot " .. table.concat(clauses, ", \\\n     "),
  }
  return render("bars", o, csv(header, rows), table.concat(body, "\n"))
end

-- Lines. Each series has its own x and y (a loss per epoch, a metric per
-- eval), written as one CSV row per point; or, with option x, every series
-- is a y over the same x (a loss per step), written as one CSV row per x
-- with a column per series, so a long run's file stays one line a step.
-- A series may set color ('#rrggbb'), width, style ("lines", "points",
-- "linespoints"), every (draw every k-th point; the CSV keeps them all) and
-- key = false (not in the key). Options: logy (a log y axis), xmarks (light
-- vertical lines at these x: epoch ends), key ("inside", the default, at top
-- right; "below" or "right", outside the plot, where no line can be), and
-- note (a line under the title).
local series_keys = {name = true, x = true, y = true, color = true, width = true, style = true, every = true, key = true}
local line_styles = {lines = "lines", points = "points pt 7 ps 0.6", linespoints = "linespoints pt 7 ps 0.6"}
-- height 1: a key below keeps clear of the x label (pngcairo's fonts otherwise touch it)
local key_places = {inside = "set key top right", below = "set key below Left reverse height 1",
                    right = "set key outside right top"}

local function series_style(i, s, default)
  local what = "series[" .. i .. "]"
  for k in pairs(s) do
    if not series_keys[k] then fail("lines", "%s: unknown option '%s'", what, tostring(k)) end
  end
  local style = default
  if s.style ~= nil then
    style = line_styles[s.style] or fail("lines", "%s.style must be lines, points or linespoints", what)
  end
  if s.width ~= nil then
    if type(s.width) ~= "number" or not (s.width > 0 and s.width < 100) then
      fail("lines", "%s.width must be a number above 0", what)
    end
    style = style .. " lw " .. num(s.width)
  else
    style = style .. " lw 2"
  end
  if s.color ~= nil then
    if type(s.color) ~= "string" or not s.color:match("^#%x%x%x%x%x%x$") then
      fail("lines", "%s.color must be '#rrggbb', got %s", what, tostring(s.color))
    end
    style = style .. " lc rgb '" .. s.color .. "'"
  end
  if s.key ~= nil and type(s.key) ~= "boolean" then fail("lines", "%s.key must be true or false", what) end
  if s.every ~= nil and (math.type(s.every) ~= "integer" or s.every < 1) then
    fail("lines", "%s.every must be an integer >= 1", what)
  end
  local every = s.every and s.every > 1 and tostring(s.every) or ""
  return style .. (s.key == false and " notitle" or " title " .. gp(s.name)), every
end

function M.lines(o)
  check_options("lines", o, {xlabel = true, ylabel = true, series = true, x = true, logy = true, xmarks = true, key = true,
    note = true})
  if type(o.series) ~= "table" or #o.series == 0 then
    fail("lines", "option 'series' must be a non-empty list of {name=, x=, y=}")
  end
  local shared = o.x ~= nil and numbers("lines", "x", o.x) or nil
  local longest = 0
  for i, s in ipairs(o.series) do
    if type(s) ~= "table" or type(s.name) ~= "string" then fail("lines", "series[%d] must be a table with name=", i) end
    if shared and s.x ~= nil then fail("lines", "series[%d] has its own x, but option 'x' is shared by all", i) end
    local x = shared or numbers("lines", "series[" .. i .. "].x", s.x)
    numbers("lines", "series[" .. i .. "].y", s.y, #x)
    longest = math.max(longest, #x)
  end
  if o.logy ~= nil and type(o.logy) ~= "boolean" then fail("lines", "option 'logy' must be true or false") end
  if o.key ~= nil and not key_places[o.key] then fail("lines", "option 'key' must be inside, below or right") end
  local marks = {}
  if o.xmarks ~= nil and not (type(o.xmarks) == "table" and #o.xmarks == 0) then
    marks = numbers("lines", "xmarks", o.xmarks)
  end
  local default = longest <= 40 and line_styles.linespoints or line_styles.lines
  local header, rows, clauses = {"x", "y", "series"}, {}, {}
  if shared then
    header = {"x"}
    for i, s in ipairs(o.series) do header[i + 1] = one_line(s.name) end
    -- built as text directly: a run of 50,000 steps is 50,000 rows
    local parts = {folder.csv_line(header)}
    for j = 1, #shared do
      local row = {num(shared[j])}
      for i, s in ipairs(o.series) do row[i + 1] = num(s.y[j]) end
      parts[j + 1] = table.concat(row, ",") .. "\n"
    end
    rows = table.concat(parts)
    for i, s in ipairs(o.series) do
      local style, every = series_style(i, s, default)
      clauses[i] = string.format("'%s.csv' skip 1%s using 1:%d with %s", o.name, every ~= "" and " every " .. every or "",
                                 i + 1, style)
    end
  else
    for i, s in ipairs(o.series) do
      local first = #rows
      for j = 1, #s.x do rows[#rows + 1] = {s.x[j], s.y[j], one_line(s.name)} end
      local style, every = series_style(i, s, default)
      -- every counts the data lines after the header: this series' block of rows
      clauses[i] = string.format("'%s.csv' skip 1 every %s::%d::%d using 1:2 with %s", o.name, every, first, #rows - 1, style)
    end
    rows = csv(header, rows)
  end
  local body = {labels(o), "set grid", key_places[o.key or "inside"]}
  if o.logy then body[#body + 1] = "set logscale y" end
  for _, x in ipairs(marks) do
    body[#body + 1] = "set arrow from " .. num(x) .. ", graph 0 to " .. num(x)
      .. ", graph 1 nohead back lc rgb '#b0b0b0' lw 1 dt 2"
  end
  body[#body + 1] = "plot " .. table.concat(clauses, ", \\\n     ")
  return render("lines", o, rows, table.concat(body, "\n"))
end

-- A donut: slices clockwise from twelve o'clock, percentages on the ring and
-- in the legend. gnuplot has no pie chart: each slice is an arc of `circles`,
-- and a white disc on top makes the hole.
function M.donut(o)
  check_options("donut", o, {slices = true})
  if type(o.slices) ~= "table" or #o.slices == 0 then
    fail("donut", "option 'slices' must be a non-empty list of {label=, value=}")
  end
  local total = 0
  for i, s in ipairs(o.slices) do
    if type(s) ~= "table" or type(s.label) ~= "string" then
      fail("donut", "slices[%d] must be a table with label=", i)
    end
    if type(s.value) ~= "number" or not (s.value >= 0 and s.value < math.huge) then
      fail("donut", "slices[%d].value must be a number >= 0, got %s", i, tostring(s.value))
    end
    total = total + s.value
  end
  if total <= 0 then fail("donut", "option 'slices' must have a value above 0") end
  local rows, keys, done = {}, {}, 0
  for i, s in ipairs(o.slices) do
    local share = s.value / total
    rows[i] = {s.value, 100 * share, 90 - 360 * (done + share), 90 - 360 * done, one_line(s.label)}
    done = done + share
    local title = string.format("%s (%.1f%%)", s.label, 100 * share)
    keys[i] = string.format("keyentry with boxes lc %d title %s", i, gp(title))
  end
  local file = "'" .. o.name .. ".csv' skip 1"
  local body = {
    "set size ratio -1",
    "unset border; unset tics",
    "set xrange [-1.1:1.1]; set yrange [-1.1:1.1]",
    "set style fill solid 1.0 border lc rgb 'white'",
    "set object 1 circle at 0,0 size 0.55 fillcolor rgb 'white' fillstyle solid 1.0 noborder front",
    "set key outside right center",
    "mid(a1, a2) = pi / 360 * (a1 + a2)   # the middle of a slice, in radians",
    "plot " .. file .. " using (0):(0):(1):3:4:($0 + 1) with circles lc variable notitle, \\",
    "     " .. file .. " using (0.775 * cos(mid($3, $4))):(0.775 * sin(mid($3, $4)))"
      .. ":($2 >= 3 ? sprintf('%.1f%%', $2) : '') with labels notitle, \\",
    "     " .. table.concat(keys, ", \\\n     "),
  }
  return render("donut", o, csv({"value", "percent", "start_degrees", "end_degrees", "label"}, rows),
                table.concat(body, "\n"))
end

-- Predictions against MOS, with the least-squares line and a note (SRCC).
-- The note is a second title line and the key sits under the plot, so
-- neither can cover a point.
function M.scatter(o)
  check_options("scatter", o, {x = true, y = true, xlabel = true, ylabel = true, fit = true, note = true})
  local x = numbers("scatter", "x", o.x)
  local y = numbers("scatter", "y", o.y, #x)
  if o.fit ~= nil and type(o.fit) ~= "boolean" then fail("scatter", "option 'fit' must be true or false") end
  local rows = {}
  for i = 1, #x do rows[i] = {x[i], y[i]} end
  local body = {labels(o), "set grid", key_places.below}
  local clauses = {"'" .. o.name .. ".csv' skip 1 using 1:2 with points pt 7 ps 0.5 lc rgb '#1f77b4' notitle"}
  local fit
  if o.fit ~= false then
    local slope, intercept = M.least_squares(x, y)
    if not slope then fail("scatter", "fit needs at least two different x values") end
    fit = {slope = slope, intercept = intercept}
    local title = string.format("least squares: y = %.3g x %s %.3g", slope, intercept < 0 and "-" or "+", math.abs(intercept))
    clauses[2] = string.format("%s * x + %s with lines lw 2 lc rgb '#d62728' title %s", num(slope), num(intercept), gp(title))
  end
  body[#body + 1] = "plot " .. table.concat(clauses, ", \\\n     ")
  local header = {one_line(o.xlabel or "x"), one_line(o.ylabel or "y")}
  local result = render("scatter", o, csv(header, rows), table.concat(body, "\n"))
  result.fit = fit
  return result
end

-- Slope and intercept of y ~ x; nil when every x is the same.
function M.least_squares(x, y)
  local n, mx, my = #x, 0, 0
  for i = 1, n do mx, my = mx + x[i] / n, my + y[i] / n end
  local sxy, sxx = 0, 0
  for i = 1, n do
    sxy = sxy + (x[i] - mx) * (y[i] - my)
    sxx = sxx + (x[i] - mx) ^ 2
  end
  if sxx == 0 then return nil end
  return sxy / sxx, my - sxy / sxx * mx
end

return M
