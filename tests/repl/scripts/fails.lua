-- Fails two calls deep, so the traceback has something to show.
local function inner()
  local sum = aapmt.ones(2) + aapmt.ones(3)
  return sum
end
local function outer()
  local value = inner()
  return value
end
outer()
