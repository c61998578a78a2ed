-- Not in the paper: the Metric Transformer as the paper describes it (a
-- token per metric attending to the other metrics and to every text token),
-- trained like Table 5's, to set beside it.
return aapmt.experiment{
  description = "The paper's described Metric Transformer (cross-metric attention), beside Table 5.",
  database = "aigciqa2023",
  head = "metric_attention",
  train = {metrics = {"align", "quality", "authenticity"}},
  compare = {"table5_fig5_metric_transformer", {experiment = "fig1_align_trained", variant = "database=aigciqa2023"},
    {experiment = "fig2_quality_trained", variant = "database=aigciqa2023"}, "table3_authenticity"},
}
