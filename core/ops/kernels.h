/* The kernels an op runs on a device other than the CPU, and the op's slot
 * for them.
 *
 * An op file keeps its shape checks, its autograd and its plain CPU kernel;
 * for a tensor on another device it asks at_op_kernels for the kernels a
 * backend registered into the op's slot (core/cuda/register.c does it for
 * CUDA at at_backends_init). An empty slot is one error naming the op. Every
 * kernel returns 0, or -1 with at_last_error() set. Outputs are given by the
 * caller: contiguous tensors on the device, of the right shape and dtype.
 * Float kernels take f32 and f64 (f64 is what the parity test compares
 * exactly). */
#ifndef AAPMT_OPS_KERNELS_H
#define AAPMT_OPS_KERNELS_H

#include <stdbool.h>
#include <stdint.h>
#include "../autograd.h"
#include "../tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Elementwise ops, one per CPU kernel in pointwise.c. The _GRAD ones take
 * the incoming gradient as a and the saved input or output as b. */
typedef enum {
    AT_PW_ADD, AT_PW_SUB, AT_PW_MUL, AT_PW_DIV,
    AT_PW_SCALE, AT_PW_ADD_SCALAR, AT_PW_NEG, AT_PW_EXP, AT_PW_LOG, AT_PW_SQRT, AT_PW_RELU, AT_PW_GELU,
    AT_PW_RELU_GRAD, AT_PW_SQRT_GRAD, AT_PW_GELU_GRAD,
    AT_PW_ABS, AT_PW_POW, AT_PW_SIGMOID, AT_PW_TANH, AT_PW_CLAMP_MIN, AT_PW_CLAMP_MAX,
    AT_PW_ABS_GRAD, AT_PW_SIGMOID_GRAD, AT_PW_TANH_GRAD, AT_PW_CLAMP_MIN_GRAD, AT_PW_CLAMP_MAX_GRAD,
} at_pointwise_op;

/* An additive attention mask (B, H, Lq, Lk) given by element strides over
 * batch, head, query and key (0 where broadcast). */
typedef struct {
    const void *data;
    int64_t sb, sh, sq, sk;
} at_attention_mask;

typedef struct at_kernels {
    /* out = op(a, b) with numpy broadcasting (b NULL for unary ops; s is the
     * scalar of scale, add_scalar, pow's exponent and clamp's bound); a and b
     * may have any strides. */
    int (*pointwise)(at_pointwise_op op, at_tensor *out, const at_tensor *a, const at_tensor *b, double s);
    /* out = a with element i (row-major) zeroed when Philox uniform(seed,
     * counter + i) < p, the rest scaled by 1/(1-p): the CPU's mask, bit for bit. */
    int (*dropout)(at_tensor *out, const at_tensor *a, double p, uint64_t seed, uint64_t counter);
    /* out[o, i] = sum over j of x[o, j, i] for contiguous x of (outer, r,
     * inner) elements, in a fixed order, so results do not vary run to run. */
    int (*sum_middle)(void *out, const void *x, at_dtype dtype, int64_t outer, int64_t r, int64_t inner);
    /* Row-major C (m x n, row stride ldc) = alpha·op(A)·op(B) + beta·C, where
     * a transposed operand is stored as its transpose with the given leading dim. */
    int (*gemm)(at_dtype dtype, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                const void *a, int64_t lda, const void *b, int64_t ldb, double beta, void *c, int64_t ldc);
    /* The same for count products in one call: product i reads A + i·stride_a,
     * B + i·stride_b and writes C + i·stride_c (element strides; 0 shares an
     * operand across the batch). */
    int (*gemm_batched)(at_dtype dtype, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                        const void *a, int64_t lda, int64_t stride_a, const void *b, int64_t ldb, int64_t stride_b,
                        double beta, void *c, int64_t ldc, int64_t stride_c, int64_t count);
    /* LayerNorm over the last dim of contiguous x (rows x n); w, b may be
     * NULL; mean and rstd (rows f64 values, NULL when not wanted) are saved
     * for the backward, which gives dx, and dw, db summed over rows (each may
     * be NULL when not needed). */
    int (*layernorm)(void *y, void *mean, void *rstd, const void *x, const void *w, const void *b,
                     at_dtype dtype, int64_t rows, int64_t n, double eps);
    int (*layernorm_backward)(void *dx, void *dw, void *db, const void *g, const void *x, const void *mean,
                              const void *rstd, const void *w, at_dtype dtype, int64_t rows, int64_t n);
    /* Softmax of each contiguous row; the backward from the saved output y. */
    int (*softmax)(void *y, const void *x, at_dtype dtype, int64_t rows, int64_t n);
    int (*softmax_backward)(void *dx, const void *g, const void *y, at_dtype dtype, int64_t rows, int64_t n);
    /* Fused attention: o = softmax(q·kᵀ·scale + mask)·v without forming the
     * score matrix in memory. q (BH, Lq, D), k (BH, Lk, D), v (BH, Lk, Dv), o
     * (BH, Lq, Dv) contiguous; mask NULL or a view with heads H. lse (BH, Lq)
     * receives each row's log-sum-exp; the backward gives dq, dk, dv (any may
     * be NULL) from g = dL/do, recomputing the scores deterministically. */
    int (*attention)(void *o, void *lse, const void *q, const void *k, const void *v, const at_attention_mask *mask,
                     at_dtype dtype, int64_t heads, int64_t bh, int64_t lq, int64_t lk, int64_t d, int64_t dv,
                     double scale);
    int (*attention_backward)(void *dq, void *dk, void *dv, const void *g, const void *o, const void *lse,
                              const void *q, const void *k, const void *v, const at_attention_mask *mask,
                              at_dtype dtype, int64_t heads, int64_t bh, int64_t lq, int64_t lk, int64_t d,
                              int64_t dvn, double scale);
    /* out (n, dim) = weight rows picked by ids (i32 or i64, n of them, checked
     * on the host first); the backward adds g rows at ids, in order, into a
     * zeroed grad_weight (vocab, dim). */
    int (*embedding)(void *out, const void *weight, const void *ids, at_dtype dtype, at_dtype id_dtype, int64_t n,
                     int64_t dim);
    int (*embedding_backward)(void *grad_weight, const void *g, const void *ids, at_dtype dtype, at_dtype id_dtype,
                              int64_t n, int64_t dim);
} at_kernels;

/* The kernels op runs on device (not AT_CPU), or NULL with the error "op X
 * has no CUDA kernel in this build". */
const at_kernels *at_op_kernels(const at_op_def *op, at_device device);
/* Fills (or with NULL, empties) the slot of the op named op_name; -1 with an
 * error for a name not in AT_OP_LIST or an op of AT_OP_GENERIC_LIST. */
int at_op_set_kernels(const char *op_name, at_device device, const at_kernels *kernels);

#ifdef __cplusplus
}
#endif

#endif
