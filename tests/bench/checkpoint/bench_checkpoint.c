/* Times at_load_checkpoint on one file, median of several runs, in two ways:
 *   open:  load, then look up every key and read its first element (what a
 *          model does before its first forward: the bytes stay in the file
 *          until a matmul touches them);
 *   pages: load, then read one byte of every 4 KiB page of every tensor,
 *          so that all the weights have been brought in, as torch.load does.
 * Each run ends with freeing the dict (the unmap is counted).
 *
 *   aapmt_bench_checkpoint FILE [RUNS]
 * prints "open <median s>" and "pages <median s>" lines and the key count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/state_dict.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static volatile double sink;

/* One run; returns seconds, or -1 on error. */
static double run(const char *path, bool every_page, int *keys) {
    double t0 = now();
    at_state_dict *sd = at_load_checkpoint(path);
    if (!sd) {
        fprintf(stderr, "aapmt_bench_checkpoint: %s\n", at_last_error());
        return -1;
    }
    double acc = 0;
    for (int i = 0; i < sd->count; i++) {
        at_tensor *t = at_sd_get(sd, sd->entries[i].name);
        if (at_numel(t) == 0) continue;
        acc += at_get_linear(t, 0);
        if (every_page) {
            const unsigned char *p = at_data(t);
            size_t n = (size_t)at_numel(t) * at_dtype_size(t->dtype);
            unsigned char x = 0;
            for (size_t b = 0; b < n; b += 4096) x ^= p[b];
            acc += x;
        }
    }
    sink = acc;
    *keys = sd->count;
    at_sd_free(sd);
    return now() - t0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: aapmt_bench_checkpoint FILE [RUNS]\n");
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    if (runs < 1 || runs > 100) runs = 5;
    double *times = malloc((size_t)runs * sizeof *times);
    int keys = 0;
    for (int mode = 0; mode < 2; mode++) {
        for (int r = 0; r < runs; r++)
            if ((times[r] = run(argv[1], mode == 1, &keys)) < 0) return 1;
        qsort(times, (size_t)runs, sizeof *times, cmp_double);
        printf("%s %.6f\n", mode ? "pages" : "open", times[runs / 2]);
    }
    printf("keys %d\n", keys);
    free(times);
    return 0;
}
