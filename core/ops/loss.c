/* Squared-error losses, fused: one pass over pred and target, no temporary.
 * The sum is cut into fixed blocks added in block order, so the result does
 * not depend on the thread count. */
#include "ops_internal.h"

#include <stdlib.h>

#define LOSS_BLOCK 4096

/* Sum of (p - t)² over block b of n elements, in eight interleaved lanes. */
#define BLOCK_SSE(T)                                                                   \
    SIMD_CLONES static double block_sse_##T(const T *p, const T *t, int64_t n, int64_t b) {        \
        int64_t i = b * LOSS_BLOCK, end = n - i < LOSS_BLOCK ? n : i + LOSS_BLOCK;     \
        double s[8] = {0};                                                             \
        for (; i + 8 <= end; i += 8)                                                   \
            for (int l = 0; l < 8; l++) {                                              \
                double d = (double)p[i + l] - (double)t[i + l];                        \
                s[l] += d * d;                                                         \
            }                                                                          \
        for (int l = 0; i < end; i++, l++) {                                           \
            double d = (double)p[i] - (double)t[i];                                    \
            s[l] += d * d;                                                             \
        }                                                                              \
        return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));      \
    }
BLOCK_SSE(float)
BLOCK_SSE(double)

static double sum_squared_error(const at_tensor *p, const at_tensor *t, int64_t n) {
    int64_t blocks = (n + LOSS_BLOCK - 1) / LOSS_BLOCK;
    double stack[64], *part = blocks <= 64 ? stack : malloc((size_t)blocks * sizeof *part);
    bool f32 = p->dtype == AT_F32;
    if (!part) { /* no room for the partials: the same blocks, on one thread */
        double total = 0;
        for (int64_t b = 0; b < blocks; b++)
            total += f32 ? block_sse_float(at_data(p), at_data(t), n, b)
                         : block_sse_double(at_data(p), at_data(t), n, b);
        return total;
    }
    #pragma omp parallel for if (n >= AT_PARALLEL_MIN) schedule(static)
    for (int64_t b = 0; b < blocks; b++)
        part[b] = f32 ? block_sse_float(at_data(p), at_data(t), n, b)
                      : block_sse_double(at_data(p), at_data(t), n, b);
    double total = 0;
    for (int64_t b = 0; b < blocks; b++) total += part[b];
    if (part != stack) free(part);
    return total;
}

static at_tensor *record_loss(const at_op_def *def, at_tensor *out, at_tensor *pred, at_tensor *target) {
    at_tensor *ins[2] = {pred, target};
    at_record(def, out, 2, ins);
    return out;
}

/* On the GPU: the same value from the elementwise ops and a sum (each
 * already a kernel there), without recording their history. */
static at_tensor *squared_error_composed(const at_op_def *def, at_tensor *pred, at_tensor *target) {
    bool was = at_set_grad_enabled(false);
    at_tensor *d = at_sub(pred, target), *sq = d ? at_mul(d, d) : NULL, *s = sq ? at_sum_all(sq) : NULL;
    at_tensor *out = s && def == &at_op_mse_loss ? at_scale(s, 1.0 / (double)at_numel(pred)) : s;
    if (out != s) at_release(s);
    at_release(d);
    at_release(sq);
    at_set_grad_enabled(was);
    return out;
}

static at_tensor *squared_error(const char *op, const at_op_def *def, at_tensor *pred, at_tensor *target) {
    if (at_check_float(op, pred) || at_check_float(op, target) || at_check_same_dtype(op, pred, target))
        return NULL;
    if (!at_same_shape(pred, target)) {
        char a[128], b[128];
        at_set_error("%s: pred %s and target %s differ in shape", op, at_shape_str(pred, a, sizeof a),
                     at_shape_str(target, b, sizeof b));
        return NULL;
    }
    if (at_on_cuda(pred)) return record_loss(def, squared_error_composed(def, pred, target), pred, target);
    at_tensor *p = at_is_contiguous(pred) ? at_detach(pred) : at_clone_data(pred);
    at_tensor *t = at_is_contiguous(target) ? at_detach(target) : at_clone_data(target);
    at_tensor *out = p && t ? at_empty_uninit(pred->dtype, 0, NULL) : NULL;
    if (out) {
        int64_t n = at_numel(pred);
        double sse = sum_squared_error(p, t, n);
        double v = def == &at_op_mse_loss ? sse / (double)n : sse;
        if (out->dtype == AT_F32) *(float *)at_data(out) = (float)v;
        else *(double *)at_data(out) = v;
    }
    at_release(p);
    at_release(t);
    return record_loss(def, out, pred, target);
}

at_tensor *at_mse_loss(at_tensor *pred, at_tensor *target) {
    return squared_error("mse_loss", &at_op_mse_loss, pred, target);
}

at_tensor *at_sse_loss(at_tensor *pred, at_tensor *target) {
    return squared_error("sse_loss", &at_op_sse_loss, pred, target);
}

/* d/dpred = 2·g·(pred - target) (over n for the mean); d/dtarget is its negation. */
static int squared_error_backward(at_node *n, const at_tensor *g, at_tensor **gin) {
    at_tensor *p = n->inputs[0], *t = n->inputs[1];
    double k = 2.0 * at_item(g);
    if (n->op == &at_op_mse_loss) k /= (double)at_numel(p);
    at_tensor *diff = at_sub(p, t);
    if (!diff) return -1;
    if (n->needs_grad[0]) gin[0] = at_scale(diff, k);
    if (n->needs_grad[1]) gin[1] = at_scale(diff, -k);
    at_release(diff);
    if ((n->needs_grad[0] && !gin[0]) || (n->needs_grad[1] && !gin[1])) {
        at_release(gin[0]);
        at_release(gin[1]);
        gin[0] = gin[1] = NULL;
        return -1;
    }
    return 0;
}

static int loss_inputs(int variant, at_rng *rng, at_tensor **in) {
    int64_t shape[2] = {3, 4};
    in[0] = at_gc_randn(rng, true, 2, shape);
    in[1] = at_gc_randn(rng, variant != 2, 2, shape);
    return in[0] && in[1] ? 2 : -1;
}

/* Variants: contiguous; pred and target both transposed views; target constant. */
static at_tensor *loss_case(int variant, at_tensor **in, at_tensor *(*loss)(at_tensor *, at_tensor *)) {
    if (variant != 1) return loss(in[0], in[1]);
    at_tensor *p = at_transpose(in[0], 0, 1), *t = at_transpose(in[1], 0, 1);
    at_tensor *out = p && t ? loss(p, t) : NULL;
    at_release(p);
    at_release(t);
    return out;
}

static at_tensor *mse_case(int v, at_tensor **in) { return loss_case(v, in, at_mse_loss); }
static at_tensor *sse_case(int v, at_tensor **in) { return loss_case(v, in, at_sse_loss); }

const at_op_def at_op_mse_loss = {"mse_loss", squared_error_backward, {3, loss_inputs, mse_case}};
const at_op_def at_op_sse_loss = {"sse_loss", squared_error_backward, {3, loss_inputs, sse_case}};
