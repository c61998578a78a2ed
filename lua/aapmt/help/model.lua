-- help() entries: ImageReward models (format: lua/aapmt/help.lua). `model` is
-- what require("aapmt.imagereward").load returns; `net` is the engine's
-- model under it (model.net, or aapmt.imagereward_load's result).
return {area = "Models", entries = {
  {"model:score(prompt, images [, opts])", "ImageReward's normalised score of each image (file paths) for the prompt (one string, or one per image); a list in input order.", 'model:score("a cat on a sofa", {"a.jpg", "b.png"})'},
  {"model:rank(prompt, images [, opts])", "Ranks (1 = best) and normalised rewards, as ImageReward's inference_rank.", 'ranks, rewards = model:rank("a cat", images)'},
  {"model:features(prompt, images [, opts])", "The [CLS] features of the last text layer, (N, hidden).", 'model:features("a cat", images):size()'},
  {"model:cross_attention(prompt, image)", "Per text layer, the prompt tokens' attention to the image tokens, (heads, tokens, image tokens), and the word pieces.", 'maps, pieces = model:cross_attention("a cat", "a.jpg")'},
  {"model:pieces(prompt)", "The prompt's word pieces as the model reads them, with [CLS] and [SEP].", 'model:pieces("a cat")'},
  {"model:metrics(prompt, images [, opts])", "With a Metric Transformer head: every metric's output per image, {quality=, align=, ...}, and the metric names.", 'model:metrics("a cat", images)'},
  {"model:metric_attention(prompt, image)", "The metric tokens' attention maps per layer (self and cross), the metric names and the word pieces.", 'maps, names, pieces = model:metric_attention("a cat", "a.jpg")'},
  {"model:each_batch(prompt, images, opts, fn)", "Runs the model over the images in batches and calls fn(output, first, last) for each; what score and friends are built on.", 'model:each_batch("a cat", images, {}, function(out) print(out.scores) end)'},
  {"model:free()", "Frees the model and its tokenizer now.", "model:free()"},
  {"aapmt.imagereward_load(checkpoint [, config_json [, copy]])", "The engine's model from a .pt or safetensors checkpoint; config defaults to ImageReward-v1.0's.", 'net = aapmt.imagereward_load("checkpoint/ImageReward/ImageReward.pt")'},
  {"aapmt.imagereward_random([config_json [, seed [, {init=}]]])", 'A model with random weights; init "fine_tune" (default) or "from_scratch".', 'net = aapmt.imagereward_random("tiny_config.json", 1)'},
  {"aapmt.read_model_config([path])", "A model config file read and checked, as net:config() shows it (ImageReward-v1.0's without a path).", "aapmt.read_model_config().vision"},
  {"net:forward(pixels, ids, mask [, {training=, seed=, cross_attention=, image_tokens=, metric_attention=}])", "One pass: {features=, rewards=, scores=} and, when asked, the cross-attention maps per text layer, the image tokens or the metric head's outputs.", "out = net:forward(pixels, ids, mask, {cross_attention = true})"},
  {"net:head(features)", "The MLP head's raw rewards of (N, hidden) features.", "net:head(out.features)"},
  {"net:to(device)", 'Moves the weights to "cuda" or "cpu".', 'net:to("cuda")'},
  {"net:device()", "Where the weights are.", "net:device()"},
  {"net:image_size()", "The side of the square images the model takes.", "net:image_size()"},
  {"net:config()", "The model's config as a table.", "net:config().text.hidden_size"},
  {"net:parameters()", "The weights as a list of tensors (for an optimizer).", "#net:parameters()"},
  {"net:fix_rate(rate)", "Freezes the first share rate of the text layers, as ImageReward's fix_rate.", "net:fix_rate(0.7)"},
  {"net:save(path)", "The weights as safetensors, written atomically.", 'net:save("tuned.safetensors")'},
  {"net:metric_head_random()", "Whether the Metric Transformer head's weights are random (not from the checkpoint).", "net:metric_head_random()"},
  {"net:init_metric_head(seed)", "Sets the Metric Transformer head's weights randomly from seed.", "net:init_metric_head(1)"},
  {"net:free()", "Frees the weights now.", "net:free()"},
}}
