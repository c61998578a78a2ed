-- aapmt.plot: each kind writes its CSV and gnuplot script and, with gnuplot,
-- a PNG and an SVG; bad options raise errors naming them; without gnuplot
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
local nofit = plot.scatter{out = out, name = "nofit", x = {1, 1}, y = {2, 3}, fit = false}
check.eq(nofit.fit, nil, "no fit asked")

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

for entry in lfs.dir(out) do os.remove(out .. "/" .. entry) end
lfs.rmdir(out)
for _, f in ipairs{child, fake} do os.remove(f) end
lfs.rmdir(tmp)
print("ok")
