-- Figure 1's trained bars: ImageReward fine-tuned for text-image alignment
-- (each image's own prompt), 10 epochs on AGIQA-3K, 50 on AIGCIQA2023.
return aapmt.experiment{
  description = "Fine-tuned for alignment with the image's own prompt (Figure 1; Tables 4, 5 baselines).",
  database = "agiqa3k",
  sweep = {database = {"agiqa3k", "aigciqa2023"}},
  train = {metrics = {"align"}},
  paper = {model = "trained align"},
}
