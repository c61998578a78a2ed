/* One pre-LN ViT block as in BLIP's vision encoder, forward and backward:
 *     x = x + proj(attention(qkv(ln1(x))))
 *     x = x + fc2(gelu(fc1(ln2(x))))
 * width 1024, 197 tokens, 16 heads of 64, MLP 4096, exact GELU, LayerNorm eps
 * 1e-6; every parameter and the input require grad; loss = sum of outputs.
 * tests/bench/torch_bench.py builds the same block in PyTorch. */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "autograd.h"
#include "ops.h"

enum { WIDTH = 1024, TOKENS = 197, HEADS = 16, HEAD_DIM = 64, MLP = 4096 };

/* The parameters, in one array so that zeroing and releasing is one loop. */
enum { LN1_W, LN1_B, QKV_W, QKV_B, PROJ_W, PROJ_B, LN2_W, LN2_B, FC1_W, FC1_B, FC2_W, FC2_B, NPARAMS };
typedef struct { at_tensor *p[NPARAMS]; } vit_block;

static at_tensor *matrix(int64_t rows, int64_t cols) {
    int64_t shape[2] = {rows, cols};
    return bench_randn(2, shape, 0.02, true);
}

static at_tensor *vector(int64_t n, double value) {
    at_tensor *t = bench_check(at_full(AT_F32, 1, &n, value), "full");
    bench_check_rc(at_set_requires_grad(t, true), "set_requires_grad");
    return t;
}

static vit_block block_new(void) {
    vit_block b;
    b.p[LN1_W] = vector(WIDTH, 1.0);
    b.p[LN1_B] = vector(WIDTH, 0.01);
    b.p[QKV_W] = matrix(3 * WIDTH, WIDTH);
    b.p[QKV_B] = vector(3 * WIDTH, 0.01);
    b.p[PROJ_W] = matrix(WIDTH, WIDTH);
    b.p[PROJ_B] = vector(WIDTH, 0.01);
    b.p[LN2_W] = vector(WIDTH, 1.0);
    b.p[LN2_B] = vector(WIDTH, 0.01);
    b.p[FC1_W] = matrix(MLP, WIDTH);
    b.p[FC1_B] = vector(MLP, 0.01);
    b.p[FC2_W] = matrix(WIDTH, MLP);
    b.p[FC2_B] = vector(WIDTH, 0.01);
    return b;
}

/* Each intermediate is released as soon as the next op holds it: the graph
 * keeps what backward needs, exactly like PyTorch's autograd. */
static at_tensor *take(at_tensor *next, at_tensor *prev, const char *what) {
    bench_check(next, what);
    at_release(prev);
    return next;
}

static at_tensor *attention_branch(vit_block *b, at_tensor *x, int64_t batch) {
    at_tensor *h = bench_check(at_layernorm(x, b->p[LN1_W], b->p[LN1_B], 1e-6), "block: ln1");
    h = take(at_linear(h, b->p[QKV_W], b->p[QKV_B]), h, "block: qkv");
    int64_t split[5] = {batch, TOKENS, 3, HEADS, HEAD_DIM};
    h = take(at_reshape(h, 5, split), h, "block: reshape qkv");
    static const int to_heads[5] = {2, 0, 3, 1, 4}; /* (3, B, H, L, 64) */
    h = take(at_permute(h, to_heads), h, "block: permute qkv");
    at_tensor *q = bench_check(at_select(h, 0, 0), "block: q");
    at_tensor *k = bench_check(at_select(h, 0, 1), "block: k");
    at_tensor *v = bench_check(at_select(h, 0, 2), "block: v");
    at_release(h);
    at_tensor *a = bench_check(at_attention(q, k, v, NULL, 1.0 / sqrt(HEAD_DIM)), "block: attention");
    at_release(q);
    at_release(k);
    at_release(v);
    a = take(at_transpose(a, 1, 2), a, "block: transpose heads");
    int64_t merged[3] = {batch, TOKENS, WIDTH};
    a = take(at_reshape(a, 3, merged), a, "block: merge heads");
    return take(at_linear(a, b->p[PROJ_W], b->p[PROJ_B]), a, "block: proj");
}

static at_tensor *mlp_branch(vit_block *b, at_tensor *x) {
    at_tensor *h = bench_check(at_layernorm(x, b->p[LN2_W], b->p[LN2_B], 1e-6), "block: ln2");
    h = take(at_linear(h, b->p[FC1_W], b->p[FC1_B]), h, "block: fc1");
    h = take(at_gelu(h), h, "block: gelu");
    return take(at_linear(h, b->p[FC2_W], b->p[FC2_B]), h, "block: fc2");
}

static at_tensor *block_forward(vit_block *b, at_tensor *x, int64_t batch) {
    at_tensor *a = attention_branch(b, x, batch);
    at_tensor *x1 = take(at_add(x, a), a, "block: residual 1");
    at_tensor *m = mlp_branch(b, x1);
    at_tensor *out = bench_check(at_add(x1, m), "block: residual 2");
    at_release(x1);
    at_release(m);
    return out;
}

/* Multiply-adds of the Linear layers and the two attention products, times 2. */
static double block_forward_gflop(int64_t batch) {
    double tokens = (double)batch * TOKENS;
    double linear = 2.0 * tokens * WIDTH * (3.0 * WIDTH + WIDTH + 2.0 * MLP);
    double attention = 2.0 * 2.0 * batch * HEADS * (double)TOKENS * TOKENS * HEAD_DIM;
    return (linear + attention) * 1e-9;
}

void bench_block(const bench_config *cfg, int batch) {
    vit_block b = block_new();
    int64_t xshape[3] = {batch, TOKENS, WIDTH};
    at_tensor *x = bench_randn(3, xshape, 1.0, true);
    size_t n = (size_t)cfg->reps;
    double *fwd = malloc(sizeof *fwd * n), *bwd = malloc(sizeof *bwd * n), *total = malloc(sizeof *total * n);
    for (int i = -cfg->warmup; i < cfg->reps; i++) {
        double t0 = bench_now_ms();
        at_tensor *out = block_forward(&b, x, batch);
        at_tensor *loss = take(at_sum_all(out), out, "block: loss");
        double t1 = bench_now_ms();
        bench_check_rc(at_backward(loss, NULL), "block: backward");
        double t2 = bench_now_ms();
        double value = at_item(loss);
        if (!isfinite(value) || !x->grad || !b.p[QKV_W]->grad) {
            fprintf(stderr, "aapmt_bench: block batch %d: loss %g or a missing gradient\n", batch, value);
            exit(1);
        }
        at_release(loss);
        at_zero_grad(x);
        for (int p = 0; p < NPARAMS; p++) at_zero_grad(b.p[p]);
        if (i >= 0) {
            fwd[i] = t1 - t0;
            bwd[i] = t2 - t1;
            total[i] = t2 - t0;
        }
    }
    double gflop = block_forward_gflop(batch);
    char name[64];
    snprintf(name, sizeof name, "block_b%d_forward", batch);
    bench_report(name, fwd, cfg->reps, gflop);
    snprintf(name, sizeof name, "block_b%d_backward", batch);
    bench_report(name, bwd, cfg->reps, 2 * gflop);
    snprintf(name, sizeof name, "block_b%d_fwd+bwd", batch);
    bench_report(name, total, cfg->reps, 3 * gflop);
    free(fwd);
    free(bwd);
    free(total);
    at_release(x);
    for (int p = 0; p < NPARAMS; p++) at_release(b.p[p]);
}
