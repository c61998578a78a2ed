/* PLCC, SRCC, KRCC and RMSE as scipy computes them (see metrics.h).
 *
 * Sums use numpy's pairwise summation, so means come out with numpy's bits;
 * the BLAS norm and dot product scipy calls sum in another order, which moves
 * the last bit or two (the tests allow 1e-12). */
#include "metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "../tensor.h"

/* numpy's pairwise_sum (umath loops): 8 accumulators up to 128 terms, halves
 * (at a multiple of 8) above. */
static double pairwise_sum(const double *a, int64_t n) {
    if (n < 8) {
        double s = 0.;
        for (int64_t i = 0; i < n; i++) s += a[i];
        return s;
    }
    if (n <= 128) {
        double r[8];
        for (int k = 0; k < 8; k++) r[k] = a[k];
        int64_t i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int k = 0; k < 8; k++) r[k] += a[i + k];
        double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) s += a[i];
        return s;
    }
    int64_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

static bool any_nan(const double *a, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (a[i] != a[i]) return true;
    return false;
}

static bool is_constant(const double *a, int64_t n) {
    for (int64_t i = 1; i < n; i++)
        if (!(a[i] == a[0])) return false;
    return true;
}

static double clamp1(double r) { return r != r ? r : fmax(-1.0, fmin(1.0, r)); }

static double *alloc_doubles(int64_t n, int count) {
    double *p = malloc((size_t)(n > 0 ? n : 1) * (size_t)count * sizeof *p);
    if (!p) at_set_error("metrics: out of memory for %lld values", (long long)n);
    return p;
}

static double sign(double v) { return v > 0 ? 1.0 : v < 0 ? -1.0 : v; }   /* NaN stays NaN */

double at_plcc(const double *y, const double *yhat, int64_t n) {
    if (n < 2 || is_constant(y, n) || is_constant(yhat, n)) return NAN;
    if (n == 2) return sign(y[1] - y[0]) * sign(yhat[1] - yhat[0]);
    double *w = alloc_doubles(n, 3);
    if (!w) return NAN;
    double *xm = w, *ym = w + n, *t = w + 2 * n;
    double xmean = pairwise_sum(y, n) / (double)n, ymean = pairwise_sum(yhat, n) / (double)n;
    for (int64_t i = 0; i < n; i++) {
        xm[i] = y[i] - xmean;
        ym[i] = yhat[i] - ymean;
    }
    for (int64_t i = 0; i < n; i++) t[i] = xm[i] * xm[i];
    double normx = sqrt(pairwise_sum(t, n));
    for (int64_t i = 0; i < n; i++) t[i] = ym[i] * ym[i];
    double normy = sqrt(pairwise_sum(t, n));
    for (int64_t i = 0; i < n; i++) t[i] = (xm[i] / normx) * (ym[i] / normy);
    double r = pairwise_sum(t, n);
    free(w);
    /* scipy raises for NaN or infinite input (linalg.norm checks); NaN here. */
    if (!isfinite(normx) || !isfinite(normy)) return NAN;
    return clamp1(r);
}

double at_rmse(const double *y, const double *yhat, int64_t n) {
    if (n < 1) return NAN;
    double *t = alloc_doubles(n, 1);
    if (!t) return NAN;
    for (int64_t i = 0; i < n; i++) {
        double d = y[i] - yhat[i];
        t[i] = d * d;
    }
    double r = sqrt(pairwise_sum(t, n) / (double)n);
    free(t);
    return r;
}

/* ---- ranks ---- */

typedef struct {
    double key, key2;
    int64_t index;
} keyed;

static int cmp_keyed(const void *pa, const void *pb) {
    const keyed *a = pa, *b = pb;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    if (a->key2 != b->key2) return a->key2 < b->key2 ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

int at_rank_average(const double *x, int64_t n, double *ranks) {
    if (any_nan(x, n)) {   /* scipy 1.10 rankdata, nan_policy="propagate" */
        for (int64_t i = 0; i < n; i++) ranks[i] = NAN;
        return 0;
    }
    keyed *k = malloc((size_t)(n > 0 ? n : 1) * sizeof *k);
    if (!k) return at_set_error("rank: out of memory for %lld values", (long long)n), -1;
    for (int64_t i = 0; i < n; i++) k[i] = (keyed){x[i], 0, i};
    qsort(k, (size_t)n, sizeof *k, cmp_keyed);
    for (int64_t start = 0; start < n;) {
        int64_t end = start + 1;
        while (end < n && k[end].key == k[start].key) end++;
        double r = 0.5 * (double)(end + start + 1);   /* the mean of positions start+1 .. end */
        for (int64_t j = start; j < end; j++) ranks[k[j].index] = r;
        start = end;
    }
    free(k);
    return 0;
}

double at_srcc(const double *y, const double *yhat, int64_t n) {
    if (n <= 1 || is_constant(y, n) || is_constant(yhat, n) || any_nan(y, n) || any_nan(yhat, n)) return NAN;
    double *w = alloc_doubles(n, 3);
    if (!w) return NAN;
    double *rx = w, *ry = w + n, *t = w + 2 * n;
    if (at_rank_average(y, n, rx) || at_rank_average(yhat, n, ry)) {
        free(w);
        return NAN;
    }
    /* np.corrcoef: the covariance over (n - 1), divided by both deviations. */
    double mx = pairwise_sum(rx, n) / (double)n, my = pairwise_sum(ry, n) / (double)n;
    for (int64_t i = 0; i < n; i++) {
        rx[i] -= mx;
        ry[i] -= my;
    }
    double fact = (double)(n - 1);
    for (int64_t i = 0; i < n; i++) t[i] = rx[i] * ry[i];
    double cxy = pairwise_sum(t, n) / fact;
    for (int64_t i = 0; i < n; i++) t[i] = rx[i] * rx[i];
    double cxx = pairwise_sum(t, n) / fact;
    for (int64_t i = 0; i < n; i++) t[i] = ry[i] * ry[i];
    double cyy = pairwise_sum(t, n) / fact;
    free(w);
    return clamp1(cxy / sqrt(cxx) / sqrt(cyy));
}

/* ---- Kendall's tau-b ---- */

/* Pairs i < j with b[i] > b[j], counted by merge sort (b is sorted on the way). */
static int64_t count_inversions(double *b, double *tmp, int64_t n) {
    if (n < 2) return 0;
    int64_t h = n / 2, inv = count_inversions(b, tmp, h) + count_inversions(b + h, tmp, n - h);
    int64_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        if (b[j] < b[i]) {
            inv += h - i;   /* b[j] is smaller than every remaining left element */
            tmp[k++] = b[j++];
        } else {
            tmp[k++] = b[i++];
        }
    }
    while (i < h) tmp[k++] = b[i++];
    while (j < n) tmp[k++] = b[j++];
    for (k = 0; k < n; k++) b[k] = tmp[k];
    return inv;
}

/* Pairs tied within runs of equal values: sum of c (c - 1) / 2. */
static int64_t tied_pairs(const keyed *k, int64_t n, bool both) {
    int64_t ties = 0;
    for (int64_t start = 0; start < n;) {
        int64_t end = start + 1;
        while (end < n && k[end].key == k[start].key && (!both || k[end].key2 == k[start].key2)) end++;
        int64_t c = end - start;
        ties += c * (c - 1) / 2;
        start = end;
    }
    return ties;
}

double at_krcc(const double *y, const double *yhat, int64_t n) {
    if (n < 1 || any_nan(y, n) || any_nan(yhat, n)) return NAN;
    keyed *k = malloc((size_t)n * sizeof *k);
    double *b = alloc_doubles(n, 2);
    if (!k || !b) {
        free(k);
        free(b);
        if (!k) at_set_error("krcc: out of memory for %lld values", (long long)n);
        return NAN;
    }
    /* Sorted by (yhat, y): the y ties come out of the sort by y alone. */
    for (int64_t i = 0; i < n; i++) k[i] = (keyed){yhat[i], y[i], i};
    qsort(k, (size_t)n, sizeof *k, cmp_keyed);
    int64_t ytie = tied_pairs(k, n, false);
    for (int64_t i = 0; i < n; i++) k[i] = (keyed){y[i], yhat[i], i};
    qsort(k, (size_t)n, sizeof *k, cmp_keyed);
    int64_t xtie = tied_pairs(k, n, false), ntie = tied_pairs(k, n, true);
    for (int64_t i = 0; i < n; i++) b[i] = k[i].key2;
    int64_t dis = count_inversions(b, b + n, n);
    free(k);
    free(b);
    int64_t tot = n * (n - 1) / 2;
    if (xtie == tot || ytie == tot) return NAN;
    int64_t con_minus_dis = tot - xtie - ytie + ntie - 2 * dis;
    double tau = (double)con_minus_dis / sqrt((double)(tot - xtie)) / sqrt((double)(tot - ytie));
    return fmin(1.0, fmax(-1.0, tau));
}

at_metrics at_metrics_all(const double *y, const double *yhat, int64_t n) {
    return (at_metrics){.n = n, .plcc = at_plcc(y, yhat, n), .srcc = at_srcc(y, yhat, n),
                        .krcc = at_krcc(y, yhat, n), .rmse = at_rmse(y, yhat, n)};
}
