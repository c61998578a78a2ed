/* Evaluation metrics of predicted scores against MOS, computed in double and
 * matching scipy 1.10 (the reference implementation AAPMT used):
 *
 *   PLCC  scipy.stats.pearsonr(y, yhat)[0]: centred by the means, divided by
 *         the norms, clamped to [-1, 1]; for n == 2, sign(dx) * sign(dy).
 *   SRCC  scipy.stats.spearmanr(y, yhat)[0]: the Pearson correlation of the
 *         ranks, ties getting their average rank (rankdata "average").
 *   KRCC  scipy.stats.kendalltau(y, yhat)[0]: tau-b,
 *         (concordant - discordant) / sqrt((n0 - ties_y) (n0 - ties_yhat)),
 *         counted in O(n log n) as scipy does.
 *   RMSE  sqrt(mean((y - yhat)^2)), as numpy computes it; NaN for n == 0.
 *
 * Undefined cases return NaN, as scipy does: a constant input (every value
 * equal) for the three correlations, any NaN in either input (scipy's
 * nan_policy="propagate"), and fewer than two points (where pearsonr raises
 * a ValueError instead; spearmanr and kendalltau return nan). An infinite
 * value gives what the same formulas give in scipy (usually NaN).
 * Allocation failure also returns NaN, with at_last_error() set. */
#ifndef AAPMT_TRAIN_METRICS_H
#define AAPMT_TRAIN_METRICS_H

#include <stdint.h>

double at_plcc(const double *y, const double *yhat, int64_t n);
double at_srcc(const double *y, const double *yhat, int64_t n);
double at_krcc(const double *y, const double *yhat, int64_t n);
double at_rmse(const double *y, const double *yhat, int64_t n);

typedef struct at_metrics {
    int64_t n;
    double plcc, srcc, krcc, rmse;
} at_metrics;
at_metrics at_metrics_all(const double *y, const double *yhat, int64_t n);

/* scipy.stats.rankdata(x, "average"): 1-based ranks, ties averaged, into
 * ranks (n values). Returns 0, or -1 when out of memory. NaN values sort last
 * as in numpy, but the correlations never rank a NaN. */
int at_rank_average(const double *x, int64_t n, double *ranks);

#endif
