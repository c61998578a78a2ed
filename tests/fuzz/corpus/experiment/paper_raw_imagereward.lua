-- The untrained ImageReward-v1.0 on both databases, scored with every
-- task's text: the "raw" bars of Figures 1 and 2 and the raw column of
-- Table 3.
return aapmt.experiment{
  description = "ImageReward-v1.0 as published, no fine-tuning (Figures 1, 2; Table 3).",
  database = "agiqa3k",
  sweep = {database = {"agiqa3k", "aigciqa2023"}},
  train = false,
  paper = {model = "raw"},
}
