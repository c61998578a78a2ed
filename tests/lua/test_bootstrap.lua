-- aapmt.metrics.bootstrap and bootstrap_sample (core/train/bootstrap.h):
-- resamples recomputed from aapmt.rand's stream; each interval recomputed here
-- from the resamples, the per-metric functions and numpy's quantile, equal to
-- the last bit; the coverage of the 95 % PLCC interval on data with a known
-- correlation, and why the resampling must keep clusters; paired intervals
-- that do and do not exclude 0; errors. About 5 s on 2 cores.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local a = aapmt
local M = a.metrics
local metric_names = {"srcc", "plcc", "krcc"}

-- Standard normal columns from aapmt.randn: rows x cols as a list of lists.
local function normals(rows, cols, seed)
  return a.randn(rows, cols, {seed = seed, dtype = "f64"}):totable()
end

-- n rows, every three rows a cluster (named by a prompt, interleaved so
-- clusters are not contiguous): y and two predictions, each a cluster effect
-- plus row noise.
local function toy_data(clusters, seed)
  local n = 3 * clusters
  local c, r = normals(clusters, 3, seed), normals(n, 3, seed + 1)
  local y, ya, yb, groups = {}, {}, {}, {}
  for i = 1, n do
    local g = (i * 7) % clusters + 1
    groups[i] = "a prompt number " .. g
    y[i] = c[g][1] + 0.5 * r[i][1]
    ya[i] = y[i] + 0.4 * c[g][2] + 0.3 * r[i][2]
    yb[i] = y[i] + 0.6 * c[g][3] + 0.6 * r[i][3]
  end
  return y, ya, yb, groups
end

-- ---- resamples: whole clusters, drawn from the documented stream ----

do
  local _, _, _, groups = toy_data(15, 100)
  local order, rows_of = {}, {}   -- clusters by first appearance, rows ascending
  for i, g in ipairs(groups) do
    if not rows_of[g] then
      order[#order + 1] = g
      rows_of[g] = {}
    end
    table.insert(rows_of[g], i)
  end
  local G, seed, R = #order, 9, 6
  local u = a.rand(R * G, {seed = seed, dtype = "f64"}):totable()
  for k = 1, R do
    local want = {}
    for j = 1, G do
      local g = order[math.floor(G * u[(k - 1) * G + j]) + 1]
      for _, row in ipairs(rows_of[g]) do want[#want + 1] = row end
    end
    local got = M.bootstrap_sample(groups, seed, k)
    check.eq(#got, #want, "resample " .. k .. ": size")
    for i = 1, #want do check.eq(got[i], want[i], "resample " .. k .. " row " .. i) end
  end
  -- integer groups numbered like strings: the same resample
  local ids = {}
  for i, g in ipairs(groups) do ids[i] = tonumber(g:match("%d+$")) * 10 - 500 end
  local s1, s2 = M.bootstrap_sample(groups, 4, 3), M.bootstrap_sample(ids, 4, 3)
  check.eq(table.concat(s1, ","), table.concat(s2, ","), "integer ids and strings give the same resample")
end

-- ---- the interval, recomputed here ----

-- np.quantile(sorted, q), method "linear", with numpy's _lerp.
local function quantile(v, q)
  local m = #v
  local h = (m - 1) * q
  local below = math.floor(h)
  if h >= m - 1 then return v[m] end
  local t, lo, hi = h - below, v[below + 1], v[below + 2]
  local d = hi - lo
  if t >= 0.5 then return hi - d * (1 - t) end
  return lo + d * t
end

local function recompute(y, ya, yb, groups, R, seed, level)
  local values = {srcc = {}, plcc = {}, krcc = {}}
  for k = 1, R do
    local rows = M.bootstrap_sample(groups, seed, k)
    local ry, ra, rb = {}, {}, {}
    for i, row in ipairs(rows) do
      ry[i], ra[i] = y[row], ya[row]
      if yb then rb[i] = yb[row] end
    end
    for _, name in ipairs(metric_names) do
      local v = M[name](ry, ra)
      if yb then v = v - M[name](ry, rb) end
      values[name][k] = v
    end
  end
  local out = {}
  for _, name in ipairs(metric_names) do
    local finite, sum = {}, 0
    for k = 1, R do
      local v = values[name][k]
      if v == v and math.abs(v) ~= math.huge then
        finite[#finite + 1] = v
        sum = sum + v
      end
    end
    local m = #finite
    local mean, squares = sum / m, 0
    for i = 1, m do
      local d = finite[i] - mean
      squares = squares + d * d
    end
    table.sort(finite)
    local value = M[name](y, ya)
    if yb then value = value - M[name](y, yb) end
    out[name] = {value = value, valid = m, sd = math.sqrt(squares / (m - 1)),
                 low = quantile(finite, (1 - level) / 2), high = quantile(finite, (1 + level) / 2)}
  end
  return out
end

local function same_bits(got, want, what)
  for _, name in ipairs(metric_names) do
    for _, field in ipairs({"value", "low", "high", "sd", "valid"}) do
      local g, w = got[name][field], want[name][field]
      if g ~= w then
        error(string.format("%s %s.%s: C %.17g, recomputed %.17g", what, name, field, g, w), 2)
      end
    end
  end
end

do
  local y, ya, yb, groups = toy_data(20, 200)
  local r = M.bootstrap(y, ya, groups, {resamples = 150, seed = 31, level = 0.9})
  same_bits(r, recompute(y, ya, nil, groups, 150, 31, 0.9), "unpaired")
  check.eq(r.resamples, 150, "resamples")
  check.eq(r.seed, 31, "seed")
  check.eq(r.level, 0.9, "level")
  check.eq(r.groups, 20, "groups")
  check.eq(r.n, 60, "n")
  check.eq(r.paired, false, "paired")
  local p = M.bootstrap(y, ya, groups, {resamples = 150, seed = 31, level = 0.9, paired = yb})
  same_bits(p, recompute(y, ya, yb, groups, 150, 31, 0.9), "paired")
  check.eq(p.paired, true, "paired")
  local t = M.bootstrap(a.tensor(y, "f64"), a.tensor(ya, "f64"), groups,
                        {resamples = 150, seed = 31, level = 0.9, paired = a.tensor(yb, "f64")})
  same_bits(t, p, "f64 tensors for lists")

  -- defaults: 1000 resamples, level 0.95, the documented seed
  local d = M.bootstrap(y, ya, groups)
  check.eq(d.resamples, 1000, "default resamples")
  check.eq(d.level, 0.95, "default level")
  check.eq(d.seed, 45063, "default seed")
  check.eq(M.bootstrap(y, ya, groups, {seed = 45063}).plcc.low, d.plcc.low, "the default seed is 45063")
  for _, name in ipairs(metric_names) do
    local b = d[name]
    check.truthy(b.low < b.value and b.value < b.high, name .. ": the interval holds the point value")
    check.eq(b.valid, 1000, name .. ": every resample finite")
  end

  -- a resample with constant predictions is left out, and counted
  local yc, gc = {1, 2, 3, 4, 5, 7}, {"x", "x", "x", "y", "y", "y"}
  local c = M.bootstrap(yc, {1, 1, 1, 2, 2, 2}, gc, {resamples = 200, seed = 2})
  local want = recompute(yc, {1, 1, 1, 2, 2, 2}, nil, gc, 200, 2, 0.95)
  same_bits(c, want, "constant resamples")
  check.truthy(c.plcc.valid > 50 and c.plcc.valid < 150, "about half the resamples are constant: "
               .. c.plcc.valid .. " valid")
end

-- ---- coverage of the 95 % PLCC interval ----

-- Clusters of 3 rows; (y, yhat) has correlation rho both in the cluster
-- effects (sd 1) and in the row noise (sd 0.4), so its population correlation
-- is rho, and the rows of a cluster are far from independent.
local function correlated(clusters, rho, seed)
  local c, r = normals(clusters, 2, seed), normals(3 * clusters, 2, seed + 1)
  local s = math.sqrt(1 - rho * rho)
  local y, yhat, groups, rows = {}, {}, {}, {}
  for g = 1, clusters do
    for j = 1, 3 do
      local i = 3 * (g - 1) + j
      y[i] = c[g][1] + 0.4 * r[i][1]
      yhat[i] = rho * c[g][1] + s * c[g][2] + 0.4 * (rho * r[i][1] + s * r[i][2])
      groups[i], rows[i] = g, i
    end
  end
  return y, yhat, groups, rows
end

do
  local rho, sets, R = 0.6, 200, 200
  local covered, covered_rows = 0, 0
  local started = os.time()
  for d = 1, sets do
    local y, yhat, groups, rows = correlated(60, rho, 10000 + 2 * d)
    local b = M.bootstrap(y, yhat, groups, {resamples = R, seed = 77}).plcc
    if b.low <= rho and rho <= b.high then covered = covered + 1 end
    -- every row its own group: the ordinary bootstrap, which ignores clusters
    local r = M.bootstrap(y, yhat, rows, {resamples = R, seed = 77}).plcc
    if r.low <= rho and rho <= r.high then covered_rows = covered_rows + 1 end
  end
  local share, share_rows = covered / sets, covered_rows / sets
  print(string.format("coverage of the 95%% PLCC interval: clusters %.3f, rows %.3f (%d data sets, %d resamples, %d s)",
                      share, share_rows, sets, R, os.time() - started))
  check.truthy(share >= 0.85 and share <= 0.99, string.format("cluster coverage %.3f in [0.85, 0.99]", share))
  check.truthy(share_rows <= share - 0.1, string.format("resampling rows covers less (%.3f vs %.3f)",
                                                         share_rows, share))
end

-- ---- paired intervals ----

-- Over 20 data sets: a model with a third of the other's noise is better by
-- every metric, each time; of two models with the same noise level, the
-- interval of the difference holds 0 about 95 % of the time.
local function models(clusters, seed)
  local c, r = normals(clusters, 4, seed), normals(3 * clusters, 4, seed + 1)
  local y, good, good2, bad, groups = {}, {}, {}, {}, {}
  for i = 1, 3 * clusters do
    local g = (i - 1) // 3 + 1
    y[i] = c[g][1] + 0.5 * r[i][1]
    good[i] = y[i] + 0.3 * c[g][2] + 0.3 * r[i][2]
    good2[i] = y[i] + 0.3 * c[g][4] + 0.3 * r[i][4]
    bad[i] = y[i] + 0.9 * c[g][3] + 0.9 * r[i][3]
    groups[i] = g
  end
  return y, good, good2, bad, groups
end

do
  local sets, holds_zero = 20, {srcc = 0, plcc = 0, krcc = 0}
  for d = 1, sets do
    local y, good, good2, bad, groups = models(80, 500 + 2 * d)
    local better = M.bootstrap(y, good, groups, {paired = bad, resamples = 400})
    local equal = M.bootstrap(y, good, groups, {paired = good2, resamples = 400})
    for _, name in ipairs(metric_names) do
      local b, e = better[name], equal[name]
      check.truthy(b.low > 0, string.format("data set %d, %s: better minus worse [%g, %g] excludes 0", d, name,
                                            b.low, b.high))
      if e.low <= 0 and 0 <= e.high then holds_zero[name] = holds_zero[name] + 1 end
    end
  end
  for _, name in ipairs(metric_names) do
    check.truthy(holds_zero[name] >= 16, string.format("%s: two equal models' interval holds 0 in %d of %d data sets",
                                                       name, holds_zero[name], sets))
  end
  print(string.format("equal models, interval holds 0: srcc %d, plcc %d, krcc %d of %d", holds_zero.srcc,
                      holds_zero.plcc, holds_zero.krcc, sets))
  local y, good, _, _, groups = models(80, 500)
  local same = M.bootstrap(y, good, groups, {paired = good, resamples = 50})
  for _, name in ipairs(metric_names) do
    local s = same[name]
    check.truthy(s.value == 0 and s.low == 0 and s.high == 0 and s.sd == 0, name .. ": a model minus itself is 0")
  end
end

-- ---- errors ----

do
  local y, ya, _, groups = toy_data(5, 300)
  local f = "aapmt.metrics.bootstrap"
  check.raises(function() M.bootstrap(y, {1, 2}, groups) end, f, "y has 15 values and yhat 2")
  check.raises(function() M.bootstrap(y, ya, {1, 2, 3}) end, f, "y has 15 values and groups 3")
  check.raises(function() M.bootstrap(y, ya, "prompts") end, f, "groups must be a list", "string")
  check.raises(function() M.bootstrap("y", ya, groups) end, f, "y must be a tensor or a list of numbers")
  local g = {table.unpack(groups)}
  g[4] = true
  check.raises(function() M.bootstrap(y, ya, g) end, f, "groups[4] is a boolean, not an integer or a string")
  g[4] = 1.5
  check.raises(function() M.bootstrap(y, ya, g) end, f, "groups[4] is 1.5")
  local one = {}
  for i = 1, #y do one[i] = "the only prompt" end
  check.raises(function() M.bootstrap(y, ya, one) end, f, "groups hold 1 distinct value over 15 rows")
  check.raises(function() M.bootstrap({1}, {2}, {1}) end, f, "have 1 values; a bootstrap needs at least 2")
  local nan = {table.unpack(ya)}
  nan[7] = 0 / 0
  check.raises(function() M.bootstrap(y, nan, groups) end, f, "yhat[7] is", "finite")
  check.raises(function() M.bootstrap(y, ya, groups, {paired = {1, 2}}) end, f,
               "y has 15 values and paired (model B's predictions) 2")
  check.raises(function() M.bootstrap(y, ya, groups, {paired = nan}) end, f, "paired[7] is")
  check.raises(function() M.bootstrap(y, ya, groups, {resample = 10}) end, f, "unknown option 'resample'")
  check.raises(function() M.bootstrap(y, ya, groups, {resamples = 0}) end, f, "'resamples' must be in 1..", "got 0")
  check.raises(function() M.bootstrap(y, ya, groups, {resamples = 2.5}) end, f, "'resamples' must be an integer")
  check.raises(function() M.bootstrap(y, ya, groups, {level = 95}) end, f, "'level' must be in (0, 1), got 95")
  check.raises(function() M.bootstrap(y, ya, groups, {seed = "x"}) end, f, "'seed' must be an integer")
  local s = "aapmt.metrics.bootstrap_sample"
  check.raises(function() M.bootstrap_sample(groups, 1, 0) end, s, "k (argument #3) must be a resample number from 1, got 0")
  check.raises(function() M.bootstrap_sample(groups, nil, 1) end, s, "seed (argument #2) must be an integer")
  check.raises(function() M.bootstrap_sample({}, 1, 1) end, s, "groups is empty")
end
