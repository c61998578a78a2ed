-- Table 2: three quality prompts, each a separately trained model, 50
-- epochs on AIGCIQA2023.
return aapmt.experiment{
  description = "Quality fine-tuning with each of the paper's three quality prompts (Table 2).",
  database = "aigciqa2023",
  sweep = {quality_prompt = {"high quality image", "extremely high quality image, with vivid details",
    "extremely high quality image, with high resolution"}},
  train = {metrics = {"quality"}},
  paper = {table = "table2"},
  -- each prompt's model against Prompt 2's, on the same held-out rows
  compare = {{variant = "quality_prompt=extremely high quality image, with vivid details"}},
}
