-- Fingerprints: SHA-256 of strings and files (known digests), file facts
-- with nanosecond mtimes, the hash cache (a file rewritten in place is
-- hashed again, an unchanged one is not read), canonical text of values
-- (functions by their source and upvalues, tables in order), and diffs
-- that name the keys.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local lfs = require "lfs"
local files = require "files"
local folder = require "aapmt.run_folder"
local a = aapmt

local tmp = os.tmpname()
os.remove(tmp)
assert(lfs.mkdir(tmp))
-- the cache goes to the test's folder (read by file_hashes on first use)
local getenv = os.getenv
os.getenv = function(name) if name == "AAPMT_CACHE" then return tmp .. "/cache" end return getenv(name) end
local fingerprint = require "aapmt.fingerprint"
local file_hashes = require "aapmt.file_hashes"

-- ---- SHA-256 ----
check.eq(a.sha256(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "SHA-256 of nothing")
check.eq(a.sha256("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "SHA-256 of abc")
local big = string.rep("0123456789abcdef", 200000)   -- 3.2 MB: several 1 MiB chunks
folder.write_atomic(tmp .. "/big", big)
check.eq(a.sha256_file(tmp .. "/big"), a.sha256(big), "a file's hash is its bytes' hash, chunks and all")
local none, why = a.sha256_file(tmp .. "/absent")
check.truthy(none == nil and why:find(tmp .. "/absent", 1, true), "a missing file is named: " .. tostring(why))
none, why = a.sha256_file(tmp)
check.truthy(none == nil and why:find("not a regular file", 1, true), "a folder is refused: " .. tostring(why))
none, why = a.sha256_file("/dev/zero")
check.truthy(none == nil and why:find("not a regular file", 1, true), "a device is refused (it would never end)")

-- ---- file facts ----
local facts = a.file_facts(tmp .. "/big")
check.eq(facts.size, #big, "size")
check.eq(facts.kind, "file", "kind")
check.eq(facts.mtime_ns // 1000000000, lfs.attributes(tmp .. "/big", "modification"), "mtime in nanoseconds")
check.eq(a.file_facts(tmp).kind, "directory", "a folder")

-- ---- the cache ----
local path = tmp .. "/weights"
folder.write_atomic(path, "first")
check.eq(fingerprint.file(path), "sha256:" .. a.sha256("first"), "hashed")
fingerprint.flush()
local cached = folder.read(tmp .. "/cache/file_hashes.txt")
check.truthy(cached and cached:find(a.sha256("first"), 1, true), "the cache file holds the hash")
-- Same size, other bytes, another mtime: hashed again.
os.execute("sleep 0.01")
local f = assert(io.open(path, "r+b"))
f:write("FIRST")
f:close()
check.eq(fingerprint.file(path), "sha256:" .. a.sha256("FIRST"), "rewritten in place: hashed again")
-- New bytes with the old mtime put back (as cp -p or rsync -t do): the
-- change time moves, so it is hashed again.
local before = a.file_facts(path)
os.execute("sleep 0.01")
f = assert(io.open(path, "r+b"))
f:write("fIRST")
f:close()
os.execute(string.format("touch -m -d @%d.%09d %q", before.mtime_ns // 1000000000, before.mtime_ns % 1000000000, path))
check.eq(a.file_facts(path).mtime_ns, before.mtime_ns, "the mtime is put back")
check.eq(fingerprint.file(path), "sha256:" .. a.sha256("fIRST"), "a rewrite with the old mtime is hashed again")
-- Unchanged (size and mtime): the cached hash is used, the bytes are not
-- read (seen by planting another hash for the file's facts).
local facts2 = a.file_facts(path)
fingerprint.flush()
folder.write_atomic(tmp .. "/cache/file_hashes.txt", string.format("%s %d %d %d %d %s\n", string.rep("a", 64),
  facts2.size, facts2.mtime_ns, facts2.ctime_ns, facts2.inode, path))
package.loaded["aapmt.file_hashes"] = nil
package.loaded["aapmt.fingerprint"] = nil
fingerprint = require "aapmt.fingerprint"
check.eq(fingerprint.file(path), "sha256:" .. string.rep("a", 64), "an unchanged file comes from the cache")
_ = file_hashes

-- ---- canonical text ----
local c = fingerprint.canonical
check.eq(c({kind = "cosine", warmup = 100}), '{kind = "cosine", warmup = 100}', "a table in key order")
check.eq(c({0.9, 0.999}), "{0.9, 0.999}", "a list")
check.truthy(c(1) ~= c(1.0), "integer and float differ")
check.eq(c(0.1 + 0.2), "0.30000000000000004", "floats exactly")
local suffix = " of a cat"
local function text(row) return row.prompt .. suffix end
local canon = c(text)
check.truthy(canon:find("local function text(row) return row.prompt .. suffix end", 1, true), "a function by its source")
check.truthy(canon:find('suffix = " of a cat"', 1, true), "and its upvalues: " .. canon)
suffix = " of a dog"
check.truthy(c(text) ~= canon, "an upvalue's change changes the text")
check.truthy(c({plot = require "aapmt.plot"}):find("<module aapmt.plot>", 1, true), "aapmt's module by its name")
-- a user's module by its file's content too
folder.write_atomic(tmp .. "/my_prompts.lua", 'return {"a cat"}\n')
package.path = tmp .. "/?.lua;" .. package.path
local mine = require "my_prompts"
local with_module = c({prompts = mine})
check.truthy(with_module:find("<module my_prompts sha256:", 1, true), "a user's module by content: " .. with_module)
os.execute("sleep 0.01")
folder.write_atomic(tmp .. "/my_prompts.lua", 'return {"a dog"}\n')
check.truthy(c({prompts = mine}) ~= with_module, "editing the module's file changes the text")
-- an aapmt.nn module by its layers and its starting weights
local nn = require "aapmt.nn"
check.truthy(c(nn.Sequential{nn.Linear(8, 1), seed = 1}) ~= c(nn.Sequential{nn.Linear(8, 1), seed = 2}),
  "heads drawn from other seeds differ")
check.eq(c(nn.Sequential{nn.Linear(8, 1), seed = 1}), c(nn.Sequential{nn.Linear(8, 1), seed = 1}),
  "the same head gives the same text")

-- ---- specs and diffs ----
local old = {["train.lr"] = "0.001", ["train.epochs"] = "3", seed = "42"}
local new = {["train.lr"] = "0.0008", ["train.epochs"] = "3", seed = "42", extra = "x"}
check.eq(fingerprint.of(old), fingerprint.of({seed = "42", ["train.epochs"] = "3", ["train.lr"] = "0.001"}),
  "a spec's fingerprint does not depend on insertion order")
check.truthy(fingerprint.of(old) ~= fingerprint.of(new), "a changed value changes it")
local changes = fingerprint.diff(old, new)
check.eq(#changes, 2, "two keys differ")
check.eq(fingerprint.describe_diff(changes), "extra (none) → x; train.lr 0.001 → 0.0008", "named, old and new")

files.remove_tree(tmp)
os.getenv = getenv
