/* PLCC, SRCC, KRCC and RMSE as scipy computes them (see metrics.h).
 *
 * Sums use numpy's pairwise summation, so means come out with numpy's bits;
 * the BLAS norm and dot product scipy calls sum in another order, which moves
 * the last bit or two (the tests allow 1e-12). */
#include "metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- PLCC after the 5-parameter logistic ---- */

enum { NP = 5, LM_MAX_ITER = 1000 };

double at_logistic5(const double b[NP], double x) {
    /* 0.5 - 1 / (1 + e^u) == tanh(u / 2) / 2, which cannot overflow. */
    return 0.5 * b[0] * tanh(0.5 * b[1] * (x - b[2])) + b[3] * x + b[4];
}

/* The same function of standardised z with parameters c, and its gradient in c. */
static double logistic_std(const double c[NP], double z, double grad[NP]) {
    double t = tanh(0.5 * c[1] * (z - c[2]));
    if (grad) {
        double s = 0.25 * c[0] * (1.0 - t * t);
        grad[0] = 0.5 * t;
        grad[1] = s * (z - c[2]);
        grad[2] = -s * c[1];
        grad[3] = z;
        grad[4] = 1.0;
    }
    return 0.5 * c[0] * t + c[3] * z + c[4];
}

/* m x = b for a symmetric positive definite m (Cholesky); false when m is
 * not positive definite in double. */
static bool solve_spd(const double m[NP][NP], const double b[NP], double x[NP]) {
    double l[NP][NP] = {{0}};
    for (int j = 0; j < NP; j++) {
        double d = m[j][j];
        for (int k = 0; k < j; k++) d -= l[j][k] * l[j][k];
        if (!(d > 0)) return false;
        l[j][j] = sqrt(d);
        for (int i = j + 1; i < NP; i++) {
            double v = m[i][j];
            for (int k = 0; k < j; k++) v -= l[i][k] * l[j][k];
            l[i][j] = v / l[j][j];
        }
    }
    double u[NP];
    for (int i = 0; i < NP; i++) {
        double v = b[i];
        for (int k = 0; k < i; k++) v -= l[i][k] * u[k];
        u[i] = v / l[i][i];
    }
    bool finite = true;
    for (int i = NP - 1; i >= 0; i--) {
        double v = u[i];
        for (int k = i + 1; k < NP; k++) v -= l[k][i] * x[k];
        x[i] = v / l[i][i];
        finite &= isfinite(x[i]) != 0;
    }
    return finite;
}

/* The sum of squares of the logistic in standardised units at c and, when a
 * is not NULL, J'J into a and J'r into g. */
static double eval_full(const double c[NP], const double *z, const double *w, int64_t n, double a[NP][NP],
                        double g[NP]) {
    double s = 0, grad[NP];
    for (int64_t i = 0; i < n; i++) {
        double r = logistic_std(c, z[i], a ? grad : NULL) - w[i];
        s += r * r;
        if (!a) continue;
        for (int j = 0; j < NP; j++) {
            g[j] += grad[j] * r;
            for (int k = 0; k <= j; k++) a[j][k] += grad[j] * grad[k];
        }
    }
    if (a)
        for (int j = 0; j < NP; j++)
            for (int k = j + 1; k < NP; k++) a[j][k] = a[k][j];
    return s;
}

/* Levenberg-Marquardt from c. The damping is relative to the largest
 * diagonal of J'J seen so far per parameter (MINPACK's scaling), so it does
 * not depend on how each parameter is scaled; lambda moves by Nielsen's rule. */
static double lm_fit(double c[NP], const double *z, const double *w, int64_t n, at_logistic_fit *fit) {
    double lambda = 1e-3, nu = 2, sse = eval_full(c, z, w, n, NULL, NULL), dscale[NP] = {0};
    fit->converged = 0;
    for (int it = 0; it < LM_MAX_ITER; it++) {
        double a[NP][NP] = {{0}}, g[NP] = {0};
        eval_full(c, z, w, n, a, g);
        fit->iterations++;
        bool flat = true;
        for (int j = 0; j < NP; j++) {
            dscale[j] = fmax(dscale[j], a[j][j]);
            flat &= g[j] == 0;
        }
        if (flat) goto done;
        for (;;) {
            double m[NP][NP], neg_g[NP], delta[NP], trial[NP];
            memcpy(m, a, sizeof m);
            for (int j = 0; j < NP; j++) {
                m[j][j] += lambda * (dscale[j] > 0 ? dscale[j] : 1.0);
                neg_g[j] = -g[j];
            }
            bool solved = solve_spd(m, neg_g, delta);
            double sse_new = INFINITY;
            if (solved) {
                for (int j = 0; j < NP; j++) trial[j] = c[j] + delta[j];
                sse_new = eval_full(trial, z, w, n, NULL, NULL);
            }
            if (sse_new < sse) {
                /* Gain ratio: actual reduction over the linear model's. */
                double dg = 0, dad = 0, step = 0, size = 0;
                for (int j = 0; j < NP; j++) {
                    double ad = 0;
                    for (int k = 0; k < NP; k++) ad += a[j][k] * delta[k];
                    dg += delta[j] * g[j];
                    dad += delta[j] * ad;
                    step = fmax(step, fabs(delta[j]));
                    size = fmax(size, fabs(c[j]));
                }
                double predicted = -(2 * dg + dad), rho = predicted > 0 ? (sse - sse_new) / predicted : 1;
                bool small = sse - sse_new <= 1e-15 * sse || step <= 1e-12 * size;
                memcpy(c, trial, sizeof trial);
                sse = sse_new;
                double r3 = 2 * rho - 1;
                lambda *= fmax(1.0 / 3, 1 - r3 * r3 * r3);
                nu = 2;
                if (small) goto done;
                break;
            }
            /* No step this damped lowers the sum: at 1e16 the step is below
             * the rounding of the parameters, so this is the minimum. */
            lambda *= nu;
            nu *= 2;
            if (lambda > 1e16) goto done;
        }
    }
    return sse;   /* iteration limit: c is the best point found, not converged */
done:
    fit->converged = 1;
    return sse;
}

/* After at_set_error: NaN everywhere. */
static int logistic_fail(at_logistic_fit *fit) {
    fit->plcc = NAN;
    for (int j = 0; j < NP; j++) fit->params[j] = NAN;
    return -1;
}

int at_plcc_logistic(const double *y, const double *yhat, int64_t n, at_logistic_fit *fit) {
    *fit = (at_logistic_fit){.plcc = NAN, .sse = NAN};
    long long count = (long long)n;
    if (n < NP)
        return at_set_error("plcc_logistic: %lld points cannot fit 5 parameters (need 5 or more)", count),
               logistic_fail(fit);
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(y[i]))
            return at_set_error("plcc_logistic: y[%lld] (the MOS) is %g", (long long)i + 1, y[i]), logistic_fail(fit);
        if (!isfinite(yhat[i]))
            return at_set_error("plcc_logistic: yhat[%lld] (the prediction) is %g", (long long)i + 1, yhat[i]),
                   logistic_fail(fit);
    }
    if (is_constant(y, n))
        return at_set_error("plcc_logistic: all %lld values of y (the MOS) are %g: no correlation", count, y[0]),
               logistic_fail(fit);
    if (is_constant(yhat, n))
        return at_set_error("plcc_logistic: all %lld predictions are %g: no correlation", count, yhat[0]),
               logistic_fail(fit);
    double *buf = alloc_doubles(n, 3);
    if (!buf) return logistic_fail(fit);
    double *z = buf, *w = buf + n, *f = buf + 2 * n;
    double mx = pairwise_sum(yhat, n) / (double)n, my = pairwise_sum(y, n) / (double)n, ymax = y[0];
    for (int64_t i = 0; i < n; i++) {
        z[i] = (yhat[i] - mx) * (yhat[i] - mx);
        w[i] = (y[i] - my) * (y[i] - my);
        ymax = fmax(ymax, y[i]);
    }
    double sx = sqrt(pairwise_sum(z, n) / (double)n), sy = sqrt(pairwise_sum(w, n) / (double)n);
    if (!(sx > 0 && sy > 0 && isfinite(sx) && isfinite(sy))) {
        free(buf);
        return at_set_error("plcc_logistic: the spread of the %lld values is not representable in double", count),
               logistic_fail(fit);
    }
    for (int64_t i = 0; i < n; i++) {
        z[i] = (yhat[i] - mx) / sx;
        w[i] = (y[i] - my) / sy;
    }
    /* p0 = [max(y), 1 / sx, mx, 0, my] in standardised units, and its
     * mirror b1 = -max(y) (a falling logistic: f(-b1, -b2) == f(b1, b2)). */
    double c[NP] = {ymax / sy, 1, 0, 0, 0}, mirror[NP] = {-ymax / sy, 1, 0, 0, 0};
    double sse = lm_fit(c, z, w, n, fit);
    int converged = fit->converged;
    if (lm_fit(mirror, z, w, n, fit) < sse) memcpy(c, mirror, sizeof c);
    else fit->converged = converged;
    double *b = fit->params;
    b[0] = c[0] * sy;
    b[1] = c[1] / sx;
    b[2] = mx + c[2] * sx;
    b[3] = c[3] * sy / sx;
    b[4] = my + c[4] * sy - b[3] * mx;
    sse = 0;
    for (int64_t i = 0; i < n; i++) {
        f[i] = at_logistic5(b, yhat[i]);
        sse += (f[i] - y[i]) * (f[i] - y[i]);
    }
    fit->sse = sse;
    fit->plcc = at_plcc(y, f, n);
    free(buf);
    return 0;
}

at_metrics at_metrics_all(const double *y, const double *yhat, int64_t n) {
    at_logistic_fit fit;
    at_plcc_logistic(y, yhat, n, &fit);   /* NaN where it cannot be fitted */
    return (at_metrics){.n = n, .plcc = at_plcc(y, yhat, n), .srcc = at_srcc(y, yhat, n),
                        .krcc = at_krcc(y, yhat, n), .rmse = at_rmse(y, yhat, n), .plcc_logistic = fit.plcc};
}
