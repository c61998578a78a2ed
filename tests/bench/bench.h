/* Shared pieces of the CPU benchmark (aapmt_bench): timing, reporting and the
 * settings every section reads.
 *
 * Every figure is printed as one line,
 *     <name>  median <ms> ms  min <ms> ms  <rate> GFLOP/s
 * in the same format as tests/bench/torch_bench.py prints the same work, so
 * tests/bench/run.sh can join the two by name. Shared machines are noisy:
 * the median is the figure to quote, the min shows the noise floor. */
#ifndef AAPMT_BENCH_H
#define AAPMT_BENCH_H

#include <stdbool.h>

#include "tensor.h"

typedef struct bench_config {
    int threads;
    int warmup;     /* untimed repetitions before the timed ones */
    int reps;       /* timed repetitions (GEMM uses 2 * reps: it is cheap) */
    int batches[8]; /* block batch sizes */
    int n_batches;
    bool gemm, block, ops;
} bench_config;

double bench_now_ms(void);
/* Sorts times (n entries) and prints the line above; gflop is the work of one
 * repetition (0 prints no rate). Returns the median. */
double bench_report(const char *name, double *times, int n, double gflop);

/* A benchmark is a program, not a library: any failure ends it, naming what
 * failed and at_last_error(). */
void *bench_check(void *p, const char *what);
void bench_check_rc(int rc, const char *what);

/* A new f32 tensor of normal values times scale, optionally a grad leaf. */
at_tensor *bench_randn(int ndim, const int64_t *shape, double scale, bool requires_grad);

void bench_gemm(const bench_config *cfg);
void bench_block(const bench_config *cfg, int batch);
void bench_ops(const bench_config *cfg);

#endif
