-- help() entries: optimizers and schedules (format: lua/aapmt/help.lua).
return {area = "Training", entries = {
  {"aapmt.adam(params, {lr=, betas=, eps=, weight_decay=})", "torch.optim.Adam's update bit for bit; opt:step(), opt:zero_grad(), opt:state()/opt:load_state() for checkpoints.", "opt = aapmt.adam({w}, {lr = 1e-3})"},
  {"aapmt.adamw(params, {lr=, betas=, eps=, weight_decay=})", "torch.optim.AdamW's update (decoupled weight decay).", "opt = aapmt.adamw(net:parameters(), {lr = 1e-5})"},
  {"aapmt.sgd(params, {lr=, momentum=, weight_decay=})", "torch.optim.SGD's update.", "opt = aapmt.sgd({w}, {lr = 0.1})"},
  {"aapmt.clip_grad_norm(params, max_norm)", "Scales the gradients so their joint 2-norm is at most max_norm; returns the norm before.", "aapmt.clip_grad_norm({w}, 1.0)"},
  {"aapmt.schedule{kind=, warmup=, ...}", 'A learning-rate schedule: kind "constant", "cosine", "linear" or "step", with warmup steps.', 'aapmt.schedule{kind = "cosine", warmup = 10, steps = 100}'},
}}
