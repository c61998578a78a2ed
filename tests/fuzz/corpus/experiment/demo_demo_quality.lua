-- The demo's quality model: a small ImageReward (tiny_model.json) trained
-- from scratch on the built-in synthetic database for quality, with the
-- paper's quality prompt.
return aapmt.experiment{
  description = "Quality: a small ImageReward trained from scratch on the demo database.",
  database = {demo = {images = 24000, size = 48, seed = 42, per_prompt = 2}},
  start = "random", model_config = "tiny_model.json",
  train = {metrics = {"quality"}, epochs = 2, batch_size = 32, lr = 1e-3, loss = "mse",
    schedule = {kind = "cosine", warmup = 100}, max_length = 24, eval_every = false},
  evaluate = {tasks = {"quality"}, protocols = {"test"}, batch_size = 64},
}
