-- The demo's Metric Transformer: one small model for quality, alignment and
-- authenticity at once, the metric tokens attending to each other and to
-- the prompt (the paper's design).
return aapmt.experiment{
  description = "All three metrics from one model: the Metric Transformer (metric attention).",
  database = {demo = {images = 2000, size = 32, seed = 42, per_prompt = 4}},
  start = "random", model_config = "tiny_model.json",
  head = {kind = "metric_attention", metrics = {"quality", "align", "authenticity"}, heads = 4, ffn = 96, layers = 2},
  train = {metrics = {"quality", "align", "authenticity"}, epochs = 6, batch_size = 32, lr = 1e-3, loss = "mse"},
  evaluate = {protocols = {"test"}},
}
