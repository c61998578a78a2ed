-- Fine-tuning ImageReward the way AAPMT did (docs/aapmt.md §4), but batched,
-- reproducible and resumable.
--
--   local train = require "aapmt.train"
--   local result = train.run{
--     model = {config = "tiny.json", seed = 1},   -- or a checkpoint path, or
--                                                 -- {checkpoint=, config=}; random weights
--                                                 -- take init = "from_scratch" (fan-in stds)
--     vocab = "vocab.txt",
--     data = rows_or_dataset, split = {seed = 42},   -- or train=, test= rows
--     metrics = {"quality"},                         -- or {name=, target=, text=}
--     optimizer = {kind = "adam", lr = 5e-6},        -- betas, eps, weight_decay
--     epochs = 10, batch_size = 32, out = "runs/quality"}
--   --> {steps=, losses={...}, metrics={quality={srcc=,...}}, out=, stopped=}
--
-- The MLP head: the raw reward is what the loss fits (AAPMT's forward
-- returns it; docs/aapmt.md §3.1, §4.2), fed the metric's text: quality → "extremely
-- high quality image, with vivid details", authenticity → "very authentic
-- image", any other metric (align) → the image's own prompt; `text = "..."`
-- fixes another, `text = false` forces the own prompt. Several metrics: one
-- forward per metric per batch, losses summed (AAPMT's equal weights).
-- Evaluation reports ImageReward's score(), the normalised reward, as AAPMT
-- wrote it; RMSE is taken on the raw reward, the quantity fitted.
--
-- A head written in Lua (head = an aapmt.nn module, or a function building
-- one; train_head.lua) replaces the MLP head: it maps the [CLS] features to
-- one score, or one per metric, and is trained and checkpointed with the rest.
--
-- A Metric Transformer (the model config's "metric_head"): one forward per
-- batch with each image's own prompt, as AAPMT's _for_all training did; each
-- metric reads the head's output of the same name (coded: align, quality,
-- authenticity), and the losses are summed. A checkpoint without the head's
-- weights (ImageReward.pt) gets a random head drawn from the run's seed.
--
-- Determinism: the epoch's order comes from (seed, epoch), a micro-batch's
-- dropout from (seed, micro-batch number); no hidden RNG state exists, so
-- a checkpoint needs only the position. Resuming a killed run ends bit-
-- identical to an uninterrupted one (same thread count).
--
-- Batch sources: a factory source(rows, {batch_size=, image_size=, seed=})
-- returning an object with :count() (micro-batches per epoch),
-- :get(epoch, k) → pixels (B, 3, S, S), rows and :close(). get must be a
-- pure function of (seed, epoch, k); calls come in increasing k within an
-- epoch, starting mid-epoch after a resume. The default is train.sync_source
-- (decodes in the caller's thread, order train.epoch_order);
-- cfg.source = train.loader_source{workers=, prefetch=, cache_bytes=} uses
-- the background aapmt.loader (its own seeded order) where it is built.
local a = aapmt
local folder = require "aapmt.run_folder"
local databases = require "aapmt.databases"
local progress = require "aapmt.progress"
local config = require "aapmt.train_config"
local evaluation = require "aapmt.train_eval"
local lua_head = require "aapmt.train_head"
local seeds = require "aapmt.seeds"
local fingerprint = require "aapmt.fingerprint"
local interrupts = require "aapmt.interrupts"
local checkpoints = require "aapmt.train_checkpoint"
local resume = require "aapmt.train_resume"

local M = {task_prompts = config.task_prompts, score_columns = config.score_columns}
local fail, target_of = config.fail, config.target_of
local use_metric_head


-- ---- seeds and order ----

function M.derive_seed(seed, tag, n)
  return seeds.derive(seed, tag, n)
end

local TAG_ORDER, TAG_DROPOUT = 1, 2

-- The shuffled order of n rows in an epoch: indices sorted by engine RNG
-- draws seeded from (seed, epoch); ties keep index order.
function M.epoch_order(n, seed, epoch)
  local draws = a.rand(n, {seed = M.derive_seed(seed, TAG_ORDER, epoch), dtype = "f64"}):totable()
  local order = {}
  for i = 1, n do order[i] = i end
  table.sort(order, function(x, y)
    if draws[x] ~= draws[y] then return draws[x] < draws[y] end
    return x < y
  end)
  return order
end

-- ---- the synchronous batch source ----

function M.sync_source(rows, opts)
  local src = {rows = rows, batch_size = opts.batch_size, image_size = opts.image_size, seed = opts.seed,
    orders = {}}
  function src:count() return (#self.rows + self.batch_size - 1) // self.batch_size end
  function src:get(epoch, k)
    local order = self.orders[epoch]
    if not order then
      order = M.epoch_order(#self.rows, self.seed, epoch)
      self.orders = {[epoch] = order}
    end
    local picked, paths = {}, {}
    for i = (k - 1) * self.batch_size + 1, math.min(k * self.batch_size, #self.rows) do
      picked[#picked + 1] = self.rows[order[i]]
      paths[#paths + 1] = picked[#picked].image
    end
    return a.preprocess(paths, self.image_size), picked
  end
  function src:close() end
  return src
end

-- A factory over aapmt.loader (background decoding). The loader's order is
-- its own function of (seed, epoch), so runs with it are reproducible among
-- themselves, not bit-identical to sync_source runs.
-- What a batch source is, for the run's record: the order it gives
-- is part of what the run trained on.
M.source_kinds = setmetatable({}, {__mode = "k"})

function M.loader_source(loader_opts)
  loader_opts = loader_opts or {}
  local source = function(rows, opts)
    if not a.loader then fail("option 'source': this build has no aapmt.loader") end
    local paths = {}
    for i, r in ipairs(rows) do paths[i] = r.image end
    local ld = a.loader{paths = paths, size = opts.image_size, batch = opts.batch_size, seed = opts.seed,
      workers = loader_opts.workers, prefetch = loader_opts.prefetch, cache_bytes = loader_opts.cache_bytes}
    local src = {}
    function src:count() return ld:batches() end
    function src:get(epoch, k)
      if self.epoch ~= epoch or self.next_k ~= k then ld:epoch(epoch, k) end
      local pixels, _, picked_rows, position = ld:next()
      if not pixels or position ~= k then
        fail("the loader gave batch %s of epoch %d where batch %d was due", tostring(position), epoch, k)
      end
      self.epoch, self.next_k = epoch, k + 1
      local picked = {}
      for i, j in ipairs(picked_rows:totable()) do picked[i] = rows[math.tointeger(j)] end
      return pixels, picked
    end
    function src:close() ld:close() end
    return src
  end
  M.source_kinds[source] = "background loader"
  return source
end

-- ---- model, optimizer, checkpoints ----

local function model_spec(model)
  if type(model) == "string" then return {checkpoint = model} end
  if type(model) ~= "table" then fail("option 'model' must be a path or a table") end
  for k in pairs(model) do
    if k ~= "checkpoint" and k ~= "config" and k ~= "seed" and k ~= "init" then
      fail("model: unknown option '%s'", tostring(k))
    end
  end
  return model
end

local function load_model(spec, weights)
  if weights then return a.imagereward_load(weights, spec.config) end
  if spec.checkpoint then
    if not folder.exists(spec.checkpoint) then fail("model: %s", databases.checkpoint_missing(spec.checkpoint)) end
    return a.imagereward_load(spec.checkpoint, spec.config)
  end
  if not spec.config then fail("model: give checkpoint= or config= (for random weights)") end
  return a.imagereward_random(spec.config, spec.seed or 0, {init = spec.init})
end

-- ImageReward's fix_rate rule first (fix_rate 0 skips it, as AAPMT does, and
-- trains everything), then parameters whose names match a freeze pattern
-- are frozen. A pattern matching nothing is a mistake (a typo would silently
-- train what was meant to stay), so it is an error.
local function set_trainable(net, fix_rate, freeze, head)
  if fix_rate > 0 then net:fix_rate(fix_rate) end
  local params, list, matched = {}, net:parameters(), {}
  if head then list = lua_head.parameter_list(list, head) end
  local counts = {tensors = #list, values = 0, trainable_tensors = 0, trainable_values = 0}
  for i, p in ipairs(list) do
    if fix_rate == 0 then p.tensor.requires_grad = true end
    for k, pattern in ipairs(freeze) do
      if p.name:find(pattern) then
        p.tensor.requires_grad = false
        matched[k] = true
      end
    end
    local n = p.tensor:numel()
    counts.values = counts.values + n
    if p.tensor.requires_grad then
      counts.trainable_tensors, counts.trainable_values = counts.trainable_tensors + 1, counts.trainable_values + n
    end
    params[i] = p.tensor
  end
  for k, pattern in ipairs(freeze) do
    if not matched[k] then
      fail("freeze pattern '%s' matches no parameter name (names look like '%s')", pattern, list[1].name)
    end
  end
  return params, counts
end

local function make_optimizer(params, o)
  return a[o.kind](params, {lr = o.lr, betas = o.betas, eps = o.eps, weight_decay = o.weight_decay})
end

-- ---- one micro-batch ----

-- Forward and backward of one micro-batch; returns its loss and the loss
-- per metric (numbers). scale divides an mse loss over accumulated batches.
local function micro_batch(run, pixels, rows, dropout_seed, scale)
  local total, per_metric, loss_sum = 0, {}, nil
  -- Every tensor made here is freed right after backward: the outputs hold
  -- the graph and with it every stored activation, which the Lua collector
  -- would release only much later (a full-size step would keep gigabytes).
  local made, seen = {}, {}
  local function keep(t)
    if t and not seen[t] then seen[t], made[#made + 1] = true, t end
    return t
  end
  local function forward(texts, seed)
    local ids, mask = run.tokenizer:encode_batch(texts, run.max_length)
    keep(ids)
    keep(mask)
    local out = run.net:forward(pixels, ids, mask, {training = true, seed = seed, recompute = run.recompute})
    for _, t in pairs(out) do
      if type(t) == "userdata" then keep(t) end
    end
    return out
  end
  local shared   -- the Metric Transformer's (or a shared Lua head's) one forward for every metric
  local head = run.lua_head
  for m, metric in ipairs(run.metrics) do
    local pred
    if run.head_columns then
      shared = shared or forward(evaluation.texts_for(metric, rows), M.derive_seed(dropout_seed, 0, 0))
      pred = keep(shared.metric_scores:select(2, run.head_columns[m]))
    elseif head then
      local k = head.shared and 0 or m
      local scores = head.shared and shared
      if not scores then
        local features = forward(evaluation.texts_for(metric, rows), M.derive_seed(dropout_seed, k, 0)).features
        scores = keep(lua_head.scores(head, features, M.derive_seed(dropout_seed, k, 1), keep))
        if head.shared then shared = scores end
      end
      pred = keep(scores:select(2, head.columns[m]))
    else
      pred = forward(evaluation.texts_for(metric, rows), M.derive_seed(dropout_seed, m, 0)).rewards
    end
    local y = {}
    for i, r in ipairs(rows) do y[i] = target_of(r, metric, m) end
    local target = keep(a.tensor(y):to(pred:dtype()))
    if pred:device() ~= "cpu" then target = keep(target:to(pred:device())) end
    local loss = keep(run.loss == "sse" and a.sse_loss(pred, target) or a.mse_loss(pred, target) * scale)
    per_metric[m] = loss:item()
    local weight = run.weights[m]
    if weight ~= 1 then loss = keep(loss * weight) end
    total = total + weight * per_metric[m]
    loss_sum = keep(loss_sum and loss_sum + loss or loss)
  end
  loss_sum:backward()
  for _, t in ipairs(made) do t:free() end
  return total, per_metric
end

-- ---- the run ----

-- Appendix B's dynamic loss (AAPMT never ran it): each metric's weight
-- becomes its share of the last step's weighted loss, scaled so the weights
-- sum to the number of metrics; a metric that lags gets more weight.
local function reweigh(weights, per_metric)
  local total = 0
  for m, w in ipairs(weights) do total = total + w * per_metric[m] end
  if not (total > 0) then return weights end
  local out = {}
  for m, w in ipairs(weights) do out[m] = #weights * w * per_metric[m] / total end
  return out
end

local function open_logs(run, resumed_state)
  local steps_csv, epochs_csv = run.out .. "/steps.csv", run.out .. "/epochs.csv"
  if resumed_state then
    -- Lines written after the checkpoint belong to steps that will be redone.
    folder.truncate_csv(steps_csv, function(step) return step <= resumed_state.step end)
    folder.truncate_csv(epochs_csv, function(epoch) return epoch < resumed_state.epoch end)
  else
    -- A run killed before its first checkpoint starts again: its lines go.
    os.remove(steps_csv)
    os.remove(epochs_csv)
  end
  local function open(path, header)
    local fresh = not folder.exists(path) or #(folder.read(path) or "") == 0
    local f = assert(io.open(path, "a"))
    if fresh then f:write(folder.csv_line(header)) end
    return f
  end
  local metric_cols = {}
  for _, metric in ipairs(run.metrics) do metric_cols[#metric_cols + 1] = "loss_" .. metric.name end
  if run.weights_logged then
    for _, metric in ipairs(run.metrics) do metric_cols[#metric_cols + 1] = "weight_" .. metric.name end
  end
  run.steps_file = open(steps_csv, {"step", "epoch", "images", "lr", "loss", "grad_norm", table.unpack(metric_cols)})
  run.epochs_file = open(epochs_csv, {"epoch", "steps", "images", "mean_loss", table.unpack(evaluation.epoch_columns(run))})
  run.log_file = assert(io.open(run.out .. "/log.txt", "a"))
end

local function log(run, fmt, ...)
  run.log_file:write(os.date("!%Y-%m-%dT%H:%M:%SZ "), string.format(fmt, ...), "\n")
  run.log_file:flush()
end

local function eval_due(r, epoch)
  if #r.test_rows == 0 or r.eval_every == false then return false end
  if r.eval_every == "epoch" then return true end
  return epoch % r.eval_every == 0 or epoch == r.epochs
end

-- Scores the held-out rows, logs the metrics and keeps them (the last
-- epoch's serve as the final result).
local function evaluate_test(run, epoch)
  local preds, raw = evaluation.predict(run, run.test_rows)
  local metrics = evaluation.metrics(run, run.test_rows, preds, raw)
  run.last_eval = {epoch = epoch, preds = preds, raw = raw, metrics = metrics}
  log(run, "%s", evaluation.describe(metrics, run, string.format("epoch %d: test", epoch)))
  return metrics
end

-- With a Metric Transformer, each metric reads the head's output of its name
-- and feeds the image's own prompt. A head the checkpoint lacked is drawn
-- from the run's seed (AAPMT: randn after init_seed). Returns a log line.
use_metric_head = function(run, r, state)
  local columns, lacking, head = evaluation.head_columns(run.net, run.metrics)
  if not head then return nil end
  if lacking then
    fail("metric '%s' is not an output of the model's Metric Transformer (its outputs: %s)", lacking,
      table.concat(head.metrics, ", "))
  end
  run.head_columns = columns
  local note = string.format("Metric Transformer (%s): outputs %s", head.kind, table.concat(head.metrics, ", "))
  if not state and run.net:metric_head_random() then
    run.net:init_metric_head(r.seed)
    note = note .. string.format("; not in the checkpoint, initialised randomly from seed %d", r.seed)
  end
  return note
end

-- ---- the steps ----

-- One optimizer step: up to `accumulate` micro-batches (interruptible:
-- nothing is recorded until they are done), then the update and its
-- bookkeeping with Ctrl-C held, so an interrupted run's state always
-- describes its weights.
local function train_step(run, r, state, source, sched, batches)
  local epoch, first = state.epoch, state.batch
  local last = math.min(first + r.accumulate - 1, batches)
  local step = state.step + 1
  local lr = sched and sched(step) or r.optimizer.lr
  if sched then run.opt:set_lr(lr) end
  local step_loss, per_metric, images = 0, {}, 0
  run.weights = state.loss_weights
  for k = first, last do
    local pixels, rows = source:get(epoch, k)
    local micro_number = (epoch - 1) * batches + k
    local l, pm = micro_batch(run, pixels, rows, M.derive_seed(r.seed, TAG_DROPOUT, micro_number),
      1 / (last - first + 1))
    pixels:free()
    step_loss = step_loss + l
    for m, v in ipairs(pm) do per_metric[m] = (per_metric[m] or 0) + v end
    images = images + #rows
  end
  interrupts.hold(function()
    local grad_norm = r.clip and a.clip_grad_norm(run.params, r.clip) or ""
    run.opt:step()
    run.opt:zero_grad()
    state.step, state.batch = step, last + 1
    state.epoch_loss = state.epoch_loss + step_loss
    state.epoch_steps, state.epoch_images = state.epoch_steps + 1, state.epoch_images + images
    local fields = {step, epoch, images, lr, step_loss, grad_norm, table.unpack(per_metric)}
    if run.weights_logged then
      for _, w in ipairs(run.weights) do fields[#fields + 1] = w end
    end
    run.steps_file:write(folder.csv_line(fields))
    run.steps_file:flush()
    if r.loss_weights == "dynamic" then state.loss_weights = reweigh(run.weights, per_metric) end
    run.dirty = true
  end)
  run.losses[#run.losses + 1] = step_loss
  run.images_done = run.images_done + images
  return step_loss
end

-- The end of an epoch whose steps are done: the held-out evaluation when
-- due (interruptible), then its epochs.csv line and the move to the next
-- epoch, together.
local function finish_epoch(run, r, state)
  local epoch = state.epoch
  local tested = eval_due(r, epoch) and evaluate_test(run, epoch) or nil
  interrupts.hold(function()
    run.epochs_file:write(folder.csv_line({epoch, state.epoch_steps, state.epoch_images,
      state.epoch_loss / state.epoch_steps, table.unpack(evaluation.epoch_fields(run, tested))}))
    run.epochs_file:flush()
    log(run, "epoch %d: mean loss %.6g over %d steps", epoch, state.epoch_loss / state.epoch_steps, state.epoch_steps)
    state.epoch, state.batch = epoch + 1, 1
    state.epoch_loss, state.epoch_steps, state.epoch_images = 0.0, 0, 0
    run.dirty = true
  end)
end

local function checkpoint_due(r, step, epoch_done, total_steps)
  local ce = r.checkpoint_every
  return ce == "epoch" and epoch_done or math.type(ce) == "integer" and step % ce == 0 or step == total_steps
end

local function save_checkpoint(run, state)
  interrupts.hold(function()
    checkpoints.write(run, state)
    run.dirty = false
    log(run, "checkpoint at step %d", state.step)
  end)
end

-- ---- the run ----

local function close_run(run)
  for _, f in ipairs({run.steps_file, run.epochs_file, run.log_file}) do
    if f and io.type(f) == "file" then f:close() end
  end
end

local function free_run(run)
  if run.opt then run.opt:free() end
  if run.tokenizer then run.tokenizer:free() end
  if run.net then run.net:free() end
end

-- Interrupted (Ctrl-C): the step in progress is dropped, the last
-- completed one checkpointed if it is not yet, and the interruption goes on
-- up, after saying how to go on.
local function interrupted(run, state)
  if run.dirty then checkpoints.write(run, state) end
  local msg = state.step > 0 and string.format("interrupted after step %d of %d; the checkpoint of step %d is in %s "
    .. "(resume = true goes on from it)", state.step, run.total_steps, state.step, run.out .. "/checkpoints")
    or string.format("interrupted before the first step of %s; nothing to keep", run.out)
  log(run, "%s", msg)
  io.stderr:write("\ntrain.run: ", msg, "\n")
  close_run(run)
  free_run(run)
  error(interrupts.ERROR, 0)
end

function M.run(cfg)
  local r = config.resolve(cfg)
  if r.threads then a.set_num_threads(r.threads) end
  local rec = config.recorded(r)
  rec.identity = resume.identity(r)
  rec.batch_order = r.source and (M.source_kinds[r.source] or "a custom batch source") or "(seed, epoch)"
  fingerprint.flush()
  folder.mkdir(r.out)
  -- Two runs in one folder would interleave their checkpoints and logs
  -- (and race on each file's rename): the folder is this run's until it returns.
  local lock <close> = folder.lock(r.out, {who = "train.run",
    hint = "another training runs in this folder: wait for it to end, or give another out folder"})
  folder.mkdir(r.out .. "/checkpoints")
  local run = {out = r.out, metrics = r.metrics, loss = r.loss, max_length = r.max_length,
    recompute = r.recompute == "block",
    weights_logged = r.loss_weights ~= nil, losses = {}, images_done = 0,
    eval_batch_size = r.eval_batch_size, state_path = r.out .. "/checkpoints/state.lua", test_rows = r.test_rows}

  local state = checkpoints.read_state(r.out)
  if state and not r.resume then
    fail("%s already holds a run (checkpoints/state.lua): pass resume = true (aapmt train: --resume) to go on with "
      .. "it, give another out folder, or remove %s to start afresh", r.out, r.out)
  end
  -- The metrics' texts are checked once the head has set what it feeds.
  if state then resume.check(state, rec, r.out, {metrics = true}) end
  checkpoints.remove_leftovers(run.out .. "/checkpoints", state)
  local threads_before = state and state.stretches and state.stretches[#state.stretches].threads
    or state and state.config.threads

  local spec = model_spec(r.model)
  run.net = load_model(spec, state and state.model)
  -- Set every run, so an earlier run's precision never carries over.
  a.set_matmul_precision(r.precision or "f32")
  if r.device == "cuda" then run.net:to("cuda") end   -- before the optimizer takes the parameters
  run.image_size = run.net:image_size()
  local head_note = use_metric_head(run, r, state)
  head_note = lua_head.setup(run, r, state, rec, fail) or head_note
  -- config.lua records the text each metric feeds (a Metric Transformer or
  -- a shared Lua head feeds each image's own prompt, whatever was asked).
  rec.metrics = config.recorded_metrics(run.metrics)
  if state then resume.check(state, rec, r.out) end
  run.tokenizer = a.tokenizer(r.vocab)
  if run.tokenizer:size() > run.net:config().text.vocab_size then
    fail("%s has %d tokens but the model's text embedding has %d rows", r.vocab, run.tokenizer:size(),
      run.net:config().text.vocab_size)
  end
  local params, counts = set_trainable(run.net, r.fix_rate, r.freeze, run.lua_head)
  run.params = params
  run.opt = make_optimizer(params, r.optimizer)
  if state then run.opt:load_state(a.load(state.optimizer)) end
  open_logs(run, state)

  local source = (r.source or M.sync_source)(r.train_rows,
    {batch_size = r.batch_size, image_size = run.image_size, seed = r.seed})
  local batches = source:count()
  local steps_per_epoch = (batches + r.accumulate - 1) // r.accumulate
  local total_steps = steps_per_epoch * r.epochs
  run.total_steps = total_steps
  local sched = r.schedule and a.schedule((function()
    local s = {base_lr = r.optimizer.lr, total = total_steps}
    for k, v in pairs(r.schedule) do s[k] = v end
    return s
  end)())

  state = state or {epoch = 1, batch = 1, step = 0, epoch_loss = 0.0, epoch_steps = 0, epoch_images = 0,
    config = resume.printable(rec), options = resume.flat_options(rec), loss_weights = type(r.loss_weights) == "table" and r.loss_weights or nil}
  if not state.loss_weights then
    state.loss_weights = {}
    for m = 1, #run.metrics do state.loss_weights[m] = 1.0 end
  end
  resume.record_stretch(run, state, rec)
  log(run, "%s: %d train rows, %d test rows, %d steps (%d per epoch), %d threads%s", state.step > 0 and "resume"
    or "start", #r.train_rows, #r.test_rows, total_steps, steps_per_epoch, a.get_num_threads(),
    state.step > 0 and string.format(", from step %d (epoch %d, batch %d)", state.step, state.epoch, state.batch) or "")

  if head_note then log(run, "%s", head_note) end
  log(run, "trainable: %d of %d parameter tensors, %d of %d values", counts.trainable_tensors, counts.tensors,
    counts.trainable_values, counts.values)
  if threads_before and threads_before ~= rec.threads then
    log(run, "warning: the run went on with %d threads after %d; losses may differ in the last bits "
      .. "from an uninterrupted run", rec.threads, threads_before)
  end

  local bar = r.progress and progress.new(total_steps, "steps", "train ", {done = state.step}) or nil
  local started = a.clock()
  local stopped = false
  local ok, err = pcall(function()
    while state.epoch <= r.epochs and not stopped do
      local epoch, step_loss = state.epoch, nil
      if state.batch <= batches then step_loss = train_step(run, r, state, source, sched, batches) end
      local epoch_done = state.batch > batches
      if epoch_done then finish_epoch(run, r, state) end
      if checkpoint_due(r, state.step, epoch_done, total_steps) and run.dirty then
        save_checkpoint(run, state)
      end
      if step_loss then
        if bar then
          local elapsed = math.max(a.clock() - started, 1e-9)
          bar:step(state.step, string.format("epoch %d/%d  %.1f img/s  loss %.4g", epoch, r.epochs,
            run.images_done / elapsed, step_loss), epoch_done)
        end
        if r.on_step then r.on_step({step = state.step, epoch = epoch, loss = step_loss, out = r.out}) end
        if r.stop_after_steps and state.step >= r.stop_after_steps then stopped = true end
      end
    end
  end)
  if bar then bar:finish() end
  source:close()
  if not ok then
    if interrupts.is(err) then interrupted(run, state) end
    close_run(run)
    free_run(run)
    error(err, 0)
  end

  local result = {steps = state.step, losses = run.losses, out = r.out, stopped = stopped}
  if stopped then
    log(run, "stopped after step %d (stop_after_steps)", state.step)
  else
    run.net:save(r.out .. "/model.safetensors")
    if run.lua_head then
      lua_head.save(run.lua_head, r.out .. "/" .. lua_head.FILE)
      result.head = r.out .. "/" .. lua_head.FILE
    end
    if #r.test_rows > 0 then
      local last = run.last_eval
      if not (last and last.epoch == r.epochs) then evaluate_test(run, r.epochs) end
      last = run.last_eval
      evaluation.write_scores(r.out .. "/scores.csv", run, r.test_rows, last.preds, last.raw)
      folder.write_atomic(r.out .. "/metrics.json", folder.json(last.metrics) .. "\n")
      result.metrics = last.metrics
    end
    if r.paper_rows_list then
      local rows = r.paper_rows_list
      local preds, raw = evaluation.predict(run, rows)
      result.paper_rows = evaluation.metrics(run, rows, preds, raw)
      evaluation.write_scores(r.out .. "/scores_paper_rows.csv", run, rows, preds, raw)
      folder.write_atomic(r.out .. "/metrics_paper_rows.json", folder.json(result.paper_rows) .. "\n")
      log(run, "%s", evaluation.describe(result.paper_rows, run, string.format("paper_rows 1..%d", #rows)))
    end
    log(run, "done after step %d", state.step)
  end
  close_run(run)
  free_run(run)
  return result
end

return M
