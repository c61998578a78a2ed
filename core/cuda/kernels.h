/* The CUDA kernels the ops in core/ops/ call when their tensors live on the
 * GPU. Each returns 0, or -1 with at_last_error() set. Outputs are given by
 * the caller: contiguous tensors on the GPU of the right shape and dtype.
 * Float kernels take f32 and f64 (f64 is what the parity test compares
 * exactly); copies also take bf16, f16 and the integer dtypes.
 *
 * Without the CUDA backend (core/cuda/unavailable.c) each reports that CUDA
 * is not built; no tensor can reach the GPU then, so the ops never call them. */
#ifndef AAPMT_CUDA_KERNELS_H
#define AAPMT_CUDA_KERNELS_H

#include <stdbool.h>
#include <stdint.h>
#include "../tensor.h"
#include "../train/optim_math.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Elementwise ops, one per CPU kernel in core/ops/pointwise.c. The _GRAD
 * ones take the incoming gradient as a and the saved input or output as b. */
typedef enum {
    AT_PW_ADD, AT_PW_SUB, AT_PW_MUL, AT_PW_DIV,
    AT_PW_SCALE, AT_PW_ADD_SCALAR, AT_PW_NEG, AT_PW_EXP, AT_PW_LOG, AT_PW_SQRT, AT_PW_RELU, AT_PW_GELU,
    AT_PW_RELU_GRAD, AT_PW_SQRT_GRAD, AT_PW_GELU_GRAD,
} at_pointwise_op;

/* out = op(a, b) with numpy broadcasting (b NULL for unary ops; s is the
 * scalar of scale and add_scalar); a and b may have any strides. */
int at_cuda_pointwise(at_pointwise_op op, at_tensor *out, const at_tensor *a, const at_tensor *b, double s);
/* out = a with element i (row-major) zeroed when Philox uniform(seed,
 * counter + i) < p, the rest scaled by 1/(1-p): the CPU's mask, bit for bit. */
int at_cuda_dropout(at_tensor *out, const at_tensor *a, double p, uint64_t seed, uint64_t counter);

/* dst = src, any strides, converting dtypes (same shape, both on the GPU). */
int at_cuda_copy(at_tensor *dst, const at_tensor *src);
int at_cuda_fill(at_tensor *t, double value);

/* out[o, i] = sum over j of x[o, j, i] for contiguous x of (outer, r, inner)
 * elements; a fixed summation order, so results do not vary run to run. */
int at_cuda_sum_middle(void *out, const void *x, at_dtype dtype, int64_t outer, int64_t r, int64_t inner);

/* *out (one double in device memory) = the sum of squares of n contiguous
 * values, in double, in a fixed order over up to 256 blocks. */
int at_cuda_sum_squares(double *out, const void *x, at_dtype dtype, int64_t n);

/* Row-major C (m x n, row stride ldc) = alpha·op(A)·op(B) + beta·C, where a
 * transposed operand is stored as its transpose with the given leading dim. */
int at_cuda_gemm(at_dtype dtype, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                 const void *a, int64_t lda, const void *b, int64_t ldb, double beta, void *c, int64_t ldc);
/* The same for count products in one call: product i reads A + i·stride_a,
 * B + i·stride_b and writes C + i·stride_c (element strides; 0 shares an
 * operand across the batch). */
int at_cuda_gemm_batched(at_dtype dtype, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                         const void *a, int64_t lda, int64_t stride_a, const void *b, int64_t ldb, int64_t stride_b,
                         double beta, void *c, int64_t ldc, int64_t stride_c, int64_t count);

/* LayerNorm over the last dim of contiguous x (rows x n); w, b may be NULL.
 * mean and rstd (rows f64 values; NULL when not wanted) are saved for the backward. */
int at_cuda_layernorm(void *y, void *mean, void *rstd, const void *x, const void *w, const void *b,
                      at_dtype dtype, int64_t rows, int64_t n, double eps);
/* dx, and dw, db summed over rows (each may be NULL when not needed). */
int at_cuda_layernorm_backward(void *dx, void *dw, void *db, const void *g, const void *x, const void *mean,
                               const void *rstd, const void *w, at_dtype dtype, int64_t rows, int64_t n);
/* Softmax of each contiguous row; the backward from the saved output y. */
int at_cuda_softmax(void *y, const void *x, at_dtype dtype, int64_t rows, int64_t n);
int at_cuda_softmax_backward(void *dx, const void *g, const void *y, at_dtype dtype, int64_t rows, int64_t n);

/* Fused attention: o = softmax(q·kᵀ·scale + mask)·v without forming the
 * score matrix in memory. q (BH, Lq, D), k (BH, Lk, D), v (BH, Lk, Dv), o
 * (BH, Lq, Dv) contiguous; mask NULL or an additive (B, H, Lq, Lk) view given
 * by its strides (0 where broadcast) with heads H. lse (BH, Lq) receives each
 * row's log-sum-exp for the backward. */
typedef struct {
    const void *data;
    int64_t sb, sh, sq, sk; /* element strides over batch, head, query, key */
} at_cuda_mask;
int at_cuda_attention(void *o, void *lse, const void *q, const void *k, const void *v, const at_cuda_mask *mask,
                      at_dtype dtype, int64_t heads, int64_t bh, int64_t lq, int64_t lk, int64_t d, int64_t dv,
                      double scale);
/* dq, dk, dv (any may be NULL) from g = dL/do, recomputing the scores; no
 * atomics, so the result is deterministic. */
int at_cuda_attention_backward(void *dq, void *dk, void *dv, const void *g, const void *o, const void *lse,
                               const void *q, const void *k, const void *v, const at_cuda_mask *mask,
                               at_dtype dtype, int64_t heads, int64_t bh, int64_t lq, int64_t lk, int64_t d,
                               int64_t dvn, double scale);

/* out (n, dim) = weight rows picked by ids (i32 or i64, n of them); ids out
 * of [0, vocab) raise an error after the kernel (checked on the host first). */
int at_cuda_embedding(void *out, const void *weight, const void *ids, at_dtype dtype, at_dtype id_dtype,
                      int64_t n, int64_t dim);
/* grad_weight (vocab, dim, zeroed by the caller) += g rows at ids, in order. */
int at_cuda_embedding_backward(void *grad_weight, const void *g, const void *ids, at_dtype dtype,
                               at_dtype id_dtype, int64_t n, int64_t dim);

/* One optimizer step over n contiguous values, element by element as the CPU
 * does it (core/train/optim_math.h); vmax and buf may be NULL. */
int at_cuda_adam(at_dtype dtype, void *p, const void *g, void *m, void *v, void *vmax, int64_t n,
                 const at_update_scalars *s, bool decoupled);
int at_cuda_sgd(at_dtype dtype, void *p, const void *g, void *buf, int64_t n, const at_update_scalars *s,
                bool nesterov);

#ifdef __cplusplus
}
#endif

#endif
