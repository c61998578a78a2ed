/* Percentile-bootstrap confidence intervals of SRCC, PLCC and KRCC (the
 * scipy-exact metrics of metrics.h), resampling clusters.
 *
 * Rows come in groups (on the content-isolated split, the held-out prompts:
 * every image of a prompt is drawn together), since the rows of one prompt
 * are not independent of each other but the prompts are. A resample draws G
 * groups uniformly with replacement, G the number of distinct groups, and
 * is the concatenation of the drawn groups' rows, so its size varies.
 *
 *   Group order   the distinct ids in order of first appearance: cluster c
 *                 is the c-th distinct id met, its rows ascending. Ids are
 *                 arbitrary int64 values.
 *   Draws         draw j (0 <= j < G) of resample k (0-based) is cluster
 *                 floor(G u), u = at_uniform_at(seed, k G + j): resample k is
 *                 the block [k G, (k + 1) G) of one Philox stream (the values
 *                 at_rand gives in f64 from at_rng_new(seed), in order).
 *                 A pure function of (seed, k, groups), whatever the thread
 *                 count. (53-bit u: the bias of floor is below G / 2^53.)
 *   Paired        yhat_b given: the same resamples score both models, and
 *                 each resample's value is metric(y, yhat) - metric(y, yhat_b):
 *                 how hard the drawn prompts are moves both models alike and
 *                 cancels, so for correlated models (as two of one task are)
 *                 it is far narrower than two separate intervals suggest.
 *   Interval      the finite resample values, sorted, at (1 - level) / 2 and
 *                 (1 + level) / 2 with numpy's default quantile (method
 *                 "linear": position (m - 1) q, interpolated as numpy's _lerp
 *                 does, from the nearer neighbour): np.quantile(v, (1 - level)
 *                 / 2) bit for bit (checked against numpy 1.24). A resample
 *                 where a metric is NaN (a constant resample) is left out of
 *                 that metric only; valid counts the ones kept.
 *   SD            of the finite resample values with ddof 1 (as
 *                 scipy.stats.bootstrap's standard_error), summed in resample
 *                 order; NaN when fewer than 2 are finite.
 *
 * Resamples run in parallel over OpenMP threads, each value in its own slot,
 * so results are bit-identical for any thread count. */
#ifndef AAPMT_TRAIN_BOOTSTRAP_H
#define AAPMT_TRAIN_BOOTSTRAP_H

#include <stdbool.h>
#include <stdint.h>

/* The seed when the caller has no reason to pick one (0xB007, "boot"). */
#define AT_BOOTSTRAP_DEFAULT_SEED 45063

typedef struct at_bootstrap_interval {
    double value;       /* on the full sample; paired: metric(A) - metric(B) */
    double low, high;   /* percentile bounds; NaN when valid == 0 */
    double sd;          /* bootstrap standard deviation (ddof 1) */
    int64_t valid;      /* resamples with a finite value */
} at_bootstrap_interval;

typedef struct at_bootstrap_result {
    at_bootstrap_interval srcc, plcc, krcc;
    int64_t n;          /* rows */
    int64_t groups;     /* G, distinct group ids */
    int resamples;
    double level;
    uint64_t seed;
    bool paired;
} at_bootstrap_result;

/* The rows (0-based) of resample k (0-based), in draw order, each drawn
 * group's rows ascending: a new array of *n_out rows, to free(). n >= 1 rows
 * with group ids group[0..n), k >= 0. NULL after at_set_error
 * ("bootstrap_sample: ...") for bad arguments or out of memory. */
int64_t *at_bootstrap_sample(const int64_t *group, int64_t n, uint64_t seed, int64_t k, int64_t *n_out);

/* Intervals of SRCC, PLCC and KRCC of yhat against y (and, when yhat_b is
 * not NULL, of the paired difference yhat minus yhat_b) over n rows grouped
 * by group, from resamples resamples 0 .. resamples - 1 drawn with seed, at
 * level (0.95: the 2.5 and 97.5 percentiles). Returns 0 with *out filled, or
 * -1 after at_set_error("bootstrap: ...") for: n < 2, a NaN or infinite
 * value, fewer than 2 groups, resamples < 1, level not in (0, 1), out of
 * memory. (Should a metric's own allocation fail inside a resample, that
 * resample counts as NaN for it.) */
int at_bootstrap_ci(const double *y, const double *yhat, const double *yhat_b, const int64_t *group, int64_t n,
                    int resamples, uint64_t seed, double level, at_bootstrap_result *out);

#endif
