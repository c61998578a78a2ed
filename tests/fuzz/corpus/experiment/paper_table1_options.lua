-- Table 1: the training options of every experiment, the paper's beside
-- the defaults this program applies.
local figures = require "aapmt.paper_figures"
return aapmt.experiment{
  description = "Table 1: hyper-parameters, the paper's and ours.",
  database = false,
  report = function(ctx) return figures.options(ctx) end,
}
