-- Figure 1: text-image alignment, PLCC and SRCC of the raw and the trained
-- ImageReward on both databases, beside the paper's bars (and the cited
-- "best" of each database's paper), under AAPMT's evaluated rows.
local figures = require "aapmt.paper_figures"
return aapmt.experiment{
  description = "Figure 1: alignment bars (raw, trained, best) from the raw_imagereward and fig1_align_trained runs.",
  database = false,
  needs = {"raw_imagereward", "fig1_align_trained"},
  report = function(ctx)
    return figures.bars(ctx, {figure = "fig1", task = "align", raw = "raw_imagereward",
      trained = "fig1_align_trained", title = "Figure 1: text-image alignment"})
  end,
}
