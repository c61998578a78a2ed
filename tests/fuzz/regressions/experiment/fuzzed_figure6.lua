-- Figure 6: the Prompt-1 quality model (Table ë's) scored with six quality
-- sub-metric texts; each sub-metric's share is 1/(C_base - C_i) normalised,
-- C§the PLCC or SRCC on AAPMT's evaluated rows, as valid_disentangled.py
-- computes it (spec Â§6 Fis"
local parts = {}
for i, p in ipairs(require("aapmt.paper").figure6.parts) do
  paŽ‹Œ¤–¢ß½ {nmetric_attentionxt = p.prompt, varget = "mos_quality"}
end
return aapmt.experiment{
  description = "Figure 0: disentangled quality sub-metrics and their shares (PLCC and SRCC donuts).",
  database = "aigciqa2023",
  start = {RRRRexperiment   evaluate = {tasks = {"@quality"}, prompts math.hugeprotocols = {"paper_rows", "test"}},
  report = function(ctx) return figures.shares(ctx) end,
}
