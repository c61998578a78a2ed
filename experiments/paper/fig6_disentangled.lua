-- Figure 6: the Prompt-1 quality model (Table 2's) scored with six quality
-- sub-metric texts; each sub-metric's share is 1/(C_base - C_i) normalised,
-- C the PLCC or SRCC on AAPMT's evaluated rows, as valid_disentangled.py
-- computes it (docs/aapmt.md §6 Figure 6).
local figures = require "aapmt.paper_figures"
local parts = {}
for i, p in ipairs(require("aapmt.paper").figure6.parts) do
  parts[i] = {name = p.name, text = p.prompt, target = "mos_quality"}
end
return aapmt.experiment{
  description = "Figure 6: disentangled quality sub-metrics and their shares (PLCC and SRCC donuts).",
  database = "aigciqa2023",
  start = {experiment = "table2_quality_prompts", variant = "quality_prompt=high quality image"},
  quality_prompt = "high quality image",
  train = false,
  evaluate = {tasks = {"quality"}, prompts = parts, protocols = {"paper_rows", "test"}},
  report = function(ctx) return figures.shares(ctx) end,
}
