-- Table 4, "Quality→Align": the quality model (Figure 2's, AIGCIQA2023)
-- trained 50 more epochs for alignment, with a fresh optimizer and the same
-- seed-42 split (Algorithm 1).
return aapmt.experiment{
  description = "Second training: quality model, then 50 epochs for alignment (Table 4).",
  database = "aigciqa2023",
  start = {experiment = "fig2_quality_trained", variant = "database=aigciqa2023"},
  train = {metrics = {"align"}},
  paper = {table = "table4", model = "quality->align transfer", epochs = 100},
  -- against training for alignment directly, on the same held-out rows
  compare = {{experiment = "fig1_align_trained", variant = "database=aigciqa2023"}},
}
