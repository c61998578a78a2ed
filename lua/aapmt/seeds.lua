-- Seeds derived from a seed and small integers, the same on every machine:
-- splitmix64 over Lua's wrapping 64-bit integers.
--   seeds.derive(seed, a, b, ...) = mix(...mix(mix(mix(seed) ~ a) ~ b)...)
local M = {}

function M.mix(z)
  z = z + 0x9E3779B97F4A7C15
  z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9
  z = (z ~ (z >> 27)) * 0x94D049BB133111EB
  return z ~ (z >> 31)
end

function M.derive(seed, ...)
  local z = M.mix(seed)
  for i = 1, select("#", ...) do z = M.mix(z ~ select(i, ...)) end
  return z
end

return M
