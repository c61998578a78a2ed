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
 * Allocation failure also returns NaN, with at_last_error() set.
 *
 *   PLCC after the 5-parameter logistic (at_plcc_logistic): the standard IQA
 *         mapping f(x) = b1 (0.5 - 1 / (1 + exp(b2 (x - b3)))) + b4 x + b5
 *         fitted to (yhat, y) by least squares, then at_plcc(y, f(yhat)); the
 *         same optimum as scipy.optimize.curve_fit(f, yhat, y, p0) with
 *         method "lm" (see at_plcc_logistic). Not in AAPMT's reported
 *         numbers, which are raw PLCC (docs/aapmt.md §5.2). */
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
    double plcc_logistic;   /* NaN where at_plcc_logistic fails */
} at_metrics;
at_metrics at_metrics_all(const double *y, const double *yhat, int64_t n);

/* scipy.stats.rankdata(x, "average"): 1-based ranks, ties averaged, into
 * ranks (n values). Returns 0, or -1 when out of memory. NaN values sort last
 * as in numpy, but the correlations never rank a NaN. */
int at_rank_average(const double *x, int64_t n, double *ranks);

/* The 5-parameter logistic fit. params: b1..b5 of f above. */
typedef struct at_logistic_fit {
    double params[5];
    double plcc;         /* at_plcc(y, f(yhat)) */
    double sse;          /* sum of (f(yhat) - y)^2 at params */
    int iterations;      /* Jacobian evaluations, both starts */
    int converged;       /* 0: the iteration limit stopped it (params: the best found) */
} at_logistic_fit;

/* Two starts, the lower sum of squares kept: the initial guess most IQA code
 * uses, as a function of the data,
 *   p0 = [max(y), 1 / std(yhat), mean(yhat), 0, mean(y)]
 * (std with ddof 0: at p0 the logistic spans max(y) around mean(y) over a
 * few standard deviations of the predictions, whatever their scale), and its
 * mirror with b1 = -max(y), a falling logistic, which reaches the optimum
 * when the first start stalls where the logistic part vanishes (b2 -> 0) or
 * in another local minimum. The scipy reference runs curve_fit from the
 * same two starts. AAPMT's own fitting.py used p0 = ones, which for
 * predictions far from 1 or spread far from 1 can stop in a worse minimum.
 *
 * When the predictions are close to linear in the MOS the fit is poorly
 * posed: the sum of squares keeps falling far along valleys (b1 -> inf with
 * b2 -> 0, the logistic tending to a cubic; or b2 -> inf, a step), with
 * shallow local minima on the way. Any LM then crawls and stops where it
 * runs out of iterations or progress; curve_fit too, after thousands of
 * evaluations, and sometimes it raises instead. On 20 random draws of 120
 * near-linear points (logistic gain 1e-4 to 1e-2 in PLCC), 10 converged
 * here and agreed with curve_fit within 1e-7; of the other 10 (converged
 * 0), curve_fit raised on one and on the rest gave a PLCC 3e-7 to 3.5e-3
 * away, either way. In well-posed data (a visible curve) both reach the
 * same optimum.
 *
 * Levenberg-Marquardt in double with the analytic Jacobian, on standardised
 * data (yhat and y centred and divided by their std; the logistic family is
 * closed under that, so params come back in the original units), Marquardt's
 * diagonal scaling, stopping when a step changes the sum of squares by less
 * than 1e-15 of itself or the parameters by less than 1e-12, at most 1000
 * iterations per start.
 *
 * Returns 0 with *fit filled. Returns -1 with fit->plcc and every param NaN
 * after at_set_error("plcc_logistic: ...") saying why, for: fewer than 5
 * points (5 parameters; curve_fit raises), a NaN or infinite value, a
 * constant y or yhat (PLCC undefined), out of memory. */
int at_plcc_logistic(const double *y, const double *yhat, int64_t n, at_logistic_fit *fit);
/* f(x) for params b1..b5 (computed as b1/2 tanh(b2 (x - b3) / 2) + b4 x + b5,
 * the same function without overflow in exp). */
double at_logistic5(const double params[5], double x);

#endif
