-- The demo's Metric Transformer: one small model for quality, alignment and
-- authenticity at once, the metric tokens attending to each other and to
-- the prompt (the paper's design).
return aapmt.experiment{
  description = "All three metrics from one model: the Metric Transformer (metric attention).",
  database = {demo = {images = 24000, size = 48, seed = 42, per_prompt = 2}},
  start = "random", model_config = "tiny_model.json",
  head = {kind = "metric_attention", metrics = {"quality", "align", "authenticity"}, heads = 4, ffn = 128, layers = 2},
  train = {metrics = {"quality", "align", "authenticity"}, epochs = 5, batch_size = 32, lr = 1e-3, loss = "mse",
    schedule = {kind = "cosine", warmup = 100}, max_length = 24, eval_every = false},
  evaluate = {protocols = {"test"}, batch_size = 64},
}
