-- Small nn layers in Lua over the engine's differentiable ops, in the manner
-- of torch.nn: a head for train.run written as a Lua table of layers.
--
--   local nn = require "aapmt.nn"
--   local head = nn.Sequential{nn.Linear(768, 256), nn.LayerNorm(256), nn.GELU(),
--                              nn.Dropout(0.1), nn.Linear(256, 1), seed = 7}
--   local y = head:forward(x, {training = true, seed = 3})   -- x (B, 768) → (B, 1)
--   head:parameters()        -- tensors (requires_grad), names {"0.weight", "0.bias", ...}
--   head:state_dict()        -- {["0.weight"] = tensor, ...}: the live tensors
--   head:load_state_dict(sd [, {prefix=, strict=}])   -- copies in place
--
-- Names are torch.nn.Sequential's state_dict names (0-based child index), so
-- weights move between the two unchanged; ImageReward's own head is such a
-- Sequential under "mlp.layers.", loadable with prefix = "mlp.layers.".
--
-- Initialisation is torch's: Linear's weight and bias uniform in
-- ±1/sqrt(in) (kaiming_uniform with a = sqrt(5) gives exactly that bound),
-- LayerNorm's weight ones and bias zeros. The numbers come from the engine's
-- Philox generator, each parameter's stream seeded from (seed, its name), so
-- a seed gives the same weights on every machine and thread count (not
-- torch's numbers). A Sequential redraws its children from its own seed
-- (default 0), so two equal layers in it never start equal.
--
-- forward(x, opts): opts.training turns dropout on; opts.seed seeds it (a
-- Sequential hands child i a seed derived from (seed, i)); without a seed,
-- training dropout draws from the engine's default generator. opts.keep,
-- when given, is called with every tensor the forward makes: the autograd
-- graph holds activations until they are freed, and a training loop frees
-- them right after backward (train.lua does).
local a = aapmt
local seeds = require "aapmt.seeds"

local M = {}

-- ---- seeds ----

function M.derive_seed(seed, n)
  return seeds.derive(seed, n)
end

local function name_hash(s)   -- FNV-1a, 64 bits
  local h = -3750763034362895579
  for i = 1, #s do h = (h ~ s:byte(i)) * 1099511628211 end
  return h
end

-- ---- the module base ----

local Module = {}
Module.__index = Module

local function class(kind)
  local c = setmetatable({kind = kind}, {__index = Module})
  c.__index = c
  c.__name = "aapmt.nn." .. kind
  c.__tostring = function(m) return m:describe() end
  return c
end

function M.is_module(v)
  local mt = type(v) == "table" and getmetatable(v)
  return type(mt) == "table" and rawget(mt, "kind") ~= nil and getmetatable(mt) ~= nil
    and getmetatable(mt).__index == Module
end

local function fail(m, fmt, ...)
  error(string.format("nn.%s: " .. fmt, m.kind, ...), 0)
end

local function made(opts, t)
  if opts and opts.keep then opts.keep(t) end
  return t
end

local function shape_str(t)
  return "[" .. table.concat(t:size(), ", ") .. "]"
end

local function leaf(t)
  t.requires_grad = true
  return t
end

-- {{name=, tensor=}, ...} in state_dict order; a layer lists its own
-- parameters in self.param_names.
function Module:named_parameters(prefix, out)
  prefix, out = prefix or "", out or {}
  for _, name in ipairs(self.param_names or {}) do
    if self[name] then out[#out + 1] = {name = prefix .. name, tensor = self[name]} end
  end
  return out
end

-- The tensors (for an optimizer) and their names.
function Module:parameters()
  local tensors, names = {}, {}
  for i, p in ipairs(self:named_parameters()) do tensors[i], names[i] = p.tensor, p.name end
  return tensors, names
end

function Module:state_dict()
  local sd = {}
  for _, p in ipairs(self:named_parameters()) do sd[p.name] = p.tensor end
  return sd
end

-- Copies sd's tensors into the parameters, in place (an optimizer holding
-- them keeps working). Every missing, unexpected (strict, the default) and
-- mis-shaped key is named in one error, and nothing is copied then.
-- opts.prefix reads the keys under it (e.g. "mlp.layers."), others ignored.
function Module:load_state_dict(sd, opts)
  opts = opts or {}
  local prefix, strict = opts.prefix or "", opts.strict ~= false
  if type(sd) ~= "table" then fail(self, "load_state_dict: expects a table of name = tensor, got a %s", type(sd)) end
  local problems, wanted, pairs_to_copy = {}, {}, {}
  for _, p in ipairs(self:named_parameters()) do
    local key = prefix .. p.name
    wanted[key] = true
    local src = sd[key]
    if src == nil then
      problems[#problems + 1] = string.format("missing key '%s' (shape %s)", key, shape_str(p.tensor))
    elseif not a.is_tensor(src) then
      problems[#problems + 1] = string.format("key '%s' holds a %s, not a tensor", key, type(src))
    elseif shape_str(src) ~= shape_str(p.tensor) then
      problems[#problems + 1] = string.format("key '%s': shape %s in the state dict, %s in the module", key,
        shape_str(src), shape_str(p.tensor))
    else
      pairs_to_copy[#pairs_to_copy + 1] = {p.tensor, src}
    end
  end
  if strict then
    local extra = {}
    for key in pairs(sd) do
      if type(key) == "string" and key:sub(1, #prefix) == prefix and not wanted[key] then extra[#extra + 1] = key end
    end
    table.sort(extra)
    for _, key in ipairs(extra) do problems[#problems + 1] = string.format("unexpected key '%s'", key) end
  end
  if #problems > 0 then fail(self, "load_state_dict: %s", table.concat(problems, "; ")) end
  a.no_grad(function()
    for _, pair in ipairs(pairs_to_copy) do
      local dst, src = pair[1], pair[2]
      local n = dst:numel()
      dst:reshape(1, n)[1] = src:to(dst:dtype()):reshape(n)   -- a view of dst's storage
    end
  end)
  return self
end

-- Redraws every parameter from seed (each from (seed, its name)); dtype
-- changes their type (default: the current one, f32 at first).
function Module:reset(seed, dtype, prefix)
  prefix = prefix or ""
  for _, name in ipairs(self.param_names or {}) do
    local s = M.derive_seed(seed, name_hash(prefix .. name))
    self[name] = leaf(self:init(name, s, dtype or (self[name] and self[name]:dtype()) or "f32"))
  end
  return self
end

-- A deep copy with its own parameters (a fresh start for another run).
function Module:clone()
  local c = {}
  for k, v in pairs(self) do
    if a.is_tensor(v) then c[k] = leaf(v:detach():clone())
    elseif M.is_module(v) then c[k] = v:clone()
    elseif type(v) == "table" then c[k] = {}
      for i, x in pairs(v) do c[k][i] = M.is_module(x) and x:clone() or x end
    else c[k] = v end
  end
  return setmetatable(c, getmetatable(self))
end

function Module:describe() return self.kind end

-- ---- layers ----

local function check_size(m, n, what)
  if math.type(n) ~= "integer" or n < 1 then fail(m, "%s must be a positive integer, got %s", what, tostring(n)) end
end

local Linear = class("Linear")

function M.Linear(n_in, n_out, opts)
  opts = opts or {}
  local m = setmetatable({n_in = n_in, n_out = n_out, param_names = {"weight"}}, Linear)
  check_size(m, n_in, "in_features")
  check_size(m, n_out, "out_features")
  if opts.bias ~= false then m.param_names[2] = "bias" end
  return m:reset(opts.seed or 0, opts.dtype)
end

function Linear:init(name, seed, dtype)
  local bound = 1 / math.sqrt(self.n_in)
  local shape = name == "weight" and {self.n_out, self.n_in} or {self.n_out}
  return a.rand(shape, {seed = seed, dtype = dtype}) * (2 * bound) - bound
end

function Linear:forward(x, opts)
  return made(opts, a.linear(x, self.weight, self.bias))
end

function Linear:describe()
  return string.format("Linear(%d -> %d%s)", self.n_in, self.n_out, self.bias and "" or ", no bias")
end

local LayerNorm = class("LayerNorm")

function M.LayerNorm(n, opts)
  opts = opts or {}
  local m = setmetatable({n = n, eps = opts.eps or 1e-5, param_names = {"weight", "bias"}}, LayerNorm)
  check_size(m, n, "normalized_shape")
  return m:reset(0, opts.dtype)
end

function LayerNorm:init(name, _, dtype)
  return name == "weight" and a.ones({self.n}, dtype) or a.zeros({self.n}, dtype)
end

function LayerNorm:forward(x, opts)
  return made(opts, a.layernorm(x, self.weight, self.bias, self.eps))
end

function LayerNorm:describe() return string.format("LayerNorm(%d, eps=%g)", self.n, self.eps) end

local GELU, ReLU = class("GELU"), class("ReLU")   -- GELU is the exact (erf) one, torch's default
function M.GELU() return setmetatable({}, GELU) end
function M.ReLU() return setmetatable({}, ReLU) end
function GELU:forward(x, opts) return made(opts, x:gelu()) end
function ReLU:forward(x, opts) return made(opts, x:relu()) end

local Dropout = class("Dropout")

function M.Dropout(p)
  local m = setmetatable({p = p or 0.5}, Dropout)
  if type(m.p) ~= "number" or m.p < 0 or m.p >= 1 then fail(m, "p must be in [0, 1), got %s", tostring(p)) end
  return m
end

function Dropout:forward(x, opts)
  if not (opts and opts.training) or self.p == 0 then return x end
  if opts.seed then return made(opts, a.dropout(x, self.p, true, opts.seed)) end
  return made(opts, a.dropout(x, self.p, true))
end

function Dropout:describe() return string.format("Dropout(%g)", self.p) end

local Sequential = class("Sequential")

-- nn.Sequential{layer, layer, ..., seed = 0, dtype = "f32"}
function M.Sequential(spec)
  local m = setmetatable({children = {}}, Sequential)
  if type(spec) ~= "table" then fail(m, "expects a table of layers, got a %s", type(spec)) end
  for k in pairs(spec) do
    if math.type(k) ~= "integer" and k ~= "seed" and k ~= "dtype" then
      fail(m, "unknown option '%s' (layers go in the list; options: seed, dtype)", tostring(k))
    end
  end
  for i, child in ipairs(spec) do
    if not M.is_module(child) then fail(m, "element %d is a %s, not an nn layer", i, type(child)) end
    m.children[i] = child
  end
  if #m.children == 0 then fail(m, "needs at least one layer") end
  return m:reset(spec.seed or 0, spec.dtype)
end

function Sequential:named_parameters(prefix, out)
  prefix, out = prefix or "", out or {}
  for i, child in ipairs(self.children) do child:named_parameters(prefix .. (i - 1) .. ".", out) end
  return out
end

function Sequential:reset(seed, dtype, prefix)
  for i, child in ipairs(self.children) do child:reset(seed, dtype, (prefix or "") .. (i - 1) .. ".") end
  return self
end

function Sequential:forward(x, opts)
  opts = opts or {}
  for i, child in ipairs(self.children) do
    x = child:forward(x, {training = opts.training, keep = opts.keep,
      seed = opts.seed and M.derive_seed(opts.seed, i)})
  end
  return x
end

function Sequential:describe()
  local parts = {}
  for i, child in ipairs(self.children) do parts[i] = child:describe() end
  return "Sequential(" .. table.concat(parts, ", ") .. ")"
end

return M
