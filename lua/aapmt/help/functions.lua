-- help() entries: functions on tensors and autograd (format: lua/aapmt/help.lua).
return {area = "Functions", entries = {
  {"aapmt.matmul(a, b)", "Matrix product, batched over leading dims.", "aapmt.matmul(aapmt.ones(2, 3), aapmt.ones(3, 4))"},
  {"aapmt.linear(x, weight [, bias])", "x times weight transposed plus bias, as torch.nn.functional.linear.", "aapmt.linear(x, aapmt.ones(4, 3))"},
  {"aapmt.layernorm(x [, weight [, bias [, eps]]])", "Layer normalisation over the last dim; eps defaults to 1e-5.", "aapmt.layernorm(x, aapmt.ones(3), aapmt.zeros(3))"},
  {"aapmt.softmax(x, dim)", "Softmax along dim: exp(x) divided by its sum over dim, computed stably.", "aapmt.softmax(aapmt.tensor({1, 2, 3}), 1)"},
  {"aapmt.attention(q, k, v [, mask [, scale]])", "Scaled dot-product attention, softmax(q kᵀ · scale) v; scale defaults to 1/√d.", "q = aapmt.randn({1, 4, 8}, {seed = 1}); aapmt.attention(q, q, q)"},
  {"aapmt.embedding(weight, ids)", "Rows of weight picked by 0-based token ids.", "aapmt.embedding(aapmt.randn({10, 4}, {seed = 1}), aapmt.tensor({0, 3}, \"i64\"))"},
  {"aapmt.concat(tensors [, dim])", "The tensors joined along dim (default 1).", "aapmt.concat({aapmt.ones(2), aapmt.zeros(2)}, 1)"},
  {"aapmt.where(mask, a, b)", "a where the u8 mask is set, else b; a or b may be a number; all three broadcast; differentiable in a and b.", "aapmt.where(x:gt(0), x, 0)"},
  {"aapmt.dropout(x, p [, training [, seed]])", "Zeroes elements with probability p and scales the rest by 1/(1-p) when training (the default); without a seed the default generator supplies the stream.", "aapmt.dropout(x, 0.1, true, 7)"},
  {"aapmt.mse_loss(prediction, target)", "The mean squared error.", "aapmt.mse_loss(x, aapmt.zeros(2, 3))"},
  {"aapmt.sse_loss(prediction, target)", "The sum of squared errors.", "aapmt.sse_loss(x, aapmt.zeros(2, 3))"},
  {"aapmt.no_grad(fn, ...)", "Calls fn(...) with gradient tracking off and returns its results.", "y = aapmt.no_grad(function() return x * 2 end)"},
  {"aapmt.grad_enabled()", "Whether operations record the graph for backward now.", "aapmt.grad_enabled()"},
  {"aapmt.zero_grad(params [, set_to_none])", "Zeroes (or drops) the .grad of every tensor in a list.", "aapmt.zero_grad(net:parameters())"},
}}
