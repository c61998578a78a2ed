-- aapmt.plot: each kind writes its CSV and gnuplot script and, with gnuplot,
-- a PNG and an SVG; aapmt.loss_plot draws a run's steps.csv through it (every
-- step, smoothed lines, epoch marks, a log axis for a loss spanning decades);
-- bad options raise errors naming them; without gnuplot
-- (option gnuplot= or $AAPMT_GNUPLOT pointing nowhere) the result says how
-- to draw the plot; a gnuplot that fails is reported with what it said.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local plot = require "aapmt.plot"
local folder = require "aapmt.run_folder"
local lfs = require "lfs"

local tmp = os.tmpname()
os.remove(tmp)
local out = tmp .. "/plots"   -- made by the first plot call
local have_gnuplot = plot.gnuplot() ~= nil
if not have_gnuplot then print("gnuplot is not installed: skipping the image checks") end

-- The files of a result: the CSV's text is returned; images checked when drawn.
local function check_result(r, name)
  check.eq(r.csv, out .. "/" .. name .. ".csv", name .. " csv path")
  check.eq(r.script, out .. "/" .. name .. ".gp", name .. " script path")
  check.truthy((folder.read(r.script) or ""):find("gnuplot " .. name .. ".gp", 1, true), name .. " script says how to redraw")
  if have_gnuplot then
    check.eq(r.missing, nil, name .. " missing")
    local png = folder.read(r.png) or ""
    check.eq(png:sub(1, 8), "\137PNG\r\n\26\n", name .. ".png signature")
    check.truthy(#png > 2000, name .. ".png has a picture in it")
    check.truthy((folder.read(r.svg) or ""):find("<svg", 1, true), name .. ".svg is an SVG")
    check.eq(folder.exists(r.png .. ".tmp") or folder.exists(r.svg .. ".tmp"), false, name .. " temporary files renamed")
  end
  return folder.read(r.csv)
end

-- ---- each kind ----

-- names with quotes, a backslash, an underscore and a comma must survive gnuplot
local bars = plot.bars{out = out, name = "bars", title = [[it's "raw" \ mos_quality]],
  groups = {"raw", [[trained, "MT"]]}, series = {"PLCC", "SRCC"}, values = {{0.5, 0.25}, {0.875, 1}},
  ylabel = "correlation", yrange = {0, 1}, labels = true}
check.eq(check_result(bars, "bars"), 'PLCC,SRCC,group\n0.5,0.25,raw\n0.875,1,"trained, ""MT"""\n', "bars.csv")
if have_gnuplot then
  local svg = folder.read(bars.svg)
  check.truthy(svg:find("0.875", 1, true) and svg:find("0.250", 1, true), "bars value labels with 3 decimals")
  check.truthy(svg:find("mos_quality", 1, true), "noenhanced: the underscore is drawn, not a subscript")
end

local lines = plot.lines{out = out, name = "loss", title = "loss per epoch", xlabel = "epoch", ylabel = "loss",
  series = {{name = "train", x = {1, 2, 3}, y = {0.9, 0.5, 0.25}}, {name = "test", x = {2, 3}, y = {0.75, 0.5}}}}
check.eq(check_result(lines, "loss"), "x,y,series\n1,0.9,train\n2,0.5,train\n3,0.25,train\n2,0.75,test\n3,0.5,test\n",
         "loss.csv")

-- percentages from the values; slices clockwise from twelve o'clock
local donut = plot.donut{out = out, name = "donut", title = "prompts",
  slices = {{label = "detail", value = 3}, {label = "colour", value = 1}}}
check.eq(check_result(donut, "donut"), "value,percent,start_degrees,end_degrees,label\n"
  .. "3,75,-180,90,detail\n1,25,-270,-180,colour\n", "donut.csv")
check.truthy(folder.read(donut.script):find("detail (75.0%)", 1, true), "donut legend has the percentage")
local whole = plot.donut{out = out, name = "whole", slices = {{label = "all", value = 2}}}
check.truthy(check_result(whole, "whole"):find("2,100,-270,90,all", 1, true), "one slice is the whole ring")

-- least squares by hand: mean x 2.5, mean y 3.5, sxy 4, sxx 5
local scatter = plot.scatter{out = out, name = "scatter", title = "prediction vs MOS", x = {1, 2, 3, 4},
  y = {2, 3, 5, 4}, xlabel = "MOS", ylabel = "prediction", fit = true, note = "SRCC 0.912"}
check.eq(check_result(scatter, "scatter"), "MOS,prediction\n1,2\n2,3\n3,5\n4,4\n", "scatter.csv")
check.near(scatter.fit.slope, 0.8, 1e-12, "fit slope")
check.near(scatter.fit.intercept, 1.5, 1e-12, "fit intercept")
if have_gnuplot then check.truthy(folder.read(scatter.svg):find("SRCC 0.912", 1, true), "scatter note drawn") end
-- the note and the key sit where no point can: a second title line, a key under the plot
local scatter_gp = folder.read(scatter.script)
check.truthy(scatter_gp:find([[set title 'prediction vs MOS' . "\n" . 'SRCC 0.912']], 1, true), "scatter note under the title")
check.truthy(scatter_gp:find("\nset key below", 1, true), "scatter key below the plot")
check.eq(scatter_gp:find("graph", 1, true), nil, "scatter places nothing inside the data area")
check.eq(scatter_gp:find("set label", 1, true), nil, "scatter has no label over the points")
local nofit = plot.scatter{out = out, name = "nofit", x = {1, 1}, y = {2, 3}, fit = false}
check.eq(nofit.fit, nil, "no fit asked")

-- lines over one shared x, with per-series styles, a log axis, marks and a key outside
local shared = plot.lines{out = out, name = "shared", x = {1, 2, 3}, logy = true, xmarks = {2}, key = "below",
  note = "a note", series = {{name = "raw", y = {100, 10, 1}, color = "#9ecae1", width = 1, every = 2, style = "lines"},
                             {name = "other", y = {50, 5, 0.5}, key = false}}}
check.eq(check_result(shared, "shared"), "x,raw,other\n1,100,50\n2,10,5\n3,1,0.5\n", "shared.csv: one row per x")
local shared_gp = folder.read(shared.script)
for _, want in ipairs{"set logscale y", "set key below", "set arrow from 2, graph 0 to 2, graph 1 nohead",
                      "'shared.csv' skip 1 every 2 using 1:2 with lines lw 1 lc rgb '#9ecae1' title 'raw'",
                      "'shared.csv' skip 1 using 1:3 with linespoints pt 7 ps 0.6 lw 2 notitle", "set title 'a note'"} do
  check.truthy(shared_gp:find(want, 1, true), "shared.gp has " .. want)
end
check.eq(folder.read(lines.script):find("logscale", 1, true), nil, "lines: linear unless asked")

-- ---- the training-loss plot, from steps.csv ----

local loss_plot = require "aapmt.loss_plot"
local runs = tmp .. "/runs"
folder.mkdir(runs)

-- A steps.csv as aapmt.train writes it; loss(step) -> total, {per metric}.
local function write_steps(file, n, epochs, metrics, loss, weights)
  local header = {"step", "epoch", "images", "lr", "loss", "grad_norm"}
  for _, m in ipairs(metrics) do header[#header + 1] = "loss_" .. m end
  if weights then for _, m in ipairs(metrics) do header[#header + 1] = "weight_" .. m end end
  local lines, per_epoch = {folder.csv_line(header)}, -(-n // epochs)
  for s = 1, n do
    local total, per = loss(s)
    local row = {s, (s - 1) // per_epoch + 1, 32, 5e-6, total, s % 2 == 0 and 0.5 or ""}
    for m = 1, #metrics do row[#row + 1] = per[m] end
    if weights then for _ = 1, #metrics do row[#row + 1] = 1 end end
    lines[#lines + 1] = folder.csv_line(row)
  end
  local path = runs .. "/" .. file
  folder.write_atomic(path, table.concat(lines))
  return path
end

-- The drawn CSV as a list of rows of numbers (the header apart).
local function read_rows(path)
  local text = folder.read(path)
  local header, rows = text:match("^([^\n]*)\n"), {}
  for line in text:sub(#header + 2):gmatch("([^\n]*)\n") do
    local row = {}
    for v in line:gmatch("([^,]*)") do row[#row + 1] = tonumber(v) end
    rows[#rows + 1] = row
  end
  return rows, header
end

local function count(text, fragment)
  local n, at = 0, 1
  while true do
    local i = text:find(fragment, at, true)
    if not i then return n end
    n, at = n + 1, i + #fragment
  end
end

-- a seeded noise in [0.6, 1.4], so the test sees the same losses each run
local seed = 1
local function noise()
  seed = (seed * 1103515245 + 12345) % 2147483648
  return 0.6 + 0.8 * seed / 2147483648
end

-- 3 epochs of 200 steps, two metrics, the loss falling from ~3 to ~0.05: decades
local written = {}
local three = write_steps("three.csv", 600, 3, {"quality", "align"}, function(s)
  local q, a = (0.05 + 3 * math.exp(-s / 75)) * noise(), 0.5 * (0.05 + 3 * math.exp(-s / 75)) * noise()
  written[s] = q + a
  return q + a, {q, a}
end, true)
local r = loss_plot.draw{steps_csv = three, out = out, name = "loss_three", title = "training loss: table6_seeds (seed=100)"}
check_result(r, "loss_three")
local rows, header = read_rows(r.csv)
check.eq(#rows, 600, "loss_three.csv holds every step")
for s = 1, 600 do
  check.eq(rows[s][1], s, "loss_three.csv step " .. s)
  check.eq(rows[s][2], written[s], "loss_three.csv raw loss of step " .. s)
end
check.eq(header, "x,loss per step,smoothed (mean of 25 steps),loss_quality (smoothed),loss_align (smoothed)",
         "loss_three.csv columns: raw, smoothed, each metric smoothed")
local gp_text = folder.read(r.script)
check.truthy(gp_text:find("\nset logscale y\n", 1, true), "a loss spanning decades gets a log axis")
check.eq(count(gp_text, "set arrow from"), 2, "one marker per internal epoch boundary")
check.truthy(gp_text:find("set arrow from 200, graph 0", 1, true) and gp_text:find("set arrow from 400, graph 0", 1, true),
             "markers where epochs 1 and 2 end")
check.truthy(gp_text:find("set title 'training loss: table6_seeds (seed=100)'", 1, true), "the title given")
check.eq(count(gp_text, "'loss_three.csv' skip 1"), 4, "raw, smoothed and one smoothed line per metric")
check.eq(count(gp_text, "(smoothed)'"), 2, "each metric's smoothed line is in the key")
check.eq(gp_text:find("weight_", 1, true), nil, "loss weights are not drawn")
-- the smoothed line is closer to the noise-free loss than the raw one
local raw_err, smooth_err = 0, 0
for s = 1, 600 do
  local truth = 1.5 * (0.05 + 3 * math.exp(-s / 75))
  raw_err = raw_err + math.log(rows[s][2] / truth) ^ 2
  smooth_err = smooth_err + math.log(rows[s][3] / truth) ^ 2
end
check.truthy(smooth_err < raw_err / 4, string.format("smoothing removes noise (%.3g vs %.3g)", smooth_err, raw_err))

-- one metric, a loss within a factor 30: a linear axis and no extra line
local narrow = write_steps("narrow.csv", 100, 2, {"quality"}, function(s)
  local v = 1 + 0.5 * noise() - s / 200
  return v, {v}
end)
r = loss_plot.draw{steps_csv = narrow, out = out, name = "loss_narrow", title = "narrow"}
check_result(r, "loss_narrow")
gp_text = folder.read(r.script)
check.eq(gp_text:find("logscale", 1, true), nil, "a loss within a factor 30 stays linear")
check.eq(count(gp_text, "'loss_narrow.csv' skip 1"), 2, "one metric: raw and smoothed, nothing extra")
check.eq(count(gp_text, "set arrow from"), 1, "two epochs: one marker")
rows = read_rows(r.csv)
check.eq(rows[1][3], rows[1][2], "under 400 steps the smoothed loss at step 1 is the first raw loss")

-- decades apart but with a zero: no log axis can show it
local zero = write_steps("zero.csv", 60, 1, {"quality"}, function(s) return s == 30 and 0 or 100 / s, {0} end)
r = loss_plot.draw{steps_csv = zero, out = out, name = "loss_zero", gnuplot = "/nonexistent/gnuplot"}
check.eq(folder.read(r.script):find("logscale", 1, true), nil, "a loss of zero keeps the axis linear")
check.eq(count(folder.read(r.script), "set arrow from"), 0, "one epoch: no marker")

-- one epoch of 7 steps: a real curve of 7 points
local seven_losses = {0.9, 0.5, 0.4, 0.35, 0.3, 0.32, 0.28}
local seven = write_steps("seven.csv", 7, 1, {"quality"}, function(s) return seven_losses[s], {seven_losses[s]} end)
r = loss_plot.draw{steps_csv = seven, out = out, name = "loss_seven", title = "one epoch"}
check_result(r, "loss_seven")
rows = read_rows(r.csv)
check.eq(#rows, 7, "7 steps: 7 points")
for s = 1, 7 do check.eq(rows[s][2], seven_losses[s], "7 steps: the loss of step " .. s) end
gp_text = folder.read(r.script)
check.truthy(gp_text:find("using 1:2 with linespoints", 1, true), "7 steps drawn with their points")
check.eq(count(gp_text, "set arrow from"), 0, "7 steps in one epoch: no marker")

-- a header only gives nothing to draw; so does a missing file
local empty = write_steps("empty.csv", 0, 1, {"quality"}, function() end)
local none, why = loss_plot.draw{steps_csv = empty, out = out, name = "loss_empty"}
check.eq(none, nil, "a header-only steps.csv draws nothing")
check.truthy(why:find("has no steps", 1, true), "and says why: " .. tostring(why))
check.eq(folder.exists(out .. "/loss_empty.csv"), false, "nothing written for no steps")
none, why = loss_plot.draw{steps_csv = runs .. "/absent.csv", out = out, name = "loss_absent"}
check.eq(none, nil, "a missing steps.csv draws nothing")
check.truthy(why:find("cannot read", 1, true), "and says why: " .. tostring(why))

-- a non-finite loss is left out and said; a torn last line is left out silently
local torn = folder.read(narrow) .. "101,2,32,5e-06,0.7"
folder.write_atomic(runs .. "/torn.csv", (torn:gsub("\n5,1,32,5e%-06,[^,\n]*", "\n5,1,32,5e-06,nan")))
r = loss_plot.draw{steps_csv = runs .. "/torn.csv", out = out, name = "loss_torn", gnuplot = "/nonexistent/gnuplot"}
rows = read_rows(r.csv)
check.eq(#rows, 99, "the nan step and the torn line are left out")
check.eq(rows[4][1] + 1, rows[5][1] - 1, "step 5 is missing")
check.truthy(folder.read(r.script):find("1 step with a missing or non-finite loss not drawn", 1, true), "the nan step is said")

-- the smoother: no lag on a trend, none at the ends; constant stays constant
local line, flat = {}, {}
for i = 1, 50000 do line[i], flat[i] = 5 - 1e-4 * i, 0.25 end
for _, n in ipairs{5, 60, 600, 50000} do
  local part = {table.unpack(line, 1, n)}
  local sm = loss_plot.smooth(part)
  for _, i in ipairs{1, 2, n // 2, n - 1, n} do
    check.near(sm[i], part[i], 1e-9, string.format("a straight-line loss comes back unchanged (n=%d, step %d)", n, i))
  end
end
local sm = loss_plot.smooth(flat)
check.near(sm[1], 0.25, 1e-12, "constant at the start")
check.near(sm[50000], 0.25, 1e-12, "constant at the end")
check.eq(#loss_plot.smooth({}), 0, "nothing to smooth")
check.eq(loss_plot.smooth({3})[1], 3, "one step")

-- a long run: fast to write, every step in the CSV, fewer drawn
local big = write_steps("big.csv", 50000, 5, {"quality", "align"}, function(s)
  local q = (0.05 + 3 * math.exp(-s / 6000)) * noise()
  return 1.5 * q, {q, 0.5 * q}
end)
local started = os.clock()
r = loss_plot.draw{steps_csv = big, out = out, name = "loss_big", gnuplot = "/nonexistent/gnuplot"}
local took = os.clock() - started
check.truthy(took < 10, string.format("50,000 steps written in %.2f s", took))
check.eq(count(folder.read(r.csv), "\n"), 50001, "loss_big.csv holds every step")
check.truthy(folder.read(r.script):find("skip 1 every 9 using 1:2", 1, true), "50,000 steps drawn thinned")
check.eq(count(folder.read(r.script), "set arrow from"), 4, "5 epochs: 4 markers")

check.raises(function() loss_plot.draw{steps_csv = three, out = out, name = "x", titel = "t"} end,
             "loss_plot.draw: unknown option 'titel'")
folder.write_atomic(runs .. "/odd.csv", "step,loss\n1,2\n")
check.raises(function() loss_plot.draw{steps_csv = runs .. "/odd.csv", out = out, name = "x"} end,
             "loss_plot.draw", "no column 'epoch'")

-- ---- bad options ----

check.raises(function() plot.bars("x") end, "plot.bars: expected a table of options")
check.raises(function() plot.bars{name = "b", groups = {"a"}, series = {"s"}, values = {{1}}} end, "plot.bars", "'out'")
check.raises(function() plot.lines{out = out, name = "../up", series = {}} end, "plot.lines", "'name'")
check.raises(function() plot.bars{out = out, name = "b", groups = {"a"}, series = {"s"}, values = {{1}}, lables = true} end,
             "plot.bars: unknown option 'lables'")
check.raises(function() plot.bars{out = out, name = "b", groups = {"a", "b"}, series = {"s"}, values = {{1}}} end,
             "plot.bars", "'values'")
check.raises(function() plot.bars{out = out, name = "b", groups = {"a"}, series = {"s", "t"}, values = {{1}}} end,
             "plot.bars", "values[1]", "expected 2")
check.raises(function() plot.bars{out = out, name = "b", groups = {"a"}, series = {"s"}, values = {{0 / 0}}} end,
             "plot.bars", "values[1][1] must be a finite number")
check.raises(function() plot.bars{out = out, name = "b", groups = {"a"}, series = {"s"}, values = {{1}}, yrange = {1, 0}} end,
             "plot.bars", "'yrange'")
check.raises(function() plot.bars{out = out, name = "b", groups = {1}, series = {"s"}, values = {{1}}} end,
             "plot.bars", "groups[1] must be a string")
check.raises(function() plot.bars{out = out, name = "b", title = 3, groups = {"a"}, series = {"s"}, values = {{1}}} end,
             "plot.bars", "'title'")
check.raises(function() plot.lines{out = out, name = "l", series = {{name = "a", x = {1, 2}, y = {1}}}} end,
             "plot.lines", "series[1].y", "expected 2")
check.raises(function() plot.lines{out = out, name = "l", series = {{x = {1}, y = {1}}}} end, "plot.lines", "series[1]", "name=")
check.raises(function() plot.lines{out = out, name = "l", series = {{name = "a", x = {1}, y = {1}, colour = "#000000"}}} end,
             "plot.lines", "series[1]: unknown option 'colour'")
check.raises(function() plot.lines{out = out, name = "l", series = {{name = "a", x = {1}, y = {1}, color = "red"}}} end,
             "plot.lines", "series[1].color must be '#rrggbb'")
check.raises(function() plot.lines{out = out, name = "l", series = {{name = "a", x = {1}, y = {1}, style = "dots"}}} end,
             "plot.lines", "series[1].style")
check.raises(function() plot.lines{out = out, name = "l", series = {{name = "a", x = {1}, y = {1}, every = 1.5}}} end,
             "plot.lines", "series[1].every")
check.raises(function() plot.lines{out = out, name = "l", series = {{name = "a", x = {1}, y = {1}, width = 0}}} end,
             "plot.lines", "series[1].width")
check.raises(function() plot.lines{out = out, name = "l", x = {1}, series = {{name = "a", x = {1}, y = {1}}}} end,
             "plot.lines", "series[1] has its own x")
check.raises(function() plot.lines{out = out, name = "l", x = {1, 2}, series = {{name = "a", y = {1}}}} end,
             "plot.lines", "series[1].y", "expected 2")
check.raises(function() plot.lines{out = out, name = "l", series = {{name = "a", x = {1}, y = {1}}}, key = "top"} end,
             "plot.lines", "'key'")
check.raises(function() plot.lines{out = out, name = "l", series = {{name = "a", x = {1}, y = {1}}}, logy = 1} end,
             "plot.lines", "'logy'")
check.raises(function() plot.lines{out = out, name = "l", series = {{name = "a", x = {1}, y = {1}}}, xmarks = {0 / 0}} end,
             "plot.lines", "xmarks[1] must be a finite number")
check.raises(function() plot.donut{out = out, name = "d", slices = {{label = "a", value = -1}}} end,
             "plot.donut", "slices[1].value")
check.raises(function() plot.donut{out = out, name = "d", slices = {{label = "a", value = 0}}} end,
             "plot.donut", "above 0")
check.raises(function() plot.scatter{out = out, name = "s", x = {1, 2}, y = {1}} end, "plot.scatter", "'y'", "expected 2")
check.raises(function() plot.scatter{out = out, name = "s", x = {1, 1}, y = {1, 2}} end, "plot.scatter", "fit needs")

-- ---- without gnuplot ----

local function check_missing(r, name)
  check.truthy(r.missing and r.missing:find("apt-get install gnuplot-nox", 1, true), name .. ": missing says how to install")
  check.truthy(r.missing:find("gnuplot " .. name .. ".gp", 1, true), name .. ": missing says how to draw")
  check.truthy(folder.exists(r.csv) and folder.exists(r.script), name .. ": CSV and script written")
  check.eq(r.png, nil, name .. " png")
  check.eq(r.svg, nil, name .. " svg")
end
check_missing(plot.donut{out = out, name = "hidden", slices = {{label = "a", value = 1}}, gnuplot = "/nonexistent/gnuplot"},
              "hidden")
check.eq(folder.exists(out .. "/hidden.png"), false, "no PNG without gnuplot")

-- $AAPMT_GNUPLOT, in a child process so this one's environment stays as it is
local child = tmp .. "/child.lua"
folder.write_atomic(child, string.format([[
local r = require("aapmt.plot").lines{out = %q, name = "env", series = {{name = "a", x = {1}, y = {2}}}}
print(r.missing)
]], out))
local p = io.popen(string.format("AAPMT_GNUPLOT=/nonexistent/gnuplot %q run %q 2>&1", arg[-1], child))
local said = p:read("a")
check.truthy(p:close(), "child run: " .. said)
check.truthy(said:find("gnuplot is not installed", 1, true), "AAPMT_GNUPLOT honoured: " .. said)
check.truthy(folder.exists(out .. "/env.csv") and folder.exists(out .. "/env.gp"), "env: CSV and script written")

-- A gnuplot that runs but fails on the script is a bug to report, with its words.
local fake = tmp .. "/fake_gnuplot"
folder.write_atomic(fake, '#!/bin/sh\n[ "$1" = --version ] && exit 0\necho "line 7: boom" >&2\nexit 1\n')
os.execute(string.format("chmod +x %q", fake))
check.raises(function() plot.lines{out = out, name = "broken", series = {{name = "a", x = {1}, y = {2}}}, gnuplot = fake} end,
             "plot.lines: gnuplot failed on " .. out .. "/broken.gp", "line 7: boom")

for _, dir in ipairs{out, runs} do
  for entry in lfs.dir(dir) do os.remove(dir .. "/" .. entry) end
  lfs.rmdir(dir)
end
for _, f in ipairs{child, fake} do os.remove(f) end
lfs.rmdir(tmp)
print("ok")
