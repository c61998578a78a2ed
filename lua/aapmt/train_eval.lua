-- Evaluation for train.run (lua/aapmt/train.lua): scoring rows with the
-- model in eval mode, the metrics of each task, and the scores CSV.
--
-- Two protocols (docs/aapmt.md §5.3):
--  - "test": the held-out rows of the content-isolated split (the default);
--  - "paper_rows": the first N rows of the database in CSV order, N the
--    size of the test set: what AAPMT's validation scripts evaluated, by a
--    bug, and so how every published number was computed. Most of those rows
--    were trained on; reported next to "test", never instead of it.
local a = aapmt
local folder = require "aapmt.run_folder"
local config = require "aapmt.train_config"
local lua_head = require "aapmt.train_head"

local M = {}
local target_of = config.target_of

-- The text a metric feeds the model for each row: its task prompt, the
-- row's own prompt (text false), or what a Lua function of the row returns.
function M.texts_for(metric, rows)
  local texts, text = {}, metric.text
  for i, r in ipairs(rows) do
    if type(text) == "function" then
      texts[i] = text(r)
      if type(texts[i]) ~= "string" then
        error(string.format("metric %s: its text function returned a %s for row %s, not a string", metric.name,
          type(texts[i]), tostring(r.name or r.image)), 0)
      end
    else
      texts[i] = text or r.prompt
    end
  end
  return texts
end

-- With a Metric Transformer: the head output each metric reads (by name),
-- each metric set to the image's own prompt, which the head is fed. Returns
-- the columns and the head's config; nil, the first metric the head lacks
-- and the config; nothing when the model has no such head.
function M.head_columns(net, metrics)
  local head = net:config().metric_head
  if not head then return nil end
  local index, columns = {}, {}
  for i, name in ipairs(head.metrics) do index[name] = i end
  for m, metric in ipairs(metrics) do
    if not index[metric.name] then return nil, metric.name, head end
    columns[m] = index[metric.name]
    metric.text = false
  end
  return columns, nil, head
end

local function append(list, values)
  for _, v in ipairs(values) do list[#list + 1] = v end
end

-- ImageReward's own head: every metric's texts for the batch (the task
-- texts, each row's own prompt) in one pass over the shared encoding, rows
-- metric-major, so each image's cross-attention keys and values are
-- computed once for all of them.
local function own_head_batch(run, batch, encoding, preds, raw)
  local texts = {}
  for _, metric in ipairs(run.metrics) do
    for _, text in ipairs(M.texts_for(metric, batch)) do texts[#texts + 1] = text end
  end
  local ids, mask = run.tokenizer:encode_batch(texts, run.max_length)
  local out = run.net:score_rows(encoding, ids, mask)
  local scores, rewards = out.scores:totable(), out.rewards:totable()
  for _, t in pairs(out) do if type(t) == "userdata" then t:free() end end
  ids:free()
  mask:free()
  local B = #batch
  for m = 1, #run.metrics do
    table.move(scores, (m - 1) * B + 1, m * B, #preds[m] + 1, preds[m])
    table.move(rewards, (m - 1) * B + 1, m * B, #raw[m] + 1, raw[m])
  end
end

-- A head with a column per metric (the Metric Transformer, or a Lua head)
-- fed by one forward of the first metric's texts (a shared Lua head), or by
-- one forward per metric (a Lua head that is not shared).
local function column_head_batch(run, batch, encoding, preds, raw)
  local head, shared = run.lua_head, nil
  local once = head and head.shared or not head
  for m, metric in ipairs(run.metrics) do
    if not (shared and once) then
      local ids, mask = run.tokenizer:encode_batch(M.texts_for(metric, batch), run.max_length)
      local out = run.net:forward_encoded(encoding, ids, mask)
      shared = head and lua_head.scores(head, out.features) or out.metric_scores
    end
    local column = shared:select(2, head and head.columns[m] or run.head_columns[m]):totable()
    append(preds[m], column)
    append(raw[m], column)
  end
end

-- preds[m][i]: metric m's prediction for rows[i] as AAPMT reported it
-- (ImageReward's score(); the Metric Transformer's or a Lua head's raw
-- output), and raw[m][i] the quantity the loss fits (the raw reward; the
-- same for the other heads). In batches of run.eval_batch_size, each from
-- one image encoding.
function M.predict(run, rows)
  local preds, raw = {}, {}
  for m = 1, #run.metrics do preds[m], raw[m] = {}, {} end
  local score_batch = (run.lua_head or run.head_columns) and column_head_batch or own_head_batch
  a.no_grad(function()
    for first = 1, #rows, run.eval_batch_size do
      local batch, paths = {}, {}
      for i = first, math.min(first + run.eval_batch_size - 1, #rows) do
        batch[#batch + 1] = rows[i]
        paths[#paths + 1] = rows[i].image
      end
      local pixels = a.preprocess(paths, run.image_size)
      local encoding = run.net:encode_image(pixels)
      pixels:free()
      score_batch(run, batch, encoding, preds, raw)
      encoding:free()
    end
  end)
  return preds, raw
end

-- {metric name = {n=, plcc=, srcc=, krcc=, rmse=, target=, column=}}: the
-- correlations of preds (unchanged by ImageReward's affine normalisation),
-- the RMSE of raw, the values the model was fitted to.
function M.metrics(run, rows, preds, raw)
  local out = {}
  for m, metric in ipairs(run.metrics) do
    local y = {}
    for i, r in ipairs(rows) do y[i] = target_of(r, metric, m) end
    local s = #rows >= 2 and a.metrics.all(y, preds[m]) or {n = #rows}
    if #rows >= 2 then s.rmse = a.metrics.rmse(y, raw[m]) end
    s.target, s.column = metric.target, metric.column
    out[metric.name] = s
  end
  return out
end

-- name, prompt, one prediction column per metric (AAPMT's names), the
-- targets, then (MLP head) the raw rewards as reward_<metric>.
function M.write_scores(path, run, rows, preds, raw)
  local with_raw = not run.head_columns and not run.lua_head
  local header = {"name", "prompt"}
  for _, metric in ipairs(run.metrics) do header[#header + 1] = metric.column end
  local targets, seen = {}, {}   -- each target column once (several texts may score one MOS)
  for m, metric in ipairs(run.metrics) do
    if not seen[metric.target] then
      seen[metric.target] = true
      targets[#targets + 1] = m
      header[#header + 1] = metric.target
    end
  end
  if with_raw then
    for _, metric in ipairs(run.metrics) do header[#header + 1] = "reward_" .. metric.name end
  end
  local lines = {folder.csv_line(header)}
  for i, r in ipairs(rows) do
    local fields = {r.name or r.image:match("[^/]*$"), r.prompt}
    for m in ipairs(run.metrics) do fields[#fields + 1] = preds[m][i] end
    for _, m in ipairs(targets) do fields[#fields + 1] = target_of(r, run.metrics[m], m) end
    if with_raw then
      for m in ipairs(run.metrics) do fields[#fields + 1] = raw[m][i] end
    end
    lines[#lines + 1] = folder.csv_line(fields)
  end
  folder.write_atomic(path, table.concat(lines))
end

-- The columns epochs.csv gives each metric's per-epoch test result.
function M.epoch_columns(run)
  local cols = {}
  for _, metric in ipairs(run.metrics) do
    cols[#cols + 1] = "test_srcc_" .. metric.name
    cols[#cols + 1] = "test_plcc_" .. metric.name
  end
  return cols
end

function M.epoch_fields(run, metrics)
  local fields = {}
  for _, metric in ipairs(run.metrics) do
    local s = metrics and metrics[metric.name] or {}
    fields[#fields + 1] = s.srcc or ""
    fields[#fields + 1] = s.plcc or ""
  end
  return fields
end

function M.describe(metrics, run, what)
  local parts = {}
  for _, metric in ipairs(run.metrics) do
    local s = metrics[metric.name]
    parts[#parts + 1] = string.format("%s (n=%d): SRCC %.4f PLCC %.4f KRCC %.4f RMSE %.4f", metric.name, s.n or 0,
      s.srcc or 0 / 0, s.plcc or 0 / 0, s.krcc or 0 / 0, s.rmse or 0 / 0)
  end
  return what .. " " .. table.concat(parts, "; ")
end

return M
