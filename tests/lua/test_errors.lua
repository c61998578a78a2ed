-- Misuse raises a Lua error naming the function and what was wrong (shapes,
-- dtypes, the expected and actual argument types); nothing crashes.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local a = aapmt
local raises = check.raises

local x = a.tensor({{1, 2, 3}, {4, 5, 6}})

-- shapes (messages from the engine name the op and the shapes)
raises(function() return x + a.ones(4) end, "add", "[2, 3]", "[4]")
raises(function() return x * a.ones(2) end, "mul", "[2, 3]", "[2]")
raises(function() return x:matmul(x) end, "matmul", "[2, 3]")
raises(function() return a.linear(x, a.ones(2, 2)) end, "linear", "[2, 3]", "[2, 2]")
raises(function() return a.mse_loss(x, a.ones(3, 2)) end, "mse_loss", "[2, 3]", "[3, 2]")
raises(function() return a.concat({x, a.ones(2, 2)}, 1) end, "concat", "[2, 3]", "[2, 2]")
raises(function() return x:reshape(4, 2) end, "reshape", "[2, 3]")
raises(function() return x:expand(3, 4) end, "expand", "[2, 3]")
raises(function() return a.attention(x, x, x) end, "attention", "[2, 3]")
raises(function() return x:view(6) and x:transpose(1, 2):view(6) end, "Tensor:view", "not contiguous")
raises(function() return x:item() end, "Tensor:item", "[2, 3]")

-- dtypes
raises(function() return a.tensor({1, 2}, "i32"):exp() end, "exp", "i32")
raises(function() return x + a.ones(2, 3, "f64") end, "add", "f32", "f64")
raises(function() return a.zeros(2, "f8") end, "aapmt.zeros", "unknown dtype 'f8'")
raises(function() return x:to("float") end, "Tensor:to", "unknown dtype 'float'")
raises(function() return a.embedding(a.ones(3, 2), a.tensor({1}, "f32")) end, "embedding", "f32 ids")
raises(function() return a.ones(2, "i64"):requires_grad_() end, "i64")

-- dims and indices (1-based, messages say so)
raises(function() return x:sum(3) end, "Tensor:sum", "dim 3", "2-D")
raises(function() return x:sum(0) end, "Tensor:sum", "dim 0")
raises(function() return x:transpose(1, -3) end, "Tensor:transpose", "dim -3")
raises(function() return x:narrow(2, 3, 2) end, "Tensor:narrow", "size 3")
raises(function() return x:select(1, 3) end, "Tensor:select", "index 3", "size 2")
raises(function() return x[0] end, "index 0")
raises(function() return x[3] end, "index 3")
raises(function() return x:get(1, 4) end, "Tensor:get", "index 4")
raises(function() return x:get(1) end, "Tensor:get", "needs 2 indices, got 1")
raises(function() x:set(1, 9, 9) end, "Tensor:set", "index 9")
raises(function() return x:permute(1, 1) end, "Tensor:permute", "twice")
raises(function() return x:permute(1) end, "Tensor:permute", "needs 2 dims")
raises(function() return a.embedding(a.ones(3, 2), {-1}) end, "embedding", "id -1", "vocabulary of 3")
raises(function() return a.embedding(a.ones(3, 2), {3}) end, "embedding", "id 3", "vocabulary of 3")
raises(function() return a.embedding(a.ones(3, 2), {0.5}) end, "aapmt.embedding", "not an integer")
raises(function() return a.tensor(1):size(1) end, "Tensor:size", "0-dim")
raises(function() return #a.tensor(1) end, "0-dim")

-- argument types: the function, the argument, expected and actual types
raises(function() return a.matmul(x, 3) end, "aapmt.matmul", "argument #2", "aapmt tensor", "number")
raises(function() return a.matmul("x", x) end, "aapmt.matmul", "argument #1", "string")
raises(function() return x:matmul({}) end, "Tensor:matmul", "argument #1", "table")
raises(function() return x.sum(5) end, "Tensor:sum", "self", "number")
raises(function() return x + {} end, "__add", "aapmt.Tensor and table")
raises(function() return "a" * x end, "__mul", "string and aapmt.Tensor")
raises(function() return a.concat({x, 1}) end, "aapmt.concat", "element 2", "number")
raises(function() return a.tensor("abc") end, "aapmt.tensor", "string")
raises(function() return a.tensor({{1, 2}, {3}}) end, "aapmt.tensor", "ragged", "t[2]")
raises(function() return a.tensor({1, "x"}) end, "aapmt.tensor", "t[2] is a string")
raises(function() return a.zeros(2.5) end, "aapmt.zeros", "2.5")
raises(function() return a.zeros(-1) end, "aapmt.zeros", "-1")
raises(function() return a.randn(2, {seed = "s"}) end, "aapmt.randn", "seed")
raises(function() return x:transpose("a", 1) end, "Tensor:transpose", "integer", "string")
raises(function() x.requires_grad = 1 end, "Tensor.requires_grad", "expected a boolean, got number")
raises(function() x.shape = 1 end, "cannot set field 'shape'")
raises(function() a.no_grad(5) end, "no_grad")
raises(function() a.set_num_threads(0) end, "aapmt.set_num_threads")
raises(function() a.dropout(x, 1) end, "aapmt.dropout", "p must be in [0, 1)")

-- autograd misuse
raises(function() a.ones(2):backward() end, "backward")
local leaf = a.ones(2, "f64"):requires_grad_()
raises(function() (leaf * 2):requires_grad_(false) end, "requires_grad")

-- freed tensors: every use is an error (freeing again included)
local f = a.ones(3)
f:free()
raises(function() return f + 1 end, "tensor was freed")
raises(function() return f:sum() end, "Tensor:sum", "tensor was freed")
raises(function() return f[1] end, "tensor was freed")
raises(function() return f.grad end, "tensor was freed")
raises(function() return tostring(f) end, "tensor was freed")
raises(function() return a.matmul(x, f) end, "aapmt.matmul", "tensor was freed")
raises(function() return f:free() end, "tensor was freed")
do
  local c <close> = a.ones(2)
  f = c
end
raises(function() return f:sum() end, "tensor was freed")

-- option tables: every function reads them alike (lua/binding/args.c)
raises(function() return a.schedule{base_lr = 1, 5} end, "aapmt.schedule", "options are named; found a number key")
raises(function() return a.demo_db{5} end, "aapmt.demo_db", "options are named; found a number key")
raises(function() return a.dataset{csv = "x.csv", 5} end, "aapmt.dataset", "options are named; found a number key")
raises(function() return a.loader{paths = {"a.png"}, batch = 1, 5} end, "aapmt.loader",
  "options are named; found a number key")
raises(function() return a.demo_db{image = 5} end, "unknown option 'image' (options: images, size, seed, per_prompt)")
raises(function() return a.demo_db{size = "big"} end, "option 'size' must be an integer, got a string")
raises(function() return a.demo_db{size = 2.5} end, "option 'size' must be an integer, got 2.5")
raises(function() return a.schedule{base_lr = "1"} end, "option 'base_lr' must be a number, got a string")
raises(function() return a.loader{paths = {"a.png"}, batch = 1, shuffle = 1} end,
  "option 'shuffle' must be a boolean, got 1")
raises(function() return a.imagereward_random(nil, 0, {inti = "from_scratch"}) end, "aapmt.imagereward_random",
  "unknown option 'inti'")
raises(function() return a.imagereward_random(nil, 0, 5) end, "aapmt.imagereward_random", "options must be a table")

-- errors leave the state usable
check.tensor(x + 1, {{2, 3, 4}, {5, 6, 7}})
-- constructors never change a value silently
raises(function() return a.tensor({3000000000}, "i32") end, "aapmt.tensor", "3000000000", "i32")
raises(function() return a.tensor({300}, "u8") end, "aapmt.tensor", "300", "u8")
raises(function() return a.tensor({-1}, "u8") end, "value -1", "u8")
raises(function() return a.tensor({2.5}, "i64") end, "value 2.5", "not an integer", "i64")
raises(function() return a.tensor(1.5, "i32") end, "value 1.5", "i32")
raises(function() return a.full({2}, 0.5, "i32") end, "aapmt.full", "value 0.5", "i32")
raises(function() return a.tensor({2 ^ 60 | 0}, "i64") end, "beyond 2^53")
raises(function() return a.arange(0, 1, 0.5, "i32") end, "aapmt.arange", "value 0.5", "i32")
-- options are checked by name
raises(function() return a.ones(2, {bogus = true}) end, "aapmt.ones", "unknown option 'bogus'")
raises(function() return a.zeros(2, {device = "tpu"}) end, "aapmt.zeros", "'device'", "tpu")
raises(function() return a.ones(2, {requires_grad = "yes"}) end, "aapmt.ones", "'requires_grad'", "boolean")
raises(function() return a.ones(2, {requires_grad = true, dtype = "i32"}) end, "aapmt.ones", "i32")
raises(function() return a.tensor({1, 2, 3}, {shape = {2, 2}}) end, "'shape'", "4 elements", "holds 3")
raises(function() return a.arange(0, 5, 0) end, "aapmt.arange", "step")
raises(function() return a.arange(5, 0) end, "aapmt.arange", "moves away")
raises(function() return a.linspace(0, 1, 0) end, "aapmt.linspace", "n")
raises(function() return a.eye(-1) end, "aapmt.eye", "n")
-- indexing out of range names the dim, the index and the size
local ix = a.tensor({{1, 2, 3}, {4, 5, 6}})
raises(function() return ix[{3, 1}] end, "Tensor[]", "index 3", "dim 1", "size 2")
raises(function() return ix[{1, {2, 7}}] end, "index 7", "dim 2", "size 3")
raises(function() return ix[{1, 2, 3}] end, "3 indices", "2 dims")
raises(function() return ix[{1, {3, 2}}] end, "dim 2", "ends")
raises(function() return ix[{1.5}] end, "dim 1", "1.5")
raises(function() return ix[5] end, "index 5", "dim 1", "size 2")
-- new ops' argument errors
raises(function() return ix:pow("2") end, "Tensor:pow", "exponent")
raises(function() return ix:clamp(1, 0) end, "clamp", "min 1", "max 0")
raises(function() return ix:gt("x") end, "Tensor:gt", "number")
raises(function() return ix:max(3) end, "Tensor:max", "3")
raises(function() return a.tensor({1, 2}, "i32"):abs() end, "abs")
raises(function() return a.zeros(0):max() end, "max", "empty")

raises(function() return a.where(ix, ix, ix) end, "where", "mask must be u8", "f32")
raises(function() return a.where(ix:gt(0), "x", ix) end, "aapmt.where", "a (argument #2)", "string")
raises(function() return a.where(ix:gt(0), 1, 2) end, "aapmt.where", "must be a tensor")
raises(function() return ix:masked_fill(ix:gt(0), "x") end, "Tensor:masked_fill", "value")
raises(function() return a.where(a.ones(2, "u8"), ix, ix) end, "where", "broadcast")

-- A name holding a NUL byte would lose its end as a C string ("w\0a" saved
-- as "w"; two such names then clash): refused, with the name shown whole.
local never = os.tmpname()
os.remove(never)
raises(function() a.save({["w\0a"] = ix, ["w\0b"] = ix}, never) end, "aapmt.save: the name 'w\\0",
  "holds a NUL byte (at byte 1)")
check.truthy(not io.open(never), "nothing is written")
raises(function() a.save({["../\0"] = ix}, never) end, "the name '../\\0' holds a NUL byte (at byte 3)")
local nul_opt = a.adam({a.zeros(2):requires_grad_()})
raises(function() nul_opt:load_state({["0.exp_avg\0x"] = a.zeros(2)}) end, "Optimizer:load_state",
  "'0.exp_avg\\0x' holds a NUL byte")

print("ok")
