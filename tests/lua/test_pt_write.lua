-- aapmt.save's formats: a .pt path (or {format = "pt"}) gives PyTorch's zip
-- format, anything else safetensors unless {format = ...} says otherwise.
-- The writer still gives the bytes of tests/fixtures/checkpoint/
-- aapmt_written.pt, which torch read as aapmt_written_torch.lua says, and
-- those values are the tensors aapmt wrote.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local a = aapmt

local here = arg[0]:match("^(.*)/") or "."
local fixtures = here .. "/../fixtures/checkpoint"
local tensors = dofile(fixtures .. "/aapmt_written_tensors.lua")(a)
local torch_read = dofile(fixtures .. "/aapmt_written_torch.lua")

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local tmp = os.tmpname()
os.remove(tmp)
assert(os.execute("mkdir -p '" .. tmp .. "'"))

-- ---- the same bytes as the committed file, by extension or by option ----
local committed = read(fixtures .. "/aapmt_written.pt")
a.save(tensors, tmp .. "/by_extension.pt")
check.truthy(read(tmp .. "/by_extension.pt") == committed, "a .pt path: the committed file's bytes")
a.save(tensors, tmp .. "/by_option.bin", {format = "pt"})
check.truthy(read(tmp .. "/by_option.bin") == committed, "{format = 'pt'}: the same bytes")
a.save(tensors, tmp .. "/pth.pth")
check.eq(read(tmp .. "/pth.pth"):sub(1, 4), "PK\3\4", "a .pth path is a .pt too")
a.save(tensors, tmp .. "/plain.safetensors")
check.truthy(read(tmp .. "/plain.safetensors"):sub(9, 9) == "{", "a .safetensors path: safetensors")
a.save(tensors, tmp .. "/asked.pt", {format = "safetensors"})
check.truthy(read(tmp .. "/asked.pt"):sub(9, 9) == "{", "{format = 'safetensors'} on a .pt path")
a.save(tensors, tmp .. "/no_options.pt", {})
check.truthy(read(tmp .. "/no_options.pt") == committed, "an empty options table: by extension")
check.raises(function() a.save(tensors, tmp .. "/x.pt", {format = "pickle"}) end,
  "aapmt.save", 'format must be "pt" or "safetensors", not "pickle"')
check.raises(function() a.save(tensors, tmp .. "/x.pt", {fromat = "pt"}) end, "aapmt.save", "fromat")

-- ---- what torch read is what aapmt wrote, and reads back ----
local dtypes = {["torch.float32"] = "f32", ["torch.float16"] = "f16", ["torch.bfloat16"] = "bf16",
                ["torch.int64"] = "i64"}
local function flat(t)
  if t:dim() == 0 then return {t:item()} end
  return t:contiguous():reshape({t:numel()}):totable()
end
local back, order = a.load(tmp .. "/by_extension.pt")
local seen = 0
for i, r in ipairs(torch_read) do
  check.eq(order[i], r.name, "file order")
  for _, t in ipairs{tensors[r.name], back[r.name]} do
    check.eq(t:dtype(), dtypes[r.dtype], r.name .. ": dtype")
    check.shape(t, r.shape, r.name)
    local values = flat(t)
    check.eq(#values, #r.values, r.name .. ": number of values")
    for k = 1, #r.values do
      check.truthy(values[k] == r.values[k] and 1 / values[k] == 1 / r.values[k],
        string.format("%s[%d]: %s written, torch read %s", r.name, k, values[k], r.values[k]))
    end
  end
  seen = seen + 1
end
local count = 0
for _ in pairs(tensors) do count = count + 1 end
check.eq(seen, count, "torch read every tensor")

os.execute("rm -rf '" .. tmp .. "'")
print("ok")
