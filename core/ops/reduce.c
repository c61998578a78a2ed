/* Sums and means.
 *
 * Every reduction views its (contiguous) input as (outer, r, inner) and sums
 * the middle dim, in double whatever the dtype. To give the same bits for any
 * thread count, the r terms of each output are cut into blocks whose size
 * depends only on the shape; each block is summed in a fixed order and the
 * block sums are added in block order. Threads split the work by output
 * tiles, or by (tile, block) pairs when there are too few tiles, and both
 * splits compute exactly the same additions. */
#include "ops_internal.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROW_BLOCK 4096   /* terms per block when the summed elements are adjacent (inner == 1) */
#define COL_BLOCK 256    /* rows per block when summing columns (inner > 1) */
#define TILE 256         /* output columns per tile */

typedef struct {
    at_dtype dtype;
    const void *x;
    void *out;
    int64_t outer, r, inner;
} sum_job;

static int64_t block_len(const sum_job *J) { return J->inner == 1 ? ROW_BLOCK : COL_BLOCK; }

/* Sum of n adjacent terms in sixteen interleaved lanes (so it vectorises and
 * the adds overlap), combined in a fixed tree. */
#define LANE_SUM(T)                                                          \
    static inline double lane_sum_##T(const T *x, int64_t n) {               \
        double s[16] = {0};                                                  \
        int64_t i = 0;                                                       \
        for (; i + 16 <= n; i += 16)                                         \
            for (int l = 0; l < 16; l++) s[l] += x[i + l];                   \
        for (int l = 0; i < n; i++, l++) s[l] += x[i];                       \
        for (int w = 8; w >= 1; w /= 2)                                      \
            for (int l = 0; l < w; l++) s[l] += s[l + w];                    \
        return s[0];                                                         \
    }
LANE_SUM(float)
LANE_SUM(double)

/* acc[j - j0] = sum over k in block kb of x[o, k, j], for j in [j0, j0 + w). */
SIMD_CLONES static void block_sum(const sum_job *J, int64_t o, int64_t j0, int64_t w, int64_t kb, double *acc) {
    int64_t k0 = kb * block_len(J), k1 = k0 + block_len(J) < J->r ? k0 + block_len(J) : J->r;
    size_t es = at_dtype_size(J->dtype);
    const char *base = (const char *)J->x + (size_t)(o * J->r * J->inner + j0) * es;
    if (J->inner == 1) {
        acc[0] = J->dtype == AT_F32 ? lane_sum_float((const float *)base + k0, k1 - k0)
                                    : lane_sum_double((const double *)base + k0, k1 - k0);
        return;
    }
    for (int64_t j = 0; j < w; j++) acc[j] = 0;
    for (int64_t k = k0; k < k1; k++) {
        if (J->dtype == AT_F32) {
            const float *row = (const float *)base + k * J->inner;
            for (int64_t j = 0; j < w; j++) acc[j] += row[j];
        } else {
            const double *row = (const double *)base + k * J->inner;
            for (int64_t j = 0; j < w; j++) acc[j] += row[j];
        }
    }
}

static void store(const sum_job *J, int64_t o, int64_t j0, int64_t w, const double *total) {
    int64_t at = o * J->inner + j0;
    if (J->dtype == AT_F32)
        for (int64_t j = 0; j < w; j++) ((float *)J->out)[at + j] = (float)total[j];
    else
        memcpy((double *)J->out + at, total, (size_t)w * sizeof(double));
}

static void sum_middle(const sum_job *J) {
    int64_t tiles_per_row = (J->inner + TILE - 1) / TILE;
    int64_t tiles = J->outer * tiles_per_row;
    int64_t blocks = J->r > 0 ? (J->r + block_len(J) - 1) / block_len(J) : 1;
    bool big = J->outer * J->r * J->inner >= AT_PARALLEL_MIN;
    int64_t pw = J->inner < TILE ? J->inner : TILE; /* stride of the partial sums */
    double *partial = NULL;
    if (big && blocks > 1 && tiles < omp_get_max_threads())
        partial = malloc((size_t)(tiles * blocks * pw) * sizeof *partial);
    if (partial) { /* few outputs, long sums: blocks in parallel, then added in order */
        #pragma omp parallel for schedule(static)
        for (int64_t t = 0; t < tiles * blocks; t++) {
            int64_t tile = t / blocks, kb = t % blocks, j0 = tile % tiles_per_row * TILE;
            int64_t w = J->inner - j0 < TILE ? J->inner - j0 : TILE;
            block_sum(J, tile / tiles_per_row, j0, w, kb, partial + t * pw);
        }
    }
    #pragma omp parallel for if (big && !partial) schedule(static)
    for (int64_t tile = 0; tile < tiles; tile++) {
        int64_t o = tile / tiles_per_row, j0 = tile % tiles_per_row * TILE;
        int64_t w = J->inner - j0 < TILE ? J->inner - j0 : TILE;
        double total[TILE] = {0}, acc[TILE];
        for (int64_t kb = 0; kb < blocks; kb++) {
            const double *p = partial ? partial + (tile * blocks + kb) * pw : acc;
            if (!partial) block_sum(J, o, j0, w, kb, acc);
            for (int64_t j = 0; j < w; j++) total[j] += p[j];
        }
        store(J, o, j0, w, total);
    }
    free(partial);
}

/* A contiguous tensor with t's values and no history: t's own storage when it
 * is contiguous already. */
static at_tensor *contiguous_data(const at_tensor *t) {
    return at_is_contiguous(t) ? at_detach(t) : at_clone_data(t);
}

/* Sums contiguous x over dims [d0, d1) into a new tensor where those dims have size 1. */
at_tensor *at_sum_dims(const at_tensor *x, int d0, int d1) {
    int64_t shape[AT_MAX_DIMS], outer = 1, r = 1, inner = 1;
    for (int d = 0; d < x->ndim; d++) {
        shape[d] = d >= d0 && d < d1 ? 1 : x->shape[d];
        *(d < d0 ? &outer : d < d1 ? &r : &inner) *= x->shape[d];
    }
    at_tensor *out = at_empty_uninit_on(at_device_of(x), x->dtype, x->ndim, shape);
    if (!out) return NULL;
    if (at_on_cuda(x)) {
        const at_kernels *k = AT_DEVICE_KERNELS(sum, AT_CUDA);
        return !k || k->sum_middle(at_data(out), at_data(x), x->dtype, outer, r, inner) ? (at_release(out), NULL) : out;
    }
    sum_job J = {x->dtype, at_data(x), at_data(out), outer, r, inner};
    sum_middle(&J);
    return out;
}

/* ---- sum over one dim ---- */

at_tensor *at_sum(at_tensor *a, int dim, bool keepdim) {
    if (at_check_float("sum", a)) return NULL;
    int d = at_norm_dim("sum", dim, a->ndim);
    if (d < 0) return NULL;
    at_tensor *x = contiguous_data(a), *kept = x ? at_sum_dims(x, d, d + 1) : NULL;
    at_release(x);
    if (!kept) return NULL;
    if (!keepdim) { /* drop the size-1 dim: a contiguous tensor stays contiguous */
        memmove(kept->shape + d, kept->shape + d + 1, (size_t)(kept->ndim - d - 1) * sizeof(int64_t));
        kept->ndim--;
        at_contiguous_strides(kept->ndim, kept->shape, kept->stride);
    }
    at_node *n = at_record(&at_op_sum, kept, 1, &a);
    if (n) n->iparam[0] = d;
    return kept;
}

/* Every input element receives the gradient of the sum it went into. */
static int sum_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    at_tensor *in = n->inputs[0];
    int64_t kept[AT_MAX_DIMS];
    memcpy(kept, in->shape, sizeof kept);
    kept[n->iparam[0]] = 1;
    at_tensor *gk = at_reshape((at_tensor *)g, in->ndim, kept);
    at_tensor *ge = gk ? at_expand(gk, in->ndim, in->shape) : NULL;
    gin[0] = ge ? at_clone_data(ge) : NULL;
    at_release(ge);
    at_release(gk);
    return gin[0] ? 0 : -1;
}

static int sum_inputs(int variant, at_rng *rng, at_tensor **in) {
    int64_t shape[3] = {3, 4, 5};
    in[0] = at_gc_randn(rng, true, variant == 3 ? 1 : 3, shape);
    return in[0] ? 1 : -1;
}

/* Variants: first dim; last dim kept; middle dim of a transposed view; a vector. */
static at_tensor *sum_case(int variant, at_tensor **in) {
    if (variant != 2) return at_sum(in[0], variant == 1 ? -1 : 0, variant == 1);
    at_tensor *t = at_transpose(in[0], 0, 2);
    at_tensor *out = t ? at_sum(t, 1, false) : NULL;
    at_release(t);
    return out;
}

const at_op_def at_op_sum = {"sum", sum_backward, {4, sum_inputs, sum_case}};

/* ---- sum of everything ---- */

at_tensor *at_sum_all(at_tensor *a) {
    if (at_check_float("sum_all", a)) return NULL;
    at_tensor *x = contiguous_data(a);
    at_tensor *out = x ? at_empty_uninit_on(at_device_of(a), a->dtype, 0, NULL) : NULL;
    if (out && at_on_cuda(out)) {
        const at_kernels *k = AT_DEVICE_KERNELS(sum_all, AT_CUDA);
        if (!k || k->sum_middle(at_data(out), at_data(x), a->dtype, 1, at_numel(a), 1)) at_release(out), out = NULL;
    } else if (out) {
        sum_job J = {a->dtype, at_data(x), at_data(out), 1, at_numel(a), 1};
        sum_middle(&J);
    }
    at_release(x);
    at_record(&at_op_sum_all, out, 1, &a);
    return out;
}

static int sum_all_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    at_tensor *in = n->inputs[0];
    gin[0] = at_full_on(at_device_of(in), in->dtype, in->ndim, in->shape, at_item(g));
    return gin[0] ? 0 : -1;
}

static int sum_all_inputs(int variant, at_rng *rng, at_tensor **in) {
    int64_t shape[2] = {4, 5};
    in[0] = at_gc_randn(rng, true, variant == 2 ? 0 : 2, shape);
    return in[0] ? 1 : -1;
}

/* Variants: contiguous; transposed; 0-dim. */
static at_tensor *sum_all_case(int variant, at_tensor **in) {
    at_tensor *t = variant == 1 ? at_transpose(in[0], 0, 1) : (at_retain(in[0]), in[0]);
    at_tensor *out = t ? at_sum_all(t) : NULL;
    at_release(t);
    return out;
}

const at_op_def at_op_sum_all = {"sum_all", sum_all_backward, {3, sum_all_inputs, sum_all_case}};

/* ---- means: a sum, then a scale ---- */

at_tensor *at_mean(at_tensor *a, int dim, bool keepdim) {
    if (at_check_float("mean", a)) return NULL;
    int d = at_norm_dim("mean", dim, a->ndim);
    if (d < 0) return NULL;
    at_tensor *s = at_sum(a, d, keepdim);
    at_tensor *m = s ? at_scale(s, 1.0 / (double)a->shape[d]) : NULL;
    at_release(s);
    return m;
}

at_tensor *at_mean_all(at_tensor *a) {
    at_tensor *s = at_sum_all(a);
    at_tensor *m = s ? at_scale(s, 1.0 / (double)at_numel(a)) : NULL;
    at_release(s);
    return m;
}
