-- Figure 2's trained bars: fine-tuned for perceptual quality with Prompt 2,
-- "extremely high quality image, with vivid details".
return aapmt.experiment{
  description = "Fine-tuned for quality with Prompt 2 (Figure 2; Tables 2, 4, 5).",
  database = "agiqa3k",
  sweep = {database = {"agiqa3k", "aigciqa2023"}},
  train = {metrics = {"quality"}},
  paper = {model = "trained quality"},
}
