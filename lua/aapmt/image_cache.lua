-- A store of tensors bounded by bytes that drops the least recently used
-- first: what keeps a model's ViT encodings between calls
-- (aapmt.imagereward), so scoring new prompts on images already seen skips
-- the ViT.
--
--   local cache = image_cache.new(512)     -- megabytes (2^20 bytes); 0 keeps nothing
--   cache:scope(s)        -- entries belong to scope s: another s empties the cache
--   cache:get(key)        -- the tensor or nil; counts a hit or a miss (key nil: a miss)
--   cache:put(key, t)     -- the cache owns t from now (true), or t is too big (false)
--   cache:set_limit(mb), cache:clear(), cache:stats()
--
-- The cache owns what it holds: put takes the tensor and eviction frees it,
-- so a tensor from get is only good until the next put, set_limit, scope
-- or clear (copy out of it first, e.g. with aapmt.concat).
local M = {}
local Cache = {}
Cache.__index = Cache

local MB = 1024 * 1024
local dtype_bytes = {f32 = 4, f64 = 8, f16 = 2, bf16 = 2, i32 = 4, i64 = 8, u8 = 1}

-- The byte limit of a size in megabytes, or an error that names fname and
-- what was given, raised at error()'s level (default 2: check_megabytes's caller).
function M.check_megabytes(megabytes, fname, level)
  if math.type(megabytes) == nil or megabytes ~= megabytes or megabytes < 0 or megabytes == math.huge then
    local given = type(megabytes) == "number" and tostring(megabytes) or "a " .. type(megabytes)
    error(string.format("%s: the cache size must be a finite number of megabytes >= 0 (0 turns it off), got %s",
      fname, given), level or 2)
  end
  return math.floor(megabytes * MB)
end

function M.bytes_of(t)
  return t:numel() * dtype_bytes[t:dtype()]
end

function M.new(megabytes)
  local c = setmetatable({limit = M.check_megabytes(megabytes, "image_cache.new", 3), bytes = 0, entries = 0,
    hits = 0, misses = 0, evicted = 0, by_key = {}}, Cache)
  -- A ring with a sentinel: head.next is the most recently used entry, head.prev the least.
  c.head = {}
  c.head.next, c.head.prev = c.head, c.head
  return c
end

local function unlink(node)
  node.prev.next, node.next.prev = node.next, node.prev
end

local function push_front(c, node)
  node.prev, node.next = c.head, c.head.next
  c.head.next.prev = node
  c.head.next = node
end

local function drop(c, node)
  unlink(node)
  c.by_key[node.key] = nil
  c.bytes, c.entries = c.bytes - node.bytes, c.entries - 1
  node.tensor:free()
end

local function evict_to(c, limit)
  while c.bytes > limit do
    drop(c, c.head.prev)
    c.evicted = c.evicted + 1
  end
end

-- key nil (a file that cannot be keyed) is a miss.
function Cache:get(key)
  local node = key and self.by_key[key]
  if not node then
    self.misses = self.misses + 1
    return nil
  end
  self.hits = self.hits + 1
  unlink(node)
  push_front(self, node)
  return node.tensor
end

function Cache:put(key, tensor)
  local bytes = M.bytes_of(tensor)
  if bytes > self.limit then return false end
  if self.by_key[key] then drop(self, self.by_key[key]) end
  local node = {key = key, tensor = tensor, bytes = bytes}
  self.by_key[key] = node
  push_front(self, node)
  self.bytes, self.entries = self.bytes + bytes, self.entries + 1
  evict_to(self, self.limit)
  return true
end

-- Empties the cache (its tensors are freed); the counts of hits and misses stay.
function Cache:clear()
  while self.head.next ~= self.head do drop(self, self.head.next) end
end

-- Entries made under another scope (other weights, another device, other
-- preprocessing) can never be asked for again: they go at once.
function Cache:scope(s)
  if s ~= self.current_scope then
    self:clear()
    self.current_scope = s
  end
end

-- level: where a bad size is reported (default: set_limit's caller).
function Cache:set_limit(megabytes, fname, level)
  self.limit = M.check_megabytes(megabytes, fname or "Cache:set_limit", (level or 2) + 1)
  evict_to(self, self.limit)
end

function Cache:stats()
  return {entries = self.entries, bytes = self.bytes, limit = self.limit, megabytes = self.limit / MB,
    hits = self.hits, misses = self.misses, evicted = self.evicted}
end

return M
