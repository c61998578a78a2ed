/* The CUDA backend's entry points: the runtime services of core/device.h and
 * the kernels of core/ops/kernels.h, registered into the library by
 * register.c. Nothing outside core/cuda/ calls these; their contracts are
 * the ones of the interface each implements. */
#ifndef AAPMT_CUDA_KERNELS_H
#define AAPMT_CUDA_KERNELS_H

#include <stdbool.h>
#include <stdint.h>
#include "../device.h"
#include "../ops/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* runtime.cu: one stream per process, so work runs in the order it is
 * queued and memory freed by the host can be reused at once; errors from
 * CUDA and cuBLAS name the call, the source file and line. */
int at_cuda_device_count(void);
const char *at_cuda_describe(void);
/* From the caching allocator, uninitialised. */
at_storage *at_cuda_storage_new(size_t nbytes);
/* Host memory goes through pinned staging buffers, at full bus speed. */
int at_cuda_memcpy(void *dst, at_device dst_device, const void *src, at_device src_device, size_t nbytes);
int at_cuda_synchronize(void);
at_cache_stats at_cuda_memory_stats(void);
size_t at_cuda_empty_cache(void);

/* copy.cu */
int at_cuda_copy(at_tensor *dst, const at_tensor *src);
int at_cuda_fill(at_tensor *t, double value);
/* reduce.cu */
int at_cuda_sum_middle(void *out, const void *x, at_dtype dtype, int64_t outer, int64_t r, int64_t inner);
int at_cuda_sum_squares(double *out, const void *x, at_dtype dtype, int64_t n);
/* optim.cu */
int at_cuda_adam(at_dtype dtype, void *p, const void *g, void *m, void *v, void *vmax, int64_t n,
                 const at_update_scalars *s, bool decoupled);
int at_cuda_sgd(at_dtype dtype, void *p, const void *g, void *buf, int64_t n, const at_update_scalars *s,
                bool nesterov);
/* pointwise.cu */
int at_cuda_pointwise(at_pointwise_op op, at_tensor *out, const at_tensor *a, const at_tensor *b, double s);
int at_cuda_dropout(at_tensor *out, const at_tensor *a, double p, uint64_t seed, uint64_t counter);
/* gemm.cu: f32 follows at_get_matmul_precision() */
int at_cuda_gemm(at_dtype dtype, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                 const void *a, int64_t lda, const void *b, int64_t ldb, double beta, void *c, int64_t ldc);
int at_cuda_gemm_batched(at_dtype dtype, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                         const void *a, int64_t lda, int64_t stride_a, const void *b, int64_t ldb, int64_t stride_b,
                         double beta, void *c, int64_t ldc, int64_t stride_c, int64_t count);
/* norm.cu */
int at_cuda_layernorm(void *y, void *mean, void *rstd, const void *x, const void *w, const void *b,
                      at_dtype dtype, int64_t rows, int64_t n, double eps);
int at_cuda_layernorm_backward(void *dx, void *dw, void *db, const void *g, const void *x, const void *mean,
                               const void *rstd, const void *w, at_dtype dtype, int64_t rows, int64_t n);
int at_cuda_softmax(void *y, const void *x, at_dtype dtype, int64_t rows, int64_t n);
int at_cuda_softmax_backward(void *dx, const void *g, const void *y, at_dtype dtype, int64_t rows, int64_t n);
/* attention.cu */
int at_cuda_attention(void *o, void *lse, const void *q, const void *k, const void *v, const at_attention_mask *mask,
                      at_dtype dtype, int64_t heads, int64_t bh, int64_t lq, int64_t lk, int64_t d, int64_t dv,
                      double scale);
int at_cuda_attention_backward(void *dq, void *dk, void *dv, const void *g, const void *o, const void *lse,
                               const void *q, const void *k, const void *v, const at_attention_mask *mask,
                               at_dtype dtype, int64_t heads, int64_t bh, int64_t lq, int64_t lk, int64_t d,
                               int64_t dvn, double scale);
/* index.cu */
int at_cuda_embedding(void *out, const void *weight, const void *ids, at_dtype dtype, at_dtype id_dtype,
                      int64_t n, int64_t dim);
int at_cuda_embedding_backward(void *grad_weight, const void *g, const void *ids, at_dtype dtype,
                               at_dtype id_dtype, int64_t n, int64_t dim);

#ifdef __cplusplus
}
#endif

#endif
