-- The demo's alignment model: the same small ImageReward, trained for
-- alignment with each image's own prompt.
return aapmt.experiment{
  description = "Alignment: the small ImageReward trained with each image's own prompt.",
  database = {demo = {images = 8000, size = 32, seed = 42, per_prompt = 2}},
  start = "random", model_config = "tiny_model.json",
  train = {metrics = {"align"}, epochs = 5, batch_size = 32, lr = 1e-3, loss = "mse",
    schedule = {kind = "cosine", warmup = 100}, max_length = 24, eval_every = false},
  evaluate = {protocols = {"test"}},
}
