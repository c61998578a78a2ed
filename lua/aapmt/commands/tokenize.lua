-- aapmt tokenize [--vocab FILE] [--checkpoint FILE] [--max-length N] TEXT
local cli = require "aapmt.cli"
local a = aapmt

local usage = [[
usage: aapmt tokenize [--vocab FILE] [--checkpoint FILE] [--max-length N] TEXT

Prints ImageReward's token ids for TEXT on one line (35 by default: [CLS] ...
[SEP], then padding with 0), and the attention mask on the next.
The vocabulary (bert-base-uncased vocab.txt) is --vocab, else vocab.txt beside
the checkpoint (default checkpoint/ImageReward/ImageReward.pt), else the
Hugging Face cache.
]]

return cli.command("tokenize", usage,
  {vocab = "string", checkpoint = "string", max_length = "integer"},
  function(opts, positional)
    if #positional ~= 1 then cli.fail("expected one TEXT argument, got " .. #positional, 2) end
    local max_length = opts.max_length or 35
    if max_length < 2 then cli.fail("--max-length must be at least 2", 2) end
    local path, err = a.find_vocab(opts.vocab, opts.checkpoint or "checkpoint/ImageReward/ImageReward.pt")
    if not path then cli.fail(err) end
    local ok, tok = pcall(a.tokenizer, path)
    if not ok then cli.fail(tok) end
    local ok2, ids, mask = pcall(tok.encode, tok, positional[1], max_length)
    if not ok2 then cli.fail(ids) end
    print(table.concat(ids:totable(), " "))
    print(table.concat(mask:totable(), " "))
  end)
