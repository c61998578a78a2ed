-- Table 4, "Align→Quality": the alignment model (Figure 1's, AIGCIQA2023)
-- trained 50 more epochs for quality with Prompt 2.
return aapmt.experiment{
  description = "Second training: alignment model, then 50 epochs for quality (Table 4).",
  database = "aigciqa2023",
  start = {experiment = "fig1_align_trained", variant = "database=aigciqa2023"},
  train = {metrics = {"quality"}},
  paper = {table = "table4", model = "align->quality transfer", epochs = 100},
  -- against training for quality directly, on the same held-out rows
  compare = {{experiment = "fig2_quality_trained", variant = "database=aigciqa2023"}},
}
