/* The block's ops one at a time at batch 1, forward and backward (seeded with
 * a gradient of ones), so a slow block can be traced to the op that costs
 * it. torch_bench.py times the same ops under the same names. */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "autograd.h"
#include "ops.h"

enum { WIDTH = 1024, TOKENS = 197, HEADS = 16, HEAD_DIM = 64, MLP = 4096 };

typedef struct {
    const char *name;
    int n_inputs;
    int ndim[3];
    int64_t shape[3][3];
    at_tensor *(*apply)(at_tensor **in);
} op_case;

static at_tensor *apply_layernorm(at_tensor **in) { return at_layernorm(in[0], in[1], in[2], 1e-6); }
static at_tensor *apply_linear(at_tensor **in) { return at_linear(in[0], in[1], in[2]); }
static at_tensor *apply_gelu(at_tensor **in) { return at_gelu(in[0]); }
static at_tensor *apply_add(at_tensor **in) { return at_add(in[0], in[1]); }
static at_tensor *apply_softmax(at_tensor **in) { return at_softmax(in[0]); }

/* From the qkv Linear's output to the merged heads, as the block does it:
 * reshape, permute, split, attention, transpose back, reshape. */
static at_tensor *apply_attention(at_tensor **in) {
    int64_t split[5] = {1, TOKENS, 3, HEADS, HEAD_DIM};
    static const int to_heads[5] = {2, 0, 3, 1, 4};
    at_tensor *r = at_reshape(in[0], 5, split);
    at_tensor *h = r ? at_permute(r, to_heads) : NULL;
    at_release(r);
    if (!h) return NULL;
    at_tensor *q = at_select(h, 0, 0), *k = at_select(h, 0, 1), *v = at_select(h, 0, 2);
    at_release(h);
    at_tensor *a = q && k && v ? at_attention(q, k, v, NULL, 1.0 / sqrt(HEAD_DIM)) : NULL;
    at_release(q);
    at_release(k);
    at_release(v);
    at_tensor *t = a ? at_transpose(a, 1, 2) : NULL;
    at_release(a);
    int64_t merged[3] = {1, TOKENS, WIDTH};
    at_tensor *out = t ? at_reshape(t, 3, merged) : NULL;
    at_release(t);
    return out;
}

static const op_case op_cases[] = {
    {"layernorm", 3, {3, 1, 1}, {{1, TOKENS, WIDTH}, {WIDTH}, {WIDTH}}, apply_layernorm},
    {"linear_qkv", 3, {3, 2, 1}, {{1, TOKENS, WIDTH}, {3 * WIDTH, WIDTH}, {3 * WIDTH}}, apply_linear},
    {"attention", 1, {3}, {{1, TOKENS, 3 * WIDTH}}, apply_attention},
    {"softmax", 1, {3}, {{HEADS, TOKENS, TOKENS}}, apply_softmax},
    {"linear_proj", 3, {3, 2, 1}, {{1, TOKENS, WIDTH}, {WIDTH, WIDTH}, {WIDTH}}, apply_linear},
    {"add", 2, {3, 3}, {{1, TOKENS, WIDTH}, {1, TOKENS, WIDTH}}, apply_add},
    {"linear_fc1", 3, {3, 2, 1}, {{1, TOKENS, WIDTH}, {MLP, WIDTH}, {MLP}}, apply_linear},
    {"gelu", 1, {3}, {{1, TOKENS, MLP}}, apply_gelu},
    {"linear_fc2", 3, {3, 2, 1}, {{1, TOKENS, MLP}, {WIDTH, MLP}, {WIDTH}}, apply_linear},
};

static void bench_op(const bench_config *cfg, const op_case *c) {
    at_tensor *in[3];
    for (int i = 0; i < c->n_inputs; i++) in[i] = bench_randn(c->ndim[i], c->shape[i], 1.0, true);
    int reps = 2 * cfg->reps;
    double *fwd = malloc(sizeof *fwd * (size_t)reps), *bwd = malloc(sizeof *bwd * (size_t)reps);
    at_tensor *seed = NULL;
    for (int r = -cfg->warmup; r < reps; r++) {
        double t0 = bench_now_ms();
        at_tensor *out = bench_check(c->apply(in), c->name);
        double t1 = bench_now_ms();
        if (!seed) seed = bench_check(at_full(AT_F32, out->ndim, out->shape, 1.0), "full");
        bench_check_rc(at_backward(out, seed), c->name);
        double t2 = bench_now_ms();
        at_release(out);
        for (int i = 0; i < c->n_inputs; i++) at_zero_grad(in[i]);
        if (r >= 0) {
            fwd[r] = t1 - t0;
            bwd[r] = t2 - t1;
        }
    }
    char name[64];
    snprintf(name, sizeof name, "op_%s_fwd", c->name);
    bench_report(name, fwd, reps, 0);
    snprintf(name, sizeof name, "op_%s_bwd", c->name);
    bench_report(name, bwd, reps, 0);
    free(fwd);
    free(bwd);
    at_release(seed);
    for (int i = 0; i < c->n_inputs; i++) at_release(in[i]);
}

void bench_ops(const bench_config *cfg) {
    for (size_t i = 0; i < sizeof op_cases / sizeof op_cases[0]; i++) bench_op(cfg, &op_cases[i]);
}
