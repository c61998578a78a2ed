-- help() entries: data sets, images, text, files (format: lua/aapmt/help.lua).
return {area = "Data", entries = {
  {"aapmt.dataset{kind=, csv=, images=, targets=, skip_missing=}", 'A data set: kind "agiqa3k", "aigciqa2023" or "csv"; ds:split{seed=42} gives the paper\'s content-isolated split.', 'ds = aapmt.dataset{kind = "agiqa3k", csv = "assets/AGIQA-3K.csv", images = "assets/AGIQA-3K"}'},
  {"aapmt.loader{paths=, targets=, size=, batch=, seed=, shuffle=, workers=, max_image_pixels=}", "Worker threads decode and preprocess batches ahead; ld:epoch(e) then ld:next() gives pixels, targets, rows.", "ld = aapmt.loader{paths = paths, targets = t, batch = 8, seed = 1}"},
  {"aapmt.read_csv(path)", "A CSV file as {header=, rows=, lines=}, with quoted fields, CRLF and a BOM handled.", 'aapmt.read_csv("scores.csv").header'},
  {"aapmt.split_prompts(prompts, seed [, train_fraction])", "The paper's split of unique prompts, shuffled as numpy's legacy shuffle.", 'aapmt.split_prompts({"a", "b", "c", "d", "e"}, 42)'},
  {"aapmt.demo_db{images=, size=, seed=, per_prompt=}", "The built-in synthetic database of images with known quality, alignment and authenticity.", "db = aapmt.demo_db{images = 8, size = 32, seed = 1}"},
  {"aapmt.preprocess(paths [, size [, {max_pixels=}]])", "Images read and transformed exactly as ImageReward does: (N, 3, size, size) f32; an image over max_pixels (default AAPMT_MAX_IMAGE_PIXELS, else Pillow's bound) is an error.", 'aapmt.preprocess({"a.jpg"}, 224)'},
  {"aapmt.tokenizer(vocab_txt)", "bert-base-uncased WordPiece; tok:encode(text [, max_len]) gives ids and mask, tok:pieces(text) the word pieces.", 'tok = aapmt.tokenizer("vocab.txt")'},
  {"aapmt.find_vocab([path [, checkpoint]])", "Finds vocab.txt: the path, beside the checkpoint, or in the Hugging Face cache; else nil and where it looked.", "aapmt.find_vocab()"},
  {"aapmt.load(path)", "A checkpoint (.pt or .safetensors) as a Lua table of tensors.", 'w = aapmt.load("model.safetensors")'},
  {"aapmt.save(tensors, path [, {format=}])", 'A table of tensors written atomically: PyTorch\'s .pt format (torch.load reads it) for a path ending in .pt or .pth, safetensors otherwise; format = "pt" or "safetensors" overrides the extension.', 'aapmt.save({w = w}, "w.pt")'},
  {"aapmt.sha256(text)", "The SHA-256 of a string, 64 hex digits.", 'aapmt.sha256("abc")'},
  {"aapmt.sha256_file(path)", "The SHA-256 of a file's bytes, or nil and a message.", 'aapmt.sha256_file("README.md")'},
  {"aapmt.file_facts(path)", 'Size, times, inode and kind ("file", "directory", "other") of a path, or nil and a message.', 'aapmt.file_facts("README.md").size'},
  {"aapmt.lock_file(path [, {wait = true}])", "An exclusive lock on a file, held until lock:release() (or the process ends, however it ends); else nil, a message and the holder's pid. Keep it in a variable (the collector releases a lock nothing refers to).", 'local lock <close> = assert(aapmt.lock_file("runs/x/.lock"))'},
  {"aapmt.experiment{...}", "Declares an experiment (database, split, start, train); aapmt run FILE runs it.", 'return aapmt.experiment{database = "agiqa3k", train = {metrics = {"quality"}}}'},
}}
