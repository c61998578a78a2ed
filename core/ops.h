/* Differentiable ops. Every function returns a new tensor (a new
 * reference the caller releases) or NULL with at_last_error() set; inputs
 * are never consumed. When grad is enabled and an input requires grad, the
 * result records its history (see autograd.h).
 *
 * They run on the device of their inputs (the CPU, or a GPU through the op
 * kernel slots of core/ops/kernels.h), which must all be the same.
 *
 * Dims are 0-based here and may be negative (-1 is the last). Float ops
 * compute in the dtype of their inputs, which must be f32 or f64 and agree. */
#ifndef AAPMT_OPS_H
#define AAPMT_OPS_H

#include "tensor.h"
#include "rng.h"

/* ---- views (share storage; backward maps the gradient back) ---- */
at_tensor *at_narrow(at_tensor *t, int dim, int64_t start, int64_t length);
at_tensor *at_select(at_tensor *t, int dim, int64_t index);   /* removes dim */
at_tensor *at_transpose(at_tensor *t, int dim0, int dim1);
at_tensor *at_permute(at_tensor *t, const int *perm);         /* perm has t->ndim entries */
/* View when t is contiguous, else a contiguous copy then a view. One entry of
 * shape may be -1 (inferred). */
at_tensor *at_reshape(at_tensor *t, int ndim, const int64_t *shape);
at_tensor *at_expand(at_tensor *t, int ndim, const int64_t *shape);  /* size-1 dims broadcast */
at_tensor *at_contiguous(at_tensor *t);    /* t itself (retained) when already contiguous */
at_tensor *at_to_dtype(at_tensor *t, at_dtype dtype);  /* differentiable between f32/f64 */

/* ---- pointwise with broadcasting (numpy rules) ---- */
at_tensor *at_add(at_tensor *a, at_tensor *b);
at_tensor *at_sub(at_tensor *a, at_tensor *b);
at_tensor *at_mul(at_tensor *a, at_tensor *b);
at_tensor *at_div(at_tensor *a, at_tensor *b);
at_tensor *at_scale(at_tensor *a, double s);        /* a * s */
at_tensor *at_add_scalar(at_tensor *a, double s);   /* a + s */
at_tensor *at_neg(at_tensor *a);
at_tensor *at_exp(at_tensor *a);
at_tensor *at_log(at_tensor *a);
at_tensor *at_sqrt(at_tensor *a);
at_tensor *at_relu(at_tensor *a);
at_tensor *at_gelu(at_tensor *a);   /* exact: x * Phi(x) with erf */
at_tensor *at_abs(at_tensor *a);
at_tensor *at_pow(at_tensor *a, double exponent);
at_tensor *at_sigmoid(at_tensor *a);
at_tensor *at_tanh(at_tensor *a);
at_tensor *at_clamp(at_tensor *a, double lo, double hi); /* -INFINITY / INFINITY leave a side open */
/* Elementwise comparison of float tensors (broadcast) into a u8 mask of 0/1. */
typedef enum { AT_CMP_EQ, AT_CMP_NE, AT_CMP_LT, AT_CMP_LE, AT_CMP_GT, AT_CMP_GE } at_compare_op;
at_tensor *at_compare(at_compare_op op, const at_tensor *a, const at_tensor *b);
/* a where the u8 mask is nonzero, else b (same dtype), all broadcast;
 * differentiable in a and b. CPU only. */
at_tensor *at_where(const at_tensor *mask, at_tensor *a, at_tensor *b);
/* The largest (smallest) element as a 0-dim tensor; NaN wins, and the
 * gradient goes to the first extreme. CPU only. */
at_tensor *at_max_all(at_tensor *t);
at_tensor *at_min_all(at_tensor *t);
/* Over dim (0-based): *values (t's dtype, differentiable) and, unless
 * indices is NULL, *indices (i64, 0-based positions along dim). 0 or -1. */
int at_max(at_tensor *t, int dim, bool keepdim, at_tensor **values, at_tensor **indices);
int at_min(at_tensor *t, int dim, bool keepdim, at_tensor **values, at_tensor **indices);
/* Zeroes elements with probability p and scales the rest by 1/(1-p); the mask
 * comes from rng (advanced by numel). Identity when !training or p == 0. */
at_tensor *at_dropout(at_tensor *a, double p, bool training, at_rng *rng);

/* ---- reductions ---- */
at_tensor *at_sum(at_tensor *a, int dim, bool keepdim);
at_tensor *at_mean(at_tensor *a, int dim, bool keepdim);
at_tensor *at_sum_all(at_tensor *a);    /* 0-dim result */
at_tensor *at_mean_all(at_tensor *a);
/* Sums a broadcast gradient back to shape (ndim, shape): the inverse of
 * broadcasting, used by backward passes. Not differentiable itself. */
at_tensor *at_sum_to_shape(const at_tensor *g, int ndim, const int64_t *shape);

/* ---- linear algebra (OpenBLAS) ---- */
/* (m,k)@(k,n); (...,m,k)@(...,k,n) with broadcast batch dims; a 1-D operand
 * is promoted as in numpy. */
at_tensor *at_matmul(at_tensor *a, at_tensor *b);
at_tensor *at_linear(at_tensor *x, at_tensor *w, at_tensor *b);  /* x·wᵀ + b; b may be NULL */

/* ---- normalisation and attention ---- */
at_tensor *at_layernorm(at_tensor *x, at_tensor *w, at_tensor *b, double eps); /* over last dim; w, b may be NULL */
at_tensor *at_softmax(at_tensor *x);   /* over the last dim */
/* softmax(q·kᵀ·scale + mask)·v per batch and head: q (B,H,Lq,D), k (B,H,Lk,D),
 * v (B,H,Lk,Dv); mask (additive) broadcasts to (B,H,Lq,Lk) or is NULL. */
at_tensor *at_attention(at_tensor *q, at_tensor *k, at_tensor *v, at_tensor *mask, double scale);

/* ---- indexing and joining ---- */
at_tensor *at_embedding(at_tensor *weight, at_tensor *ids);   /* ids i32/i64 → ids.shape + (dim) */
at_tensor *at_concat(int n, at_tensor *const *ts, int dim);

/* ---- losses (scalar results) ---- */
at_tensor *at_mse_loss(at_tensor *pred, at_tensor *target);   /* mean of squared errors */
at_tensor *at_sse_loss(at_tensor *pred, at_tensor *target);   /* sum of squared errors */

/* ---- activation recomputation ---- */
/* A block of ops: inputs → a new tensor, drawing any randomness from rng
 * (NULL when the block needs none). It may read tensors held in ctx
 * (parameters): their gradients accumulate into them directly. */
typedef at_tensor *(*at_block_fn)(void *ctx, at_tensor *const *inputs, at_rng *rng);
/* fn(ctx, inputs, rng) without storing its activations: when grad is on and
 * an input requires grad, the block runs with grad off and the backward runs
 * it again from its inputs, with a copy of rng as it was before the block,
 * so every dropout mask is the same and the gradients are those of the
 * stored graph, bit for bit. Otherwise it simply runs. Takes ownership of
 * ctx (ctx_free(ctx) once the block is no longer needed; ctx_free may be
 * NULL); n <= AT_NODE_MAX_INPUTS. */
at_tensor *at_checkpoint(at_block_fn fn, void *ctx, void (*ctx_free)(void *), at_rng *rng, int n,
                         at_tensor *const *inputs);

/* Normalises a possibly negative dim against ndim; -1 (with an error naming
 * op) when out of range. */
int at_norm_dim(const char *op, int dim, int ndim);

#endif
