/* sgemm through at_matmul: a square reference size and the shapes of the ViT
 * block's Linear layers (197 tokens, width 1024, MLP 4096; 1576 = 8 images). */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>

#include "ops.h"

typedef struct { int64_t m, k, n; } gemm_shape;

static const gemm_shape gemm_shapes[] = {
    {1024, 1024, 1024},
    {197, 1024, 3072},   /* qkv */
    {197, 1024, 4096},   /* fc1 */
    {197, 4096, 1024},   /* fc2 */
    {1576, 1024, 4096},  /* fc1, batch 8 */
};

static void bench_one_gemm(const bench_config *cfg, gemm_shape s) {
    int64_t ashape[2] = {s.m, s.k}, bshape[2] = {s.k, s.n};
    at_tensor *a = bench_randn(2, ashape, 1.0, false);
    at_tensor *b = bench_randn(2, bshape, 1.0, false);
    int reps = 2 * cfg->reps;
    double *times = malloc(sizeof *times * (size_t)reps);
    for (int i = -cfg->warmup; i < reps; i++) {
        double t0 = bench_now_ms();
        at_tensor *c = bench_check(at_matmul(a, b), "gemm: matmul");
        double t1 = bench_now_ms();
        at_release(c);
        if (i >= 0) times[i] = t1 - t0;
    }
    char name[64];
    snprintf(name, sizeof name, "gemm_%lldx%lldx%lld", (long long)s.m, (long long)s.k, (long long)s.n);
    bench_report(name, times, reps, 2.0 * s.m * s.k * s.n * 1e-9);
    free(times);
    at_release(a);
    at_release(b);
}

void bench_gemm(const bench_config *cfg) {
    for (size_t i = 0; i < sizeof gemm_shapes / sizeof gemm_shapes[0]; i++)
        bench_one_gemm(cfg, gemm_shapes[i]);
}
