-- Figure 2: perceptual quality, PLCC and SRCC of the raw (Prompt 2) and the
-- quality-trained ImageReward on both databases, beside the paper's bars.
local figures = require "aapmt.paper_figures"
return aapmt.experiment{
  description = "Figure 2: quality bars (raw, trained, best) from the raw_imagereward and fig2_quality_trained runs.",
  database = false,
  needs = {"raw_imagereward", "fig2_quality_trained"},
  report = function(ctx)
    return figures.bars(ctx, {figure = "fig2", task = "quality", raw = "raw_imagereward",
      trained = "fig2_quality_trained", title = "Figure 2: perceptual quality"})
  end,
}
