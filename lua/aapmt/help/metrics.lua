-- help() entries: aapmt.metrics (format: lua/aapmt/help.lua).
return {area = "Metrics", entries = {
  {"aapmt.metrics.plcc(y, yhat)", "Pearson's linear correlation (scipy's pearsonr).", "aapmt.metrics.plcc({1, 2, 3}, {1, 2, 4})"},
  {"aapmt.metrics.srcc(y, yhat)", "Spearman's rank correlation (scipy's spearmanr).", "aapmt.metrics.srcc({1, 2, 3}, {1, 3, 2})"},
  {"aapmt.metrics.krcc(y, yhat)", "Kendall's tau-b (scipy's kendalltau).", "aapmt.metrics.krcc({1, 2, 3}, {1, 3, 2})"},
  {"aapmt.metrics.rmse(y, yhat)", "The root mean squared error.", "aapmt.metrics.rmse({1, 2}, {1, 3})"},
  {"aapmt.metrics.plcc_logistic(y, yhat)", "PLCC after the 5-parameter logistic fit, and the fit's parameters.", "aapmt.metrics.plcc_logistic(y, yhat)"},
  {"aapmt.metrics.all(y, yhat)", "Every metric at once: {plcc=, srcc=, krcc=, rmse=, plcc_logistic=}.", "aapmt.metrics.all({1, 2, 3, 4}, {1, 3, 2, 4})"},
  {"aapmt.metrics.bootstrap(y, yhat, groups [, {resamples=, seed=, level=, paired=}])", "Percentile-bootstrap intervals of SRCC, PLCC and KRCC, resampling groups (prompts), not rows.", "aapmt.metrics.bootstrap(y, yhat, prompts, {resamples = 200})"},
  {"aapmt.metrics.bootstrap_sample(groups, seed, k)", "The rows of bootstrap resample k.", "aapmt.metrics.bootstrap_sample(prompts, 45063, 1)"},
}}
