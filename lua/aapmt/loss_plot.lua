-- The training-loss plot of a run, from its steps.csv (one line per
-- optimizer step, written by aapmt.train): every step's loss as a light thin
-- line, a smoothed loss over it, each metric's smoothed loss when the run
-- trains several, and dotted lines where epochs end; x in steps, y on a log
-- axis when the loss spans decades. A one-epoch run gets a curve, not the
-- single point a mean per epoch would give.
--
--   loss_plot.draw{steps_csv = PATH, out = DIR, name = "training_loss",
--                  title = "training loss: table6_seeds (seed=100)", gnuplot = nil}
--     -> aapmt.plot's result (csv, script, png, svg, or missing), or nil and
--        a message when the file is missing or holds no step.
local plot = require "aapmt.plot"
local folder = require "aapmt.run_folder"

local M = {}

local function fail(fmt, ...) error("loss_plot.draw: " .. string.format(fmt, ...), 0) end

-- A loss that spans more than this factor gets a log y axis.
M.log_span = 30

-- Above this many steps the raw line is drawn thinned (every k-th step; the
-- CSV keeps them all). Tens of thousands of segments in 900 pixels make the
-- same light band as a few thousand, but a much larger SVG and slower
-- drawing. The smoothed lines are thinned alike: they change little from
-- one step to the next, so nothing visible is lost.
M.drawn_points = 6000

local metric_colors = {"#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"}

-- ---- smoothing ----

-- Half the smoothing window: 2% of the run each side. Under 50 steps it is
-- 0, no smoothing: each step is a point of its own on the plot, and a mean
-- of 3 of 7 steps mostly bends the first fast fall (at step 2 it sat 50%
-- above the loss).
function M.half_window(n) return n // 50 end

-- The least half-width at the start: about two pixels of the plot's width,
-- so the first few (noisy) steps of a long run do not draw a spike there.
function M.start_window(n) return n // 400 end

-- The smoothed value at each step is a least-squares line through the steps
-- around it, read at that step (local linear regression with a flat window
-- of 2w+1 steps). Where the window is centred this is the moving average,
-- which does not lag as an exponential average does: the loss falls
-- fastest at the start, where a trailing average stays above it. Near the
-- start the window narrows to stay centred (step i uses steps 1 .. 2i-1,
-- but at least the first 2g+1), so the first steep fall is followed rather
-- than averaged away; with g = 0 (under 400 steps) step 1 is the first raw
-- loss itself. Where the window cannot be centred (the first g steps and
-- the last h) it is the first or last steps of the run, and the line
-- through them, not their mean, is read off, so a loss still falling at
-- the end is not drawn flat and high. A straight-line loss comes back
-- unchanged at every step. O(n) through prefix sums: 50,000 steps take
-- milliseconds.
function M.smooth(y, h, g)
  local n = #y
  h = h or M.half_window(n)
  g = math.min(h, g or M.start_window(n))
  local sums = {[0] = 0}
  for i = 1, n do sums[i] = sums[i - 1] + y[i] end
  local lines = {}   -- lo .. ":" .. hi -> {mean x, mean y, slope}: only the two ends' windows
  local function line_at(lo, hi, i)
    local key = lo .. ":" .. hi
    local l = lines[key]
    if not l then
      local m = hi - lo + 1
      local mx, my = (lo + hi) / 2, (sums[hi] - sums[lo - 1]) / m
      local sxy = 0
      for j = lo, hi do sxy = sxy + (j - mx) * (y[j] - my) end
      l = {mx, my, sxy / (m * (m * m - 1) / 12)}
      lines[key] = l
    end
    return l[2] + l[3] * (i - l[1])
  end
  local out = {}
  for i = 1, n do
    local w = math.min(h, math.max(i - 1, g))
    local lo, hi = i - w, i + w
    if lo < 1 then lo, hi = 1, math.min(n, 1 + 2 * w) end
    if hi > n then lo, hi = math.max(1, n - 2 * w), n end
    if lo + hi == 2 * i then
      out[i] = (sums[hi] - sums[lo - 1]) / (hi - lo + 1)
    else
      out[i] = line_at(lo, hi, i)
    end
  end
  return out
end

-- ---- reading steps.csv ----

-- The steps whose loss (and each drawn metric's loss) is a finite number.
-- A last line without its newline is being written (or was torn) and is
-- left out, as aapmt.train does when it resumes.
local function read_steps(path)
  local text = folder.read(path)
  if not text then return nil, "cannot read " .. path end
  text = text:gsub("\r", "")
  local header_line = text:match("^([^\n]*)\n")
  if not header_line then return nil, path .. " has no steps" end
  local col, metrics = {}, {}
  local k = 0
  for name in header_line:gmatch("([^,]*)") do
    k = k + 1
    col[name] = col[name] or k
    local metric = name:match("^loss_(.+)$")
    if metric then metrics[#metrics + 1] = {name = metric, col = k} end
  end
  for _, need in ipairs{"step", "epoch", "loss"} do
    if not col[need] then fail("%s has no column '%s' (its header: %s)", path, need, header_line) end
  end
  if #metrics < 2 then metrics = {} end   -- one metric's loss is the loss
  local steps = {x = {}, epoch = {}, loss = {}, metric = {}, left_out = 0}
  for m = 1, #metrics do steps.metric[m] = {} end
  local function finite(v) return v and v == v and v ~= math.huge and v ~= -math.huge end
  local function number(field) return field and tonumber(field) end
  local fields = {}
  for line in text:sub(#header_line + 2):gmatch("([^\n]*)\n") do
    if line ~= "" then
      local f = 0
      for v in line:gmatch("([^,]*)") do f = f + 1; fields[f] = v end
      for j = f + 1, k do fields[j] = nil end
      local step, epoch, loss = number(fields[col.step]), number(fields[col.epoch]), number(fields[col.loss])
      local ok = finite(step) and finite(epoch) and finite(loss)
      local per = {}
      for m, metric in ipairs(metrics) do
        per[m] = number(fields[metric.col])
        ok = ok and finite(per[m])
      end
      if ok then
        local i = #steps.x + 1
        steps.x[i], steps.epoch[i], steps.loss[i] = step, epoch, loss
        for m = 1, #metrics do steps.metric[m][i] = per[m] end
      else
        steps.left_out = steps.left_out + 1
      end
    end
  end
  steps.metrics = metrics
  return steps
end

-- ---- the plot ----

-- True when the loss spans decades and every value is above zero.
local function wants_log(lists)
  local low, high = math.huge, 0
  for _, list in ipairs(lists) do
    for _, v in ipairs(list) do
      if v <= 0 then return false end
      if v < low then low = v end
      if v > high then high = v end
    end
  end
  return high / low > M.log_span
end

-- On a log axis the smoothing is of log(loss): a mean in the axis' own
-- terms, which stays above zero.
local function smoothed(y, logy)
  if not logy then return M.smooth(y) end
  local logs = {}
  for i = 1, #y do logs[i] = math.log(y[i]) end
  local out = M.smooth(logs)
  for i = 1, #out do out[i] = math.exp(out[i]) end
  return out
end

function M.draw(o)
  if type(o) ~= "table" then fail("expected a table of options, got %s", type(o)) end
  local known = {steps_csv = true, out = true, name = true, title = true, gnuplot = true}
  for key in pairs(o) do
    if not known[key] then fail("unknown option '%s'", tostring(key)) end
  end
  if type(o.steps_csv) ~= "string" then fail("option 'steps_csv' must be a file name") end
  local steps, err = read_steps(o.steps_csv)
  if not steps then return nil, err end
  local n = #steps.x
  if n == 0 then
    return nil, o.steps_csv .. (steps.left_out == 0 and " has no steps" or " has no step with a finite loss")
  end

  local logy = wants_log({steps.loss, table.unpack(steps.metric)})
  local every = math.max(1, -(-n // M.drawn_points))
  local h = M.half_window(n)
  local series
  if h == 0 then   -- too few steps to smooth: the loss of each step, drawn as the main line
    series = {{name = "loss per step", y = steps.loss, color = "#08306b", width = 2}}
  else
    series = {
      {name = "loss per step", y = steps.loss, color = "#9ecae1", width = 1, every = every},
      {name = string.format("smoothed (mean of %d steps)", 2 * h + 1), y = smoothed(steps.loss, logy),
       color = "#08306b", width = 3, style = "lines", every = every},
    }
  end
  for m, metric in ipairs(steps.metrics) do
    series[#series + 1] = {name = "loss_" .. metric.name .. (h == 0 and "" or " (smoothed)"),
      y = h == 0 and steps.metric[m] or smoothed(steps.metric[m], logy),
      color = metric_colors[(m - 1) % #metric_colors + 1], width = 2, style = h > 0 and "lines" or nil, every = every}
  end
  local ends = {}
  for i = 2, n do
    if steps.epoch[i] ~= steps.epoch[i - 1] then ends[#ends + 1] = steps.x[i - 1] end
  end
  local note
  if steps.left_out > 0 then
    note = string.format("%d step%s with a missing or non-finite loss not drawn", steps.left_out,
                         steps.left_out == 1 and "" or "s")
  end
  return plot.lines{out = o.out, name = o.name or "training_loss", title = o.title, gnuplot = o.gnuplot, note = note,
    xlabel = #ends > 0 and "step (dotted lines: ends of epochs)" or "step", ylabel = "loss",
    x = steps.x, series = series, logy = logy, xmarks = ends, key = "below"}
end

return M
