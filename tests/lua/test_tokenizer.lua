-- The tokenizer from Lua and the `aapmt tokenize` command. Expected ids are
-- cases of tests/fixtures/tokenizer/cases.json (an independent Python
-- implementation of BertTokenizer) for the fixture vocabulary.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local check = require "check"
local a = aapmt

local here = arg[0]:match("^(.*)/") or "."
local vocab = here .. "/../fixtures/tokenizer/vocab.txt"
local tok = a.tokenizer(vocab)

local function padded(ids, n)
  local out = {}
  for i = 1, n do out[i] = ids[i] or 0 end
  return out
end

local ids, mask = tok:encode("café naïve Ångström crème brûlée")
check.eq(ids:dtype(), "i64", "ids are i64")
check.eq(#ids, 35, "35 ids by default")
check.tensor(ids, padded({101, 273, 275, 276, 277, 278, 102}, 35), 0, "accents are stripped")
check.tensor(mask, padded({1, 1, 1, 1, 1, 1, 1}, 35), 0, "mask covers [CLS] .. [SEP]")
check.tensor((tok:encode("a猫b 4k猫 猫4k")), padded({101, 142, 240, 143, 281, 240, 240, 281, 102}, 35), 0,
  "CJK characters are split out")
local pieces = tok:pieces("ねこ ねこね")
check.eq(table.concat(pieces, " "), "ね ##こ [UNK]", "word pieces")
local short = tok:encode("café naïve Ångström crème brûlée", 4)
check.tensor(short, {101, 273, 275, 102}, 0, "truncation keeps [SEP] last")

local bids, bmask = tok:encode_batch({"café", "一只鸟"}, 6)
check.shape(bids, {2, 6}, "batch ids")
check.tensor(bids, {{101, 273, 102, 0, 0, 0}, {101, 238, 239, 100, 102, 0}}, 0, "batch ids")
check.tensor(bmask, {{1, 1, 1, 0, 0, 0}, {1, 1, 1, 1, 1, 0}}, 0, "batch mask")
check.eq(tok:id("[CLS]"), 101, "id of [CLS]")
check.eq(tok:token(101), "[CLS]", "token of 101")
check.eq(tok:id("no-such-token"), nil, "absent token")

check.raises(function() return tok:encode("bad \xff utf8") end, "UTF-8")
check.raises(function() return a.tokenizer(here .. "/no/such/vocab.txt") end, "no/such/vocab.txt")
check.raises(function() return tok:encode("x", 1) end, "max_len")
local none, where = a.find_vocab(nil, "/nonexistent/ImageReward.pt")
if os.getenv("HOME") and not io.open(os.getenv("HOME") .. "/.cache/huggingface", "r") then
  check.eq(none, nil, "no vocabulary found")
  check.truthy(where:find("/nonexistent/vocab.txt", 1, true), "the message lists where it looked: " .. where)
end
tok:free()
check.raises(function() return tok:encode("x") end, "freed")

-- The command prints the ids, then the mask.
local exe = arg[-1]
local p = io.popen(string.format("%q tokenize --vocab %q %q", exe, vocab, "café naïve"))
local out = p:read("a")
p:close()
check.eq(out, "101 273 275 102" .. string.rep(" 0", 31) .. "\n1 1 1 1" .. string.rep(" 0", 31) .. "\n",
  "aapmt tokenize output")
local p2 = io.popen(string.format("%q tokenize --vocab %q 2>&1; echo status=$?", exe, vocab))
local err = p2:read("a")
p2:close()
check.truthy(err:find("expected one TEXT argument", 1, true) and err:find("status=2", 1, true),
  "a usage error exits 2: " .. err)
print("ok")
