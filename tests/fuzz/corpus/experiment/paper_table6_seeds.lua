-- Table 6: seeds 42, 100 and 200 on AGIQA-3K, 10 epochs; each seed changes
-- the split, the head's initialisation, the order and the dropout.
return aapmt.experiment{
  description = "Seed robustness: quality and alignment models for seeds 42, 100, 200 (Table 6).",
  database = "agiqa3k",
  sweep = {seed = {42, 100, 200}, metrics = {"quality", "align"}},
  train = {},
  paper = {table = "table6"},
}
