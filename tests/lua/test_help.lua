-- help(): every function of `aapmt` and every Tensor, model and net method
-- has an entry (the failure lists the missing names), every entry names
-- something that exists, and the README's API index is the one the entries
-- make (lua/aapmt/help.lua).
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local help = require "aapmt.help"

local here = arg[0]:match("^(.*)/") or "."
local entries = help.by_name()

-- The names an entry must exist for, as entries name them.
local function api_names()
  local names = {}
  local function functions_of(t, prefix, sep)
    for k, v in pairs(t) do
      if type(k) == "string" and type(v) == "function" then names[#names + 1] = prefix .. sep .. k end
    end
  end
  for k, v in pairs(aapmt) do
    if type(v) == "function" then names[#names + 1] = "aapmt." .. k end
    if type(v) == "table" and k ~= "Tensor" then functions_of(v, "aapmt." .. k, ".") end
  end
  local prefixes = help.prefixes()
  for _, object in ipairs{"Tensor", "model", "net"} do
    check.truthy(type(prefixes[object]) == "table", object .. "'s methods are reachable")
    functions_of(prefixes[object], object, ":")
  end
  table.sort(names)
  return names
end

local missing = {}
for _, name in ipairs(api_names()) do
  if not entries[name] then missing[#missing + 1] = name end
end
if #missing > 0 then
  error(#missing .. " functions have no help entry; add one to the area's file under lua/aapmt/help/: "
    .. table.concat(missing, " "), 0)
end

local stale = {}
for name, e in pairs(entries) do
  if type(help.resolve(name)) ~= "function" then stale[#stale + 1] = name end
  check.truthy(e.doc ~= "" and e.example ~= "", name .. " has a description and an example")
end
table.sort(stale)
if #stale > 0 then error("help entries for functions that do not exist: " .. table.concat(stale, " "), 0) end

-- help(x) by value, by name, for objects, and for what it does not know.
check.truthy(help.text(aapmt.softmax):find("^aapmt%.softmax%(x, dim%)"), "help(aapmt.softmax)")
check.truthy(help.text("Tensor:narrow"):find("^Tensor:narrow%(dim, start, length%)\n"), 'help("Tensor:narrow")')
check.truthy(help.text("narrow"):find("^Tensor:narrow"), 'help("narrow")')
check.truthy(help.text(aapmt.metrics.srcc):find("^aapmt%.metrics%.srcc"), "help(aapmt.metrics.srcc)")
check.truthy(help.text(aapmt.ones(2)):find("^Tensor methods:\n  Tensor:size%(%[dim%]%)\n"), "help(a tensor)")
local net = aapmt.imagereward_random(here .. "/../fixtures/train_run/tiny_config.json", 1)
check.truthy(help.text(net):find("net:forward%(pixels"), "help(net)")
net:free()
local overview = help.text()
for _, area in ipairs{"Constructors:", "Tensor methods:", "Metrics:", "Models:"} do
  check.truthy(overview:find(area, 1, true), "help() lists " .. area)
end
local Model = require("aapmt.imagereward").Model
check.truthy(help.text(setmetatable({}, Model)):find("model:score"), "help(model)")
check.truthy(help.text("Training"):find("aapmt.adam"), 'help("Training")')
check.truthy(help.text("nosuch"):find("no help for"), "an unknown name")
check.truthy(help.text(print):find("no help for this function"), "a function without an entry")

-- The README's index between its markers, exactly.
local f = assert(io.open(here .. "/../../README.md"))
local readme = f:read("a")
f:close()
local shown = readme:match("<!%-%- help index: begin[^\n]*%-%->\n(.-)\n<!%-%- help index: end %-%->")
check.truthy(shown, "README.md has the help index markers")
if shown ~= help.readme_index() then
  error("README.md's API index differs from lua/aapmt/help/; put this between its markers:\n"
    .. help.readme_index(), 0)
end
print("ok")
