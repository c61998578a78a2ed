-- The demo's quality model: a small ImageReward (tiny_model.json) trained
-- from scratch on the built-in synthetic database for quality, with the
-- paper's quality prompt.
return aapmt.experiment{
  description = "Quality: a small ImageReward trained from scratch on the demo database.",
  database = {demo = {images = 2000, size = 32, seed = 42, per_prompt = 4}},
  start = "random", model_config = "tiny_model.json",
  train = {metrics = {"quality"}, epochs = 6, batch_size = 32, lr = 1e-3, loss = "mse"},
  evaluate = {protocols = {"test"}},
}
