-- Assertions for the Lua tests. A failed check raises an error naming what
-- was expected, so `aapmt run` prints it with a traceback and exits 1.
local check = {}

local function fail(msg, level)
  error(msg, (level or 1) + 2)
end

function check.eq(actual, expected, what)
  if actual ~= expected then
    fail(string.format("%s: expected %s, got %s", what or "value", tostring(expected), tostring(actual)))
  end
end

function check.truthy(v, what)
  if not v then fail((what or "condition") .. " is not true") end
end

function check.near(actual, expected, tol, what)
  tol = tol or 1e-6
  if type(actual) ~= "number" or math.abs(actual - expected) > tol * math.max(1, math.abs(expected)) then
    fail(string.format("%s: expected %.10g (tol %g), got %s", what or "value", expected, tol, tostring(actual)))
  end
end

-- Compares a tensor with a (nested) table of numbers, shape included.
function check.tensor(t, expected, tol, what)
  what = what or "tensor"
  check.truthy(aapmt.is_tensor(t), what .. " is a tensor")
  local function walk(a, b, path)
    if type(b) == "table" then
      if type(a) ~= "table" or #a ~= #b then
        fail(string.format("%s%s: expected %d entries, got %s", what, path, #b,
                           type(a) == "table" and tostring(#a) or type(a)), 2)
      end
      for i = 1, #b do walk(a[i], b[i], path .. "[" .. i .. "]") end
    elseif type(a) ~= "number" or math.abs(a - b) > (tol or 1e-6) * math.max(1, math.abs(b)) then
      fail(string.format("%s%s: expected %.10g, got %s", what, path, b, tostring(a)), 2)
    end
  end
  walk(t:totable(), expected, "")
end

function check.shape(t, expected, what)
  local s = t:size()
  local ok = #s == #expected
  for i = 1, #expected do ok = ok and s[i] == expected[i] end
  if not ok then
    fail(string.format("%s: expected shape {%s}, got {%s}", what or "shape",
                       table.concat(expected, ","), table.concat(s, ",")))
  end
end

-- Runs fn expecting an error whose message contains every given fragment
-- (plain text, not patterns). Returns the message.
function check.raises(fn, ...)
  local ok, err = pcall(fn)
  if ok then fail("expected an error, but the call succeeded") end
  err = tostring(err)
  for _, fragment in ipairs({...}) do
    if not err:find(fragment, 1, true) then
      fail(string.format("error message %q lacks %q", err, fragment))
    end
  end
  return err
end

return check
