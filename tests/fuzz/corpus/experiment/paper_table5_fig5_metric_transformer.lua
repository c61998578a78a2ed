-- Table 5 and Figure 5: AAPMT's Metric Transformer as published (the coded
-- variant: per-metric read-outs of one encoder layer on the [CLS] feature),
-- one model for alignment, quality and authenticity, each image's own
-- prompt, 50 epochs on AIGCIQA2023. Its training-loss curve (plots/
-- training_loss.png) is Figure 5.
return aapmt.experiment{
  description = "One model, three metrics: the Metric Transformer as AAPMT's code built it (Table 5, Figure 5).",
  database = "aigciqa2023",
  head = "coded",
  train = {metrics = {"align", "quality", "authenticity"}},
  paper = {table = "table5", model = "metric transformer"},
  -- beside the single-task models on the same held-out rows (paired intervals)
  compare = {{experiment = "fig1_align_trained", variant = "database=aigciqa2023"},
    {experiment = "fig2_quality_trained", variant = "database=aigciqa2023"}, "table3_authenticity"},
}
