-- Option parsing and error reporting for subcommands written in Lua.
--
-- A command module returns cli.command(name, usage, options, run): `run`
-- gets the parsed options and the positional arguments. cli.fail raises a
-- user-facing error (bad option, missing file): it is printed as
-- "aapmt NAME: message" with no traceback, with exit status 2 for usage
-- errors (then followed by the command's synopsis, not its whole usage) and
-- 1 otherwise. Ctrl-C ends the command with status 130. Any other error is
-- a bug and keeps its traceback.
local interrupts = require "aapmt.interrupts"

local cli = {}

local failure = {}   -- metatable marking user-facing errors

function cli.fail(message, status)
  -- A message passed on from a Lua error may start with "file.lua:N: ": the
  -- user needs what went wrong, not where in our Lua code it was noticed.
  message = tostring(message):gsub("^[^\n:]+%.lua:%d+: ", "")
  error(setmetatable({message = message, status = status or 1}, failure), 0)
end

-- options: { name = "string" | "number" | "integer" | "flag" | "strings" },
-- for --name. Returns opts (defaults filled by the caller) and the
-- positional list. An option with a value given twice is an error: keeping
-- either silently would run something other than what was typed. A
-- "strings" option may be repeated: opts[name] lists its values in order.
function cli.parse(args, options)
  local opts, positional, i = {}, {}, 1
  while i <= #args do
    local a = args[i]
    if a == "--" then
      table.move(args, i + 1, #args, #positional + 1, positional)
      break
    end
    local name, inline = a:match("^%-%-([%w%-]+)=(.*)$")
    name = name or a:match("^%-%-([%w%-]+)$")
    if name then
      local key = name:gsub("%-", "_")
      local kind = options[key]
      if not kind then cli.fail("unknown option --" .. name, 2) end
      if kind == "flag" then
        if inline then cli.fail("option --" .. name .. " takes no value", 2) end
        opts[key] = true
      else
        local value = inline
        if not value then
          i = i + 1
          value = args[i]
          if value == nil then cli.fail("option --" .. name .. " needs a value", 2) end
        end
        if kind == "number" or kind == "integer" then
          local n = tonumber(value)
          if not n or (kind == "integer" and math.type(n) ~= "integer") then
            cli.fail(string.format("option --%s needs %s, got '%s'", name,
              kind == "integer" and "an integer" or "a number", value), 2)
          end
          value = n
        end
        if kind == "strings" then
          opts[key] = opts[key] or {}
          table.insert(opts[key], value)
        elseif opts[key] ~= nil then
          cli.fail(string.format("option --%s is given twice ('%s', then '%s'); give it once", name,
            tostring(opts[key]), tostring(value)), 2)
        else
          opts[key] = value
        end
      end
    else
      positional[#positional + 1] = a
    end
    i = i + 1
  end
  return opts, positional
end

-- The index of the CSV column called name (csv as aapmt.read_csv gives it;
-- not pandas' index column), or a failure naming the file, the column, what
-- wanted it (for_what, e.g. "--image-column"; may be nil) and the columns
-- there are.
function cli.csv_column(csv, path, name, for_what)
  local names = {}
  for i, h in ipairs(csv.header) do
    if not (i == 1 and csv.index_column) then
      if h == name then return i end
      names[#names + 1] = h
    end
  end
  cli.fail(string.format("%s: no column '%s'%s (its columns: %s)", path, name, for_what and " for " .. for_what or "",
    table.concat(names, ", ")))
end

-- --help or -h anywhere before "--" asks for the usage, whatever else is there.
local function wants_help(args)
  for _, a in ipairs(args) do
    if a == "--" then return false end
    if a == "--help" or a == "-h" then return true end
  end
  return false
end

-- The usage's first paragraph (the synopsis), and where the rest is.
local function usage_hint(name, usage)
  local synopsis = usage:match("^(.-\n)\n") or usage
  return synopsis .. "(aapmt " .. name .. " --help shows every option)\n"
end

function cli.command(name, usage, options, run)
  local function main(...)
    local args = {...}
    if wants_help(args) then
      io.write(usage)
      return 0
    end
    local ok, err = xpcall(function()
      local opts, positional = cli.parse(args, options)
      return run(opts, positional)
    end, function(e)
      if getmetatable(e) == failure then return e end
      if interrupts.is(e) then   -- Ctrl-C: what was interrupted has said how to go on
        return setmetatable({message = "interrupted", status = 130}, failure)
      end
      return debug.traceback(tostring(e), 2)
    end)
    if ok then return err or 0 end
    if getmetatable(err) ~= failure then error(err, 0) end
    io.stderr:write("aapmt ", name, ": ", err.message, "\n")
    if err.status == 2 then io.stderr:write(usage_hint(name, usage)) end
    return err.status
  end
  return {main = main, usage = usage}
end

return cli
