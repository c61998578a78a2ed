/* The cluster bootstrap (core/train/bootstrap.h): resamples keep whole
 * groups and follow the documented Philox stream, results are the same for
 * the same seed and for 1 or 2 threads, intervals hold the point value,
 * a model paired with itself gives exactly zero, NaN resamples are counted
 * out, and bad arguments are refused with a message. The percentiles
 * themselves are recomputed independently in tests/lua/test_bootstrap.lua. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "parallel.h"
#include "rng.h"
#include "train/bootstrap.h"
#include "train/metrics.h"

enum { ROWS = 200, GROUPS = 70 };

/* ROWS rows in GROUPS groups of 1 to 5 rows, interleaved (a group's rows are
 * not next to each other) and with ids far from 0..G-1, so the order of
 * first appearance matters; scores correlated with y through a group effect
 * and row noise. */
typedef struct data {
    double y[ROWS], yhat[ROWS], yhat_b[ROWS];
    int64_t group[ROWS];
} data;

static int64_t group_id(int g) { return 1000 - 37 * (int64_t)g; }

static void make_data(data *d) {
    for (int i = 0; i < ROWS; i++) {
        int g = (i * 7 + i / 3) % GROUPS;
        d->group[i] = group_id(g);
        double effect = at_normal_at(11, (uint64_t)g);
        d->y[i] = effect + 0.5 * at_normal_at(12, (uint64_t)i);
        d->yhat[i] = d->y[i] + 0.6 * at_normal_at(13, (uint64_t)i);
        d->yhat_b[i] = d->y[i] + 0.9 * at_normal_at(14, (uint64_t)i);
    }
}

/* The distinct ids in order of first appearance; returns their count. */
static int64_t first_appearance(const int64_t *group, int64_t n, int64_t *ids) {
    int64_t count = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t c = 0;
        while (c < count && ids[c] != group[i]) c++;
        if (c == count) ids[count++] = group[i];
    }
    return count;
}

/* Resample k, read back as blocks: block j must be all rows of cluster
 * floor(G u_j) (u_j the documented uniform), ascending; every row then
 * appears as often as its group was drawn. */
static void check_sample(const data *d, uint64_t seed, int64_t k) {
    int64_t ids[ROWS], drawn[ROWS] = {0}, seen[ROWS] = {0}, size;
    int64_t count = first_appearance(d->group, ROWS, ids);
    int64_t *rows = at_bootstrap_sample(d->group, ROWS, seed, k, &size);
    CHECK(rows != NULL, "sample: %s", at_last_error());
    if (!rows) return;
    int64_t at = 0;
    bool blocks_ok = true;
    for (int64_t j = 0; j < count && blocks_ok; j++) {
        int64_t g = (int64_t)(count * at_uniform_at(seed, (uint64_t)k * (uint64_t)count + (uint64_t)j));
        drawn[g]++;
        for (int64_t i = 0; i < ROWS; i++)
            if (d->group[i] == ids[g]) blocks_ok &= at < size && rows[at++] == i;
    }
    CHECK(blocks_ok && at == size, "resample %lld is not the documented clusters, whole and in order", (long long)k);
    for (int64_t i = 0; i < size; i++) seen[rows[i]]++;
    bool counts_ok = true;
    for (int64_t i = 0; i < ROWS; i++) {
        int64_t g = 0;
        while (ids[g] != d->group[i]) g++;
        counts_ok &= seen[i] == drawn[g];
    }
    CHECK(counts_ok, "resample %lld: a row appears other than as often as its group was drawn", (long long)k);
    free(rows);
}

static bool same_interval(const at_bootstrap_interval *a, const at_bootstrap_interval *b) {
    return memcmp(&a->value, &b->value, sizeof a->value) == 0 && memcmp(&a->low, &b->low, sizeof a->low) == 0 &&
           memcmp(&a->high, &b->high, sizeof a->high) == 0 && memcmp(&a->sd, &b->sd, sizeof a->sd) == 0 &&
           a->valid == b->valid;
}

static bool same_result(const at_bootstrap_result *a, const at_bootstrap_result *b) {
    return same_interval(&a->srcc, &b->srcc) && same_interval(&a->plcc, &b->plcc) &&
           same_interval(&a->krcc, &b->krcc) && a->groups == b->groups;
}

static void test_determinism(const data *d) {
    int threads = at_get_num_threads();
    at_bootstrap_result r[4];
    for (int run = 0; run < 2; run++) {
        at_set_num_threads(run + 1);
        CHECK(at_bootstrap_ci(d->y, d->yhat, NULL, d->group, ROWS, 300, 7, 0.95, &r[run]) == 0, "%s",
              at_last_error());
        CHECK(at_bootstrap_ci(d->y, d->yhat, d->yhat_b, d->group, ROWS, 300, 7, 0.95, &r[run + 2]) == 0, "%s",
              at_last_error());
    }
    at_set_num_threads(threads);
    CHECK(same_result(&r[0], &r[1]), "unpaired: 1 and 2 threads differ");
    CHECK(same_result(&r[2], &r[3]), "paired: 1 and 2 threads differ");
    at_bootstrap_result again, other;
    at_bootstrap_ci(d->y, d->yhat, NULL, d->group, ROWS, 300, 7, 0.95, &again);
    at_bootstrap_ci(d->y, d->yhat, NULL, d->group, ROWS, 300, 8, 0.95, &other);
    CHECK(same_result(&r[0], &again), "the same seed gives other bounds");
    CHECK(other.srcc.low != r[0].srcc.low && other.plcc.high != r[0].plcc.high, "another seed, the same bounds");
    CHECK(r[0].groups == GROUPS && r[0].n == ROWS && r[0].resamples == 300 && r[0].seed == 7 && !r[0].paired &&
              r[2].paired,
          "result fields: groups %lld, n %lld", (long long)r[0].groups, (long long)r[0].n);
}

static void check_ordinary(const at_bootstrap_interval *b, double point, const char *what) {
    CHECK(b->value == point, "%s: value %.17g, the metric on all rows %.17g", what, b->value, point);
    CHECK(b->valid == 1000, "%s: %lld of 1000 resamples finite", what, (long long)b->valid);
    CHECK(b->low < b->value && b->value < b->high, "%s: %g not inside [%g, %g]", what, b->value, b->low, b->high);
    CHECK(b->sd > 0 && b->sd < b->high - b->low, "%s: sd %g against width %g", what, b->sd, b->high - b->low);
}

static void test_intervals(const data *d) {
    at_bootstrap_result r, self;
    CHECK(at_bootstrap_ci(d->y, d->yhat, NULL, d->group, ROWS, 1000, AT_BOOTSTRAP_DEFAULT_SEED, 0.95, &r) == 0, "%s",
          at_last_error());
    check_ordinary(&r.srcc, at_srcc(d->y, d->yhat, ROWS), "srcc");
    check_ordinary(&r.plcc, at_plcc(d->y, d->yhat, ROWS), "plcc");
    check_ordinary(&r.krcc, at_krcc(d->y, d->yhat, ROWS), "krcc");
    at_bootstrap_result narrow;
    at_bootstrap_ci(d->y, d->yhat, NULL, d->group, ROWS, 1000, AT_BOOTSTRAP_DEFAULT_SEED, 0.5, &narrow);
    CHECK(narrow.plcc.low > r.plcc.low && narrow.plcc.high < r.plcc.high && narrow.plcc.sd == r.plcc.sd,
          "a 50%% interval inside the 95%% one, the same resamples");

    CHECK(at_bootstrap_ci(d->y, d->yhat, d->yhat, d->group, ROWS, 200, 3, 0.95, &self) == 0, "%s", at_last_error());
    const at_bootstrap_interval *f[3] = {&self.srcc, &self.plcc, &self.krcc};
    for (int i = 0; i < 3; i++)
        CHECK(f[i]->value == 0 && f[i]->low == 0 && f[i]->high == 0 && f[i]->sd == 0 && f[i]->valid == 200,
              "paired with itself, metric %d: %g [%g, %g] sd %g", i, f[i]->value, f[i]->low, f[i]->high, f[i]->sd);
}

/* Two groups whose predictions are constant within each: a resample that
 * draws one group twice has constant predictions, so every metric is NaN
 * there and is counted out. */
static void test_nan_resamples(void) {
    double y[6] = {1, 2, 3, 4, 5, 7}, yhat[6] = {1, 1, 1, 2, 2, 2};
    int64_t group[6] = {5, 5, 5, -2, -2, -2};
    enum { R = 400 };
    at_bootstrap_result r;
    CHECK(at_bootstrap_ci(y, yhat, NULL, group, 6, R, 21, 0.9, &r) == 0, "%s", at_last_error());
    int64_t mixed = 0;
    for (int64_t k = 0; k < R; k++) {
        int64_t a = (int64_t)(2 * at_uniform_at(21, 2 * (uint64_t)k)), b = (int64_t)(2 * at_uniform_at(21, 2 * (uint64_t)k + 1));
        mixed += a != b;
    }
    CHECK(mixed > R / 4 && mixed < 3 * R / 4, "%lld mixed resamples of %d", (long long)mixed, R);
    CHECK(r.srcc.valid == mixed && r.plcc.valid == mixed && r.krcc.valid == mixed,
          "valid %lld/%lld/%lld, mixed resamples %lld", (long long)r.srcc.valid, (long long)r.plcc.valid,
          (long long)r.krcc.valid, (long long)mixed);
    /* Every mixed resample is the whole data set (both groups once, in
     * either order, which can move the last bits of a sum). */
    CHECK(fabs(r.plcc.low - r.plcc.value) < 1e-14 && fabs(r.plcc.high - r.plcc.value) < 1e-14 && r.plcc.sd < 1e-14,
          "plcc %.17g [%.17g, %.17g] sd %g", r.plcc.value, r.plcc.low, r.plcc.high, r.plcc.sd);
}

static void check_error(int rc, const char *fragment, const char *what) {
    CHECK(rc == -1 && strstr(at_last_error(), fragment), "%s: rc %d, message '%s' lacks '%s'", what, rc,
          at_last_error(), fragment);
}

static void test_errors(const data *d) {
    at_bootstrap_result r;
    check_error(at_bootstrap_ci(d->y, d->yhat, NULL, d->group, 1, 10, 1, 0.95, &r), "bootstrap: needs at least 2 rows, got 1", "one row");
    int64_t one[4] = {3, 3, 3, 3};
    check_error(at_bootstrap_ci(d->y, d->yhat, NULL, one, 4, 10, 1, 0.95, &r), "one group", "one group");
    check_error(at_bootstrap_ci(d->y, d->yhat, NULL, d->group, ROWS, 0, 1, 0.95, &r), "needs at least 1 resample, got 0", "no resamples");
    check_error(at_bootstrap_ci(d->y, d->yhat, NULL, d->group, ROWS, 10, 1, 1.0, &r), "level 1 is not in (0, 1)",
                "level 1");
    check_error(at_bootstrap_ci(d->y, d->yhat, NULL, d->group, ROWS, 10, 1, 0.0, &r), "level 0", "level 0");
    check_error(at_bootstrap_ci(d->y, d->yhat, NULL, d->group, ROWS, 10, 1, NAN, &r), "level nan", "level NaN");
    double bad[ROWS];
    memcpy(bad, d->yhat, sizeof bad);
    bad[4] = NAN;
    check_error(at_bootstrap_ci(d->y, bad, NULL, d->group, ROWS, 10, 1, 0.95, &r), "yhat[5] is nan", "NaN yhat");
    bad[4] = INFINITY;
    check_error(at_bootstrap_ci(d->y, d->yhat, bad, d->group, ROWS, 10, 1, 0.95, &r), "yhat_b[5] is inf", "inf yhat_b");
    int64_t size = -1;
    CHECK(!at_bootstrap_sample(d->group, 0, 1, 0, &size) && size == 0 && strstr(at_last_error(), "bootstrap_sample"),
          "empty sample: %s", at_last_error());
    CHECK(!at_bootstrap_sample(d->group, ROWS, 1, -1, &size) && strstr(at_last_error(), "resample -1"),
          "negative k: %s", at_last_error());
}

int main(void) {
    data d;
    make_data(&d);
    for (int64_t k = 0; k < 20; k++) check_sample(&d, 5, k);
    check_sample(&d, 5, 123456789);
    test_determinism(&d);
    test_intervals(&d);
    test_nan_resamples();
    test_errors(&d);
    return check_summary();
}
