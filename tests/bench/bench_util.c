#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "autograd.h"
#include "ops.h"
#include "rng.h"

double bench_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_report(const char *name, double *times, int n, double gflop) {
    qsort(times, (size_t)n, sizeof *times, compare_doubles);
    double median = n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
    double rate = gflop > 0 && median > 0 ? gflop / (median * 1e-3) : 0;
    printf("%-24s median %10.3f ms  min %10.3f ms  %8.1f GFLOP/s\n", name, median, times[0], rate);
    fflush(stdout);
    return median;
}

void *bench_check(void *p, const char *what) {
    if (!p) {
        fprintf(stderr, "aapmt_bench: %s failed: %s\n", what, at_last_error());
        exit(1);
    }
    return p;
}

void bench_check_rc(int rc, const char *what) {
    if (rc != 0) {
        fprintf(stderr, "aapmt_bench: %s failed: %s\n", what, at_last_error());
        exit(1);
    }
}

at_tensor *bench_randn(int ndim, const int64_t *shape, double scale, bool requires_grad) {
    /* One stream for every tensor: the values do not matter for timing, only
     * that they are ordinary floats (no denormals, no NaN). */
    static at_rng rng = {1234, 0};
    at_tensor *r = bench_check(at_randn(&rng, AT_F32, ndim, shape), "randn");
    at_tensor *t = bench_check(at_scale(r, scale), "scale");
    at_release(r);
    if (requires_grad) bench_check_rc(at_set_requires_grad(t, true), "set_requires_grad");
    return t;
}
