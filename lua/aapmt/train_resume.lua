-- What makes a resumed training run the same run (train.lua): the options
-- compared, the data and weights by content, and config.lua, which keeps
-- the options that trained the weights with each stretch of the run.
local a = aapmt
local folder = require "aapmt.run_folder"
local fingerprint = require "aapmt.fingerprint"
local config = require "aapmt.train_config"

local M = {}
local fail = config.fail

-- What may differ between a run and its resume: where it runs, how it
-- reports, whether it recomputes blocks, when it stops or checkpoints, and
-- where its files are (paths: their contents are compared through
-- rec.identity). Everything else
-- (options, data, weights, version) must be the same, or the resume would
-- silently train something else.
M.free_on_resume = {threads = true, progress = true, resume = true, out = true, checkpoint_every = true,
  eval_every = true, eval_batch_size = true, paper_rows = true, stop_after_steps = true, data = true, train = true,
  test = true, stretches = true, vocab = true, ["model.checkpoint"] = true, ["model.config"] = true,
  head = true,   -- a Lua head is compared by train_head.setup, which names both layer lists
  recompute = true}   -- the same gradients bit for bit, in less memory

-- rec flattened to "key" → one-line canonical text (a metric's text
-- function as its source), nested string-keyed tables as "optimizer.lr",
-- so a difference names the option. Stored in the state when the run
-- starts: strings compare with strings whatever the state file can hold.
function M.flat_options(rec)
  local out = {}
  local function walk(t, prefix)
    for k, v in pairs(t) do
      local key = prefix .. tostring(k)
      if M.free_on_resume[key] then
        -- not compared
      elseif type(v) == "table" and #v == 0 and next(v) ~= nil and type(k) == "string" then walk(v, key .. ".")
      else out[key] = fingerprint.canonical(v) end
    end
  end
  walk(rec, "")
  return out
end

local function without(flat, skip)
  if not skip then return flat end
  local out = {}
  for k, v in pairs(flat) do
    if not skip[k:match("^[^.]+")] then out[k] = v end
  end
  return out
end

-- The state must describe this run. A run given a fingerprint (by the
-- experiment layer) is the same run exactly when the fingerprint is;
-- otherwise every option that is not free must be. skip: top-level keys
-- left for a later check (the metrics' texts, known once the head is set).
function M.check(state, rec, out, skip)
  local changes
  if state.config.fingerprint or rec.fingerprint then
    if state.config.fingerprint == rec.fingerprint then return end
    changes = fingerprint.diff(state.config.spec, rec.spec)
    if #changes == 0 then changes = {{key = "fingerprint", old = state.config.fingerprint, new = rec.fingerprint}} end
  else
    changes = fingerprint.diff(without(state.options or M.flat_options(state.config), skip),
      without(M.flat_options(rec), skip))
    if #changes == 0 then return end
  end
  local parts = {}
  for _, c in ipairs(changes) do
    parts[#parts + 1] = string.format("%s: %s (the run) -> %s (now)", c.key, c.old or "(none)", c.new or "(none)")
  end
  fail("cannot resume %s: it was started with other options, and resuming would mix two runs:\n  %s\n"
    .. "To start afresh, remove %s or give another out folder (aapmt train: --out DIR); to go on with the run, use "
    .. "the options it records in %s/config.lua.", out, table.concat(parts, "\n  "), out, out)
end

-- What the run's data and weights are, by content where it is cheap: the
-- rows (image name and size, prompt, targets) and the model and vocabulary
-- files (SHA-256, cached), so a moved folder is the same run.
function M.identity(r)
  local function rows_hash(rows)
    local lines = {}
    for i, row in ipairs(rows) do
      local facts = a.file_facts(row.image)
      lines[i] = string.format("%s %d %s %s", row.image:match("[^/]*$"), facts and facts.size or -1, row.prompt,
        fingerprint.canonical(row.targets))
    end
    return a.sha256(table.concat(lines, "\n"))
  end
  local function file(path) return path and (fingerprint.file(path) or "unreadable " .. path) or nil end
  local spec = type(r.model) == "string" and {checkpoint = r.model} or r.model
  return {train_rows = rows_hash(r.train_rows), test_rows = rows_hash(r.test_rows), vocab = file(r.vocab),
    checkpoint = file(spec.checkpoint), config = file(spec.config)}
end


-- config.lua: the options the run was started with and its stretches (the
-- step each started from, its threads, any reporting option it changed):
-- a resume adds a stretch and never rewrites the options, so the file
-- always says what produced the weights.
-- The options as a state file can hold them: a function (a metric's text)
-- as its source.
function M.printable(v)
  if type(v) == "function" then return "<function> " .. fingerprint.function_source(v) end
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = M.printable(x) end
  return out
end

function M.record_stretch(run, state, rec)
  local stretch = {from_step = state.step, threads = rec.threads, started = os.date("!%Y-%m-%dT%H:%M:%SZ")}
  for _, key in ipairs({"eval_every", "eval_batch_size", "checkpoint_every", "paper_rows"}) do
    if fingerprint.canonical(state.config[key]) ~= fingerprint.canonical(rec[key]) then stretch[key] = rec[key] end
  end
  state.stretches = state.stretches or {}
  state.stretches[#state.stretches + 1] = stretch
  local recorded = {}
  for k, v in pairs(state.config) do recorded[k] = v end
  recorded.stretches = state.stretches
  folder.write_atomic(run.out .. "/config.lua", "return " .. folder.lua_value(recorded) .. "\n")
end

return M
