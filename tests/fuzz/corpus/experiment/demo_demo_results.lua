-- The demo's figure: PLCC and SRCC on held-out prompts of every demo model
-- and task, as grouped bars (plots/demo_results.png).
local names = {"demo_quality", "demo_align", "demo_metric_transformer"}
return aapmt.experiment{
  description = "The demo's results on held-out prompts: single-task models and the Metric Transformer.",
  database = false,
  needs = names,
  report = function(ctx)
    local groups, values, lines = {}, {}, {"| model | task | PLCC | SRCC | n |", "| --- | --- | --- | --- | --- |"}
    for _, name in ipairs(names) do
      for _, r in ipairs(ctx.results(name)) do
        for _, task in ipairs(r.result.scored) do
          local s = r.result.results.test[task]
          -- each model's own tasks; the single-task models' other scores are cross-task
          local own = name == "demo_metric_transformer" or name == "demo_" .. task
          if own and s.plcc then
            groups[#groups + 1] = (name == "demo_metric_transformer" and "MT " or "") .. task
            values[#values + 1] = {s.plcc, s.srcc}
            lines[#lines + 1] = string.format("| %s | %s | %.4f | %.4f | %d |", name, task, s.plcc, s.srcc, s.n)
          end
        end
      end
    end
    if ctx.plot and #groups > 0 then
      ctx.plot.bars{out = ctx.out .. "/plots", name = "demo_results", title = "demo: held-out prompts",
        groups = groups, series = {"PLCC", "SRCC"}, values = values, ylabel = "correlation", yrange = {0, 1}}
      lines[#lines + 1] = "\n![demo results](plots/demo_results.png)"
    end
    return table.concat(lines, "\n") .. "\n"
  end,
}
