/* Cluster bootstrap of SRCC, PLCC and KRCC (see bootstrap.h). */
#include "bootstrap.h"

#include <math.h>
#include <stdlib.h>

#include "../parallel.h"
#include "../rng.h"
#include "../tensor.h"
#include "metrics.h"

enum { METRICS = 3 };   /* srcc, plcc, krcc: the order of the result's fields */

typedef double (*metric_fn)(const double *, const double *, int64_t);
static const metric_fn metric_fns[METRICS] = {at_srcc, at_plcc, at_krcc};

/* ---- clusters ---- */

/* Cluster c (in order of first appearance) holds rows[start[c] .. start[c + 1]),
 * ascending. */
typedef struct clusters {
    int64_t count;
    int64_t *start;
    int64_t *rows;
} clusters;

typedef struct {
    int64_t key, row;
} keyed_row;

static int cmp_keyed_row(const void *pa, const void *pb) {
    const keyed_row *a = pa, *b = pb;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return (a->row > b->row) - (a->row < b->row);
}

static void clusters_free(clusters *c) {
    free(c->start);
    free(c->rows);
}

/* Sorting by (id, row) puts each group's rows together, ascending; sorting
 * the groups by their first row then gives the order of first appearance. */
static int clusters_build(const int64_t *group, int64_t n, clusters *c, const char *fname) {
    size_t count = (size_t)n;
    keyed_row *by_id = malloc(count * sizeof *by_id), *firsts = malloc(count * sizeof *firsts);
    *c = (clusters){0, malloc((count + 1) * sizeof *c->start), malloc(count * sizeof *c->rows)};
    if (!by_id || !firsts || !c->start || !c->rows) {
        free(by_id);
        free(firsts);
        clusters_free(c);
        return at_set_error("%s: out of memory for %lld rows", fname, (long long)n), -1;
    }
    for (int64_t i = 0; i < n; i++) by_id[i] = (keyed_row){group[i], i};
    qsort(by_id, count, sizeof *by_id, cmp_keyed_row);
    for (int64_t i = 0; i < n; i++)   /* key: the group's first row; row: where it begins in by_id */
        if (i == 0 || by_id[i].key != by_id[i - 1].key) firsts[c->count++] = (keyed_row){by_id[i].row, i};
    qsort(firsts, (size_t)c->count, sizeof *firsts, cmp_keyed_row);
    int64_t at = 0;
    for (int64_t g = 0; g < c->count; g++) {
        c->start[g] = at;
        int64_t begin = firsts[g].row;
        for (int64_t i = begin; i < n && by_id[i].key == by_id[begin].key; i++) c->rows[at++] = by_id[i].row;
    }
    c->start[c->count] = at;
    free(by_id);
    free(firsts);
    return 0;
}

static int64_t cluster_size(const clusters *c, int64_t g) { return c->start[g + 1] - c->start[g]; }

/* ---- resamples ---- */

/* Draw j of resample k: one uniform of one counter stream, G per resample. */
static int64_t draw_cluster(uint64_t seed, int64_t k, int64_t j, int64_t count) {
    double u = at_uniform_at(seed, (uint64_t)k * (uint64_t)count + (uint64_t)j);
    int64_t g = (int64_t)(u * (double)count);
    return g < count ? g : count - 1;   /* u * count can round up to count only above 2^53 groups */
}

/* The clusters of resample k into draws (G of them); returns its row count. */
static int64_t draw_resample(const clusters *c, uint64_t seed, int64_t k, int64_t *draws) {
    int64_t size = 0;
    for (int64_t j = 0; j < c->count; j++) {
        draws[j] = draw_cluster(seed, k, j, c->count);
        size += cluster_size(c, draws[j]);
    }
    return size;
}

int64_t *at_bootstrap_sample(const int64_t *group, int64_t n, uint64_t seed, int64_t k, int64_t *n_out) {
    const char *fname = "bootstrap_sample";
    *n_out = 0;
    if (n < 1) return at_set_error("%s: needs at least 1 row, got %lld", fname, (long long)n), NULL;
    if (k < 0) return at_set_error("%s: resample %lld is negative (they count from 0)", fname, (long long)k), NULL;
    clusters c;
    if (clusters_build(group, n, &c, fname)) return NULL;
    int64_t *draws = malloc((size_t)c.count * sizeof *draws), *rows = NULL;
    int64_t size = draws ? draw_resample(&c, seed, k, draws) : 0;
    if (draws) rows = malloc((size_t)size * sizeof *rows);
    if (rows) {
        int64_t at = 0;
        for (int64_t j = 0; j < c.count; j++)
            for (int64_t i = c.start[draws[j]]; i < c.start[draws[j] + 1]; i++) rows[at++] = c.rows[i];
        *n_out = size;
    } else {
        at_set_error("%s: out of memory for a resample of %lld rows", fname, (long long)size);
    }
    free(draws);
    clusters_free(&c);
    return rows;
}

/* What one thread needs for a resample: its draws, and the resampled values
 * of y, yhat and yhat_b, grown when a resample is larger than any before. */
typedef struct workspace {
    int64_t *draws;
    double *values[3];
    int64_t capacity;
} workspace;

static void workspace_free(workspace *w) {
    free(w->draws);
    for (int i = 0; i < 3; i++) free(w->values[i]);
}

static bool workspace_fit(workspace *w, int64_t size) {
    if (size <= w->capacity) return true;
    for (int i = 0; i < 3; i++) {
        double *p = realloc(w->values[i], (size_t)size * sizeof *p);
        if (!p) return false;
        w->values[i] = p;
    }
    w->capacity = size;
    return true;
}

/* The data, and where each resample's metrics go. */
typedef struct problem {
    const clusters *c;
    const double *y, *yhat, *yhat_b;   /* yhat_b NULL: unpaired */
    uint64_t seed;
    int resamples;
    double *values;   /* metric i of resample k at values[i * resamples + k] */
} problem;

/* The metrics of yhat against y, minus those of yhat_b when paired. */
static void score(const double *y, const double *yhat, const double *yhat_b, int64_t m, double out[METRICS]) {
    for (int i = 0; i < METRICS; i++) {
        out[i] = metric_fns[i](y, yhat, m);
        if (yhat_b) out[i] -= metric_fns[i](y, yhat_b, m);
    }
}

static bool run_resample(const problem *p, int64_t k, workspace *w) {
    const clusters *c = p->c;
    int64_t size = draw_resample(c, p->seed, k, w->draws);
    if (!workspace_fit(w, size)) return false;
    double *y = w->values[0], *yhat = w->values[1], *yhat_b = p->yhat_b ? w->values[2] : NULL;
    int64_t at = 0;
    for (int64_t j = 0; j < c->count; j++)
        for (int64_t i = c->start[w->draws[j]]; i < c->start[w->draws[j] + 1]; i++, at++) {
            int64_t row = c->rows[i];
            y[at] = p->y[row];
            yhat[at] = p->yhat[row];
            if (yhat_b) yhat_b[at] = p->yhat_b[row];
        }
    double out[METRICS];
    score(y, yhat, yhat_b, size, out);
    for (int i = 0; i < METRICS; i++) p->values[(int64_t)i * p->resamples + k] = out[i];
    return true;
}

/* A resample costs a few sorts of its rows: below a few thousand rows in
 * all, waking the threads costs more. */
static bool worth_threads(const problem *p) {
    return p->resamples > 1 && (int64_t)p->resamples * p->c->start[p->c->count] >= AT_PARALLEL_MIN / 8;
}

/* Every resample, each thread with its own workspace. A failed allocation
 * is reported after the loop, from the calling thread, whose error buffer
 * the caller reads. */
static int run_resamples(const problem *p) {
    int failed = 0;
    #pragma omp parallel if (worth_threads(p))
    {
        workspace w = {malloc((size_t)p->c->count * sizeof *w.draws), {NULL, NULL, NULL}, 0};
        bool ok = w.draws != NULL;
        /* Resample sizes vary, so dynamic; each value has its own slot, so the
         * schedule cannot change a result. */
        #pragma omp for schedule(dynamic, 4)
        for (int k = 0; k < p->resamples; k++)
            if (ok) ok = run_resample(p, k, &w);
        if (!ok) {
            #pragma omp atomic write
            failed = 1;
        }
        workspace_free(&w);
    }
    return failed ? -1 : 0;
}

/* ---- summaries ---- */

static int cmp_double(const void *pa, const void *pb) {
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* np.quantile(v, q) of sorted v (m >= 1) with method "linear": position
 * (m - 1) q, and numpy's _lerp, which for t >= 0.5 interpolates back from
 * the upper neighbour (so the bounds carry numpy's bits). */
static double quantile_linear(const double *v, int64_t m, double q) {
    double h = (double)(m - 1) * q, below = floor(h);
    if (h >= (double)(m - 1)) return v[m - 1];
    int64_t i = (int64_t)below;
    double t = h - below, d = v[i + 1] - v[i];
    return t >= 0.5 ? v[i + 1] - d * (1 - t) : v[i] + d * t;
}

/* Bounds, SD and count of the finite values among count, sorted into scratch. */
static void summarise(const double *values, int count, double level, double *scratch, at_bootstrap_interval *out) {
    int64_t m = 0;
    double sum = 0;
    for (int k = 0; k < count; k++)
        if (isfinite(values[k])) {
            scratch[m++] = values[k];
            sum += values[k];
        }
    double mean = sum / (double)m, squares = 0;
    for (int64_t i = 0; i < m; i++) squares += (scratch[i] - mean) * (scratch[i] - mean);
    qsort(scratch, (size_t)m, sizeof *scratch, cmp_double);
    out->valid = m;
    out->sd = m >= 2 ? sqrt(squares / (double)(m - 1)) : NAN;
    out->low = m ? quantile_linear(scratch, m, (1 - level) / 2) : NAN;
    out->high = m ? quantile_linear(scratch, m, (1 + level) / 2) : NAN;
}

/* ---- the interval ---- */

static int check_finite(const double *v, int64_t n, const char *what) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return at_set_error("bootstrap: %s[%lld] is %g: the metrics need finite values", what, (long long)i + 1,
                                v[i]),
                   -1;
    return 0;
}

static int check_arguments(const double *y, const double *yhat, const double *yhat_b, int64_t n, int resamples,
                           double level) {
    if (n < 2) return at_set_error("bootstrap: needs at least 2 rows, got %lld", (long long)n), -1;
    if (resamples < 1) return at_set_error("bootstrap: needs at least 1 resample, got %d", resamples), -1;
    if (!(level > 0 && level < 1)) return at_set_error("bootstrap: level %g is not in (0, 1)", level), -1;
    if (check_finite(y, n, "y") || check_finite(yhat, n, "yhat")) return -1;
    return yhat_b ? check_finite(yhat_b, n, "yhat_b") : 0;
}

int at_bootstrap_ci(const double *y, const double *yhat, const double *yhat_b, const int64_t *group, int64_t n,
                    int resamples, uint64_t seed, double level, at_bootstrap_result *out) {
    *out = (at_bootstrap_result){.n = n, .resamples = resamples, .level = level, .seed = seed, .paired = yhat_b != NULL};
    if (check_arguments(y, yhat, yhat_b, n, resamples, level)) return -1;
    clusters c;
    if (clusters_build(group, n, &c, "bootstrap")) return -1;
    out->groups = c.count;
    if (c.count < 2) {
        clusters_free(&c);
        return at_set_error("bootstrap: all %lld rows are one group; resampling groups needs at least 2",
                            (long long)n),
               -1;
    }
    /* One block: every resample's values, then the scratch to sort them in. */
    double *values = malloc((size_t)resamples * (METRICS + 1) * sizeof *values);
    problem p = {&c, y, yhat, yhat_b, seed, resamples, values};
    if (!values || run_resamples(&p)) {
        free(values);
        clusters_free(&c);
        return at_set_error("bootstrap: out of memory for %d resamples of %lld rows", resamples, (long long)n), -1;
    }
    double full[METRICS];
    score(y, yhat, yhat_b, n, full);
    at_bootstrap_interval *fields[METRICS] = {&out->srcc, &out->plcc, &out->krcc};
    for (int i = 0; i < METRICS; i++) {
        summarise(values + (int64_t)i * resamples, resamples, level, values + (int64_t)METRICS * resamples, fields[i]);
        fields[i]->value = full[i];
    }
    free(values);
    clusters_free(&c);
    return 0;
}
