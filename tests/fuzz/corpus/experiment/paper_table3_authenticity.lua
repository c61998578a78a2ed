-- Table 3: fine-tuned for authenticity ("very authentic image"), AIGCIQA2023.
return aapmt.experiment{
  description = "Fine-tuned for authenticity with \"very authentic image\" (Table 3).",
  database = "aigciqa2023",
  train = {metrics = {"authenticity"}},
  paper = {model = "trained authenticity"},
}
