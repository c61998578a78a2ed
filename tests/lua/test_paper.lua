-- The paper's numbers (lua/aapmt/paper.lua): every entry well formed, the
-- counts per table as hand-counted from docs/aapmt.md, a few values
-- spot-checked, paper.find and the Figure 6 shares. Every source names a
-- section of docs/aapmt.md that exists, every label it quotes is there, and
-- every number appears there verbatim; when the original notes are at
-- ../shared/spec/aapmt.md, every number must appear in them too.
local here = arg[0]:match("^(.*)/") or "."
package.path = here .. "/lib/?.lua;" .. package.path
local check = require "check"
local paper = require "aapmt.paper"

local P = paper.prompts

-- Structure ------------------------------------------------------------------
local tables = {fig1 = true, fig2 = true, fig6 = true, table1 = true, table2 = true, table3 = true,
                table4 = true, table5 = true, table6 = true, extra = true}
local tasks = {align = true, quality = true, authenticity = true}
local databases = {agiqa3k = true, aigciqa2023 = true}
-- docs/aapmt.md §1.3 (and §5.3): N evaluated rows per database and split seed.
local expected_rows = {agiqa3k = {[42] = 599, [100] = 595, [200] = 595}, aigciqa2023 = {[42] = 480}}
local sub_prompts = {}
for _, p in ipairs(paper.figure6.parts) do sub_prompts[p.prompt] = true end
-- Metric Transformers score every task with the image's own prompt.
local own_prompt_models = {["metric transformer"] = true, ["earlier transformer variant"] = true}

local function is_int(v) return math.type(v) == "integer" end

local seen = 0
for id, e in pairs(paper.results) do
  seen = seen + 1
  local what = "entry " .. id
  check.eq(e.id, id, what .. ": id field")
  check.truthy(tables[e.table], what .. ": table " .. tostring(e.table))
  check.truthy(id:sub(1, #e.table + 1) == e.table .. ".", what .. ": id starts with its table")
  check.truthy(databases[e.database], what .. ": database " .. tostring(e.database))
  check.truthy(tasks[e.task], what .. ": task " .. tostring(e.task))
  check.eq(type(e.model), "string", what .. ": model")
  check.eq(type(e.published), "boolean", what .. ": published")
  check.eq(type(e.source), "string", what .. ": source")
  check.truthy(e.source:find("^docs/aapmt%.md §%d"), what .. ": source names a section of docs/aapmt.md")
  for _, m in ipairs{"plcc", "srcc"} do
    check.eq(math.type(e[m]), "float", what .. ": " .. m .. " is a number")
    check.truthy(e[m] >= -1 and e[m] <= 1, what .. ": " .. m .. " in [-1, 1]")
  end
  check.truthy(e.prompt == nil or type(e.prompt) == "string", what .. ": prompt")
  check.truthy(e.note == nil or type(e.note) == "string", what .. ": note")
  if e.protocol == "paper_rows" then
    check.truthy(is_int(e.rows) and is_int(e.seed), what .. ": rows and seed are integers")
    check.eq(e.rows, expected_rows[e.database][e.seed], what .. ": rows for its database and seed")
    check.eq(e.rows, paper.eval_rows[e.database][e.seed], what .. ": rows as paper.eval_rows")
    check.truthy(is_int(e.epochs) and e.epochs >= 0, what .. ": epochs")
    check.eq(e.model == "raw", e.epochs == 0, what .. ": 0 epochs exactly for the raw model")
    -- The text scored with follows from the task (docs/aapmt.md §2, §5.1).
    if own_prompt_models[e.model] or e.task == "align" then
      check.eq(e.prompt, nil, what .. ": scored with each image's own prompt")
    elseif e.task == "authenticity" then
      check.eq(e.prompt, P.authenticity, what .. ": authenticity prompt")
    else
      check.truthy(e.prompt == P.quality1 or e.prompt == P.quality2 or e.prompt == P.quality3
                   or sub_prompts[e.prompt], what .. ": a quality prompt")
    end
  elseif e.protocol == "cited" then
    check.truthy(e.rows == nil and e.seed == nil and e.epochs == nil, what .. ": cited has no rows/seed/epochs")
    check.truthy(e.model:find("^best in %[%d%]$"), what .. ": cited model names the reference")
    check.eq(e.published, true, what .. ": cited numbers are drawn in the paper")
  else
    check.eq(e.protocol, "unknown", what .. ": protocol")
    check.eq(e.published, false, what .. ": unknown protocol only for unpublished numbers")
  end
  -- printed: the paper's digits (rounded or, as in 0.9714, truncated).
  if e.printed ~= nil then
    local a, b = e.printed:match("^(%d%.%d+) / (%d%.%d+)$")
    check.truthy(a and b, what .. ": printed looks like 'x / y': " .. tostring(e.printed))
    local step = 10.0 ^ -#a:match("%.(%d+)")
    check.truthy(math.abs(tonumber(a) - e.plcc) < step, what .. ": printed PLCC " .. a)
    check.truthy(math.abs(tonumber(b) - e.srcc) < step, what .. ": printed SRCC " .. b)
  end
  if e.same_as ~= nil then
    local o = paper.results[e.same_as]
    check.truthy(o, what .. ": same_as " .. e.same_as .. " exists")
    for _, k in ipairs{"database", "task", "model", "seed", "epochs", "rows"} do
      check.eq(e[k], o[k], what .. ": same " .. k .. " as " .. e.same_as)
    end
    check.truthy(math.abs(e.plcc - o.plcc) < 1e-4 and math.abs(e.srcc - o.srcc) < 1e-4,
                 what .. ": same values as " .. e.same_as)
  end
end
check.eq(#paper.list, seen, "paper.list and paper.results hold the same entries (ids unique)")

-- Counts, by hand from docs/aapmt.md -------------------------------------------
local expected_counts = {
  fig1 = {7, 6},    -- §6 Figure 1: 6 bars + 1 "Cross-task value, not in the figure"
  fig2 = {7, 6},    -- §6 Figure 2: 6 bars + 1 "Cross-task value"
  table1 = {6, 0},  -- §6 Table 1 notes: 3 ten-epoch models + 3 Metric Transformer tasks
  table2 = {6, 3},  -- §6 Table 2: 3 prompt columns + 3 pairs of the earlier AGIQA-3K test
  table3 = {5, 3},  -- §6 Table 3: 3 columns + 3 "other cross-task" rows, less the
                    -- 10-epoch one (0.5654/0.5881, kept once as table1.authenticity_10ep)
  table4 = {8, 8},  -- §6 Table 4: 2 task rows x 4 columns
  table5 = {9, 9},  -- §6 Table 5: 3 task rows x 3 columns
  table6 = {10, 6}, -- §6 Table 6: 2 tasks x 3 seeds + 2 x 2 cross-task cells
  fig6 = {7, 0},    -- §6 Figure 6: 7 keys of the correlation table (the paper draws shares)
  extra = {11, 0},  -- §7.8: 5 rows x 3 tasks less one "—" = 14, less the raw row (fig1/
                    -- fig2/table3) and the 3 ten-epoch diagonal cells (table1) = 8;
                    -- plus §3.3's earlier variant, 3
}
local total, published = 0, 0
for t, want in pairs(expected_counts) do
  check.eq(#paper.find{table = t}, want[1], "entries of " .. t)
  check.eq(#paper.find{table = t, published = true}, want[2], "published entries of " .. t)
  total, published = total + want[1], published + want[2]
end
check.eq(#paper.list, total, "no entry outside the counted tables")
check.eq(#paper.find{published = true}, published, "published entries")

-- Spot checks against docs/aapmt.md -------------------------------------------
local r = paper.results
check.eq(r["table4.align_to_quality.quality"].plcc, 0.9172965877, "Table 4 A→Q quality PLCC")
check.eq(r["table2.prompt3"].srcc, 0.8780159636109531, "Table 2 Prompt3 SRCC")
check.eq(r["table3.trained_2023"].plcc, 0.8984689840191041, "Table 3 trained PLCC")
check.eq(r["fig1.raw_3k"].srcc, 0.834378151076395, "Figure 1 raw-3K SRCC")
check.eq(r["table5.mt.authenticity"].srcc, 0.9074662867, "Table 5 Metric Transformer authenticity SRCC")
check.eq(r["table6.seed200.align"].plcc, 0.97147319, "Table 6 seed 200 align PLCC")
check.eq(r["table6.seed200.align"].printed, "0.9714 / 0.9363", "the paper truncates 0.97147")
check.eq(r["table6.seed100.quality"].rows, 595, "seed 100 evaluates 595 rows")
check.eq(r["table1.mt_10ep.authenticity"].srcc, 0.7620, "10-epoch Metric Transformer authenticity SRCC")
check.eq(r["extra.quality_10ep.authenticity"].srcc, 0.4980, "§7.8 quality-trained 10 epochs authenticity")
-- The misprinted Table 6 cell and the result file behind it.
local cell, file = r["table6.seed42.align"], r[r["table6.seed42.align"].mismatch]
check.eq(cell.plcc, 0.9695, "Table 6 seed 42 align as printed")
check.truthy(math.abs(file.plcc - 0.9685) < 5e-5 and math.abs(file.srcc - 0.9290) < 5e-5,
             "the result file gives 0.9685/0.9290")

-- Table 1 ---------------------------------------------------------------------
for db, epochs in pairs{agiqa3k = 10, aigciqa2023 = 50} do
  local t = paper.table1[db]
  check.eq(t.epochs, epochs, db .. " epochs")
  check.eq(t.batch_size, 32, db .. " batch size")
  check.eq(t.lr, 5e-6, db .. " lr")
  check.eq(t.betas[1], 0.9, db .. " beta1")
  check.eq(t.betas[2], 0.999, db .. " beta2")
  check.eq(t.eps, 1e-8, db .. " eps")
  check.eq(t.steps_per_epoch, (t.train_images + 31) // 32, db .. " steps per epoch")
  check.eq(t.steps, t.steps_per_epoch * t.epochs, db .. " steps")
end

-- find ------------------------------------------------------------------------
local hit = paper.find{table = "table2", prompt = P.quality1}
check.eq(#hit, 2, "Table 2 Prompt 1: AIGCIQA2023 and the earlier AGIQA-3K test")
check.eq(#paper.find{table = "table2", prompt = P.quality1, database = "aigciqa2023"}, 1, "one Prompt 1 cell")
hit = paper.find{database = "aigciqa2023", task = "authenticity", model = "metric transformer", epochs = 50}
check.eq(#hit, 1, "the 50-epoch Metric Transformer's authenticity")
check.eq(hit[1].id, "table5.mt.authenticity", "found entry")
check.eq(#paper.find{seed = 100}, 4, "seed 100: Table 6's two cells and two cross-task ones")
check.eq(#paper.find{protocol = "cited"}, 8,
         "the 'best' numbers: 2 bars each in Figures 1 and 2, 1 in Table 3, 3 in Table 5")
check.eq(#paper.find{}, #paper.list, "an empty query matches everything")
check.eq(#paper.find{table = "table9"}, 0, "no such table")
check.raises(function() return paper.find{plcc = 0.9} end, "paper.find", "unknown field 'plcc'")
check.raises(function() return paper.find("table4") end, "paper.find", "expected a table")

-- Figure 6 --------------------------------------------------------------------
for _, metric in ipairs{"plcc", "srcc"} do
  local shares, sum = paper.figure6_shares(metric), 0
  for i, p in ipairs(paper.figure6.parts) do
    check.truthy(math.abs(100 * shares[i] - p.share[metric]) <= 0.05 + 1e-9,
                 string.format("Figure 6 %s share of %s: %.2f %% vs %.1f %%", metric, p.name,
                               100 * shares[i], p.share[metric]))
    sum = sum + shares[i]
  end
  check.near(sum, 1, 1e-12, "Figure 6 " .. metric .. " shares sum to 1")
end
check.eq(#paper.figure6.parts, 6, "six sub-metrics")
local sum3k = 0
for _, s in ipairs(paper.figure6.agiqa3k_plcc_shares) do sum3k = sum3k + s end
check.near(sum3k, 100, 1e-9, "AGIQA-3K variant shares sum to 100 %")
check.raises(function() return paper.figure6_shares("krcc") end, "paper.figure6_shares", "krcc")

-- Every source and number in docs/aapmt.md ----------------------------------
local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end
local docs_path = here .. "/../../docs/aapmt.md"
local docs = assert(read(docs_path), "cannot read " .. docs_path)

-- A source reads "docs/aapmt.md §6 Table 2, 'label', ...; §4.1": each section
-- number must head a section, each "§6 Table N" / "§6 Figure N" a subsection,
-- each quoted label must stand in the text.
local function has_heading(pattern)
  for line in docs:gmatch("[^\n]+") do
    if line:match("^##+ " .. pattern) then return true end
  end
  return false
end
local function check_source(source, what)
  for number, rest in source:gmatch("§([%d%.]*%d)([^§;]*)") do
    local esc = number:gsub("%.", "%%.")
    check.truthy(has_heading(esc .. "[%. ]"), what .. ": section §" .. number .. " exists")
    local item = rest:match("^ ((%a+) %d+)")
    if number == "6" and item then
      check.truthy(has_heading(item .. "[:%s]"), what .. ": §6 has " .. item)
    end
  end
  for label in source:gmatch("'([^']+)'") do
    check.truthy(docs:find(label, 1, true), what .. ": '" .. label .. "' stands in docs/aapmt.md")
  end
end
for _, e in ipairs(paper.list) do check_source(e.source, e.id) end
check_source(paper.figure5.source, "figure5")
check_source(paper.figure6.source, "figure6")
for db, t in pairs(paper.table1) do check_source(t.source, "table1." .. db) end

-- The shortest digits that read back as v (0.9290 → "0.929").
local function digits(v)
  for n = 1, 17 do
    local s = string.format("%." .. n .. "g", v)
    if tonumber(s) == v then return s end
  end
end
-- s stands in text as a whole number: no digit or point before it, and
-- after it only trailing zeros before a non-digit ("0.929" matches "0.9290").
local function stands_in(text, s)
  local from = 1
  while true do
    local i, j = text:find(s, from, true)
    if not i then return false end
    local before = i > 1 and text:sub(i - 1, i - 1) or ""
    local after = text:match("^0*(.?)", j + 1)
    if not before:match("[%d%.]") and not after:match("%d") then return true end
    from = i + 1
  end
end

-- Every number of paper.lua, and every prompt, must stand in the text.
local function check_verbatim(text, name)
  local function expect(v, what)
    local s = type(v) == "string" and v or digits(v)
    check.truthy(stands_in(text, s), what .. ": " .. s .. " appears in " .. name)
  end
  local checked = 0
  for _, e in ipairs(paper.list) do
    expect(e.plcc, e.id .. " plcc")
    expect(e.srcc, e.id .. " srcc")
    if e.printed then
      local a, b = e.printed:match("^(%S+) / (%S+)$")
      expect(a, e.id .. " printed PLCC")
      expect(b, e.id .. " printed SRCC")
    end
    if e.prompt then check.truthy(text:find('"' .. e.prompt .. '"', 1, true), e.id .. ": prompt quoted in " .. name) end
    checked = checked + 2
  end
  for _, p in ipairs(paper.figure6.parts) do
    expect(string.format("%.1f", p.share.plcc), "Figure 6 PLCC share of " .. p.name)
    expect(string.format("%.1f", p.share.srcc), "Figure 6 SRCC share of " .. p.name)
  end
  for i, s in ipairs(paper.figure6.agiqa3k_plcc_shares) do
    expect(string.format("%.1f", s), "AGIQA-3K share " .. i)
  end
  return checked
end

local checked = check_verbatim(docs, "docs/aapmt.md")
print(string.format("%d entries (%d published); %d values found verbatim in docs/aapmt.md",
                    #paper.list, published, checked))

-- The original notes, when this checkout sits beside them.
local spec_path = here .. "/../../../shared/spec/aapmt.md"
local spec = read(spec_path)
if not spec then
  print("skipping the cross-check with the original notes: none at " .. spec_path)
  return
end
check_verbatim(spec, spec_path)
print("the same values found verbatim in " .. spec_path)
