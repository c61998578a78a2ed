-- The demo's alignment model: the same small ImageReward, trained for
-- alignment with each image's own prompt.
return aapmt.experiment{
  description = "Alignment: the small ImageReward trained with each image's own prompt.",
  database = {demo = {images = 24000, size = 48, seed = 42, per_prompt = 2}},
  start = "random", model_config = "tiny_model.json",
  train = {metrics = {"align"}, epochs = 3, batch_size = 32, lr = 1e-3, loss = "mse",
    schedule = {kind = "cosine", warmup = 100}, max_length = 24, eval_every = false},
  evaluate = {tasks = {"align"}, protocols = {"test"}, batch_size = 64},
}
