/* The CUDA entry points in a build without nvcc: each says CUDA is not built.
 * No tensor can reach the GPU then (at_to_device fails first), so the ops
 * never call the kernels; these keep the library linkable. */
#include "../cuda.h"
#include "kernels.h"

#include <string.h>

static int unavailable(const char *what) {
    at_set_error("%s: the CUDA backend is not built (configure with nvcc and -DAAPMT_CUDA=ON)", what);
    return -1;
}

int at_cuda_device_count(void) { return 0; }
const char *at_cuda_describe(void) { return "CUDA backend not built (configure with nvcc and -DAAPMT_CUDA=ON)"; }
at_storage *at_cuda_storage_new(size_t nbytes) {
    (void)nbytes;
    unavailable("cuda");
    return NULL;
}
int at_cuda_memcpy(void *dst, at_device dd, const void *src, at_device sd, size_t n) {
    if (dd == AT_CPU && sd == AT_CPU) {
        memcpy(dst, src, n);
        return 0;
    }
    return unavailable("copy");
}
int at_cuda_synchronize(void) { return unavailable("synchronize"); }
at_cache_stats at_cuda_memory_stats(void) { return (at_cache_stats){0}; }
size_t at_cuda_empty_cache(void) { return 0; }
void at_cuda_set_matmul_precision(at_matmul_precision p) { (void)p; }
at_matmul_precision at_cuda_matmul_precision(void) { return AT_MATMUL_F32; }

int at_cuda_pointwise(at_pointwise_op op, at_tensor *out, const at_tensor *a, const at_tensor *b, double s) {
    (void)op, (void)out, (void)a, (void)b, (void)s;
    return unavailable("pointwise");
}
int at_cuda_dropout(at_tensor *out, const at_tensor *a, double p, uint64_t seed, uint64_t counter) {
    (void)out, (void)a, (void)p, (void)seed, (void)counter;
    return unavailable("dropout");
}
int at_cuda_copy(at_tensor *dst, const at_tensor *src) {
    (void)dst, (void)src;
    return unavailable("copy");
}
int at_cuda_fill(at_tensor *t, double value) {
    (void)t, (void)value;
    return unavailable("fill");
}
int at_cuda_sum_squares(double *out, const void *x, at_dtype dtype, int64_t n) {
    (void)out, (void)x, (void)dtype, (void)n;
    return unavailable("sum of squares");
}
int at_cuda_sum_middle(void *out, const void *x, at_dtype dtype, int64_t outer, int64_t r, int64_t inner) {
    (void)out, (void)x, (void)dtype, (void)outer, (void)r, (void)inner;
    return unavailable("sum");
}
int at_cuda_gemm(at_dtype dtype, bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const void *a,
                 int64_t lda, const void *b, int64_t ldb, double beta, void *c, int64_t ldc) {
    (void)dtype, (void)ta, (void)tb, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b;
    (void)ldb, (void)beta, (void)c, (void)ldc;
    return unavailable("gemm");
}
int at_cuda_gemm_batched(at_dtype dtype, bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha,
                         const void *a, int64_t lda, int64_t sa, const void *b, int64_t ldb, int64_t sb, double beta,
                         void *c, int64_t ldc, int64_t sc, int64_t count) {
    (void)dtype, (void)ta, (void)tb, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)sa, (void)b;
    (void)ldb, (void)sb, (void)beta, (void)c, (void)ldc, (void)sc, (void)count;
    return unavailable("gemm");
}
int at_cuda_layernorm(void *y, void *mean, void *rstd, const void *x, const void *w, const void *b, at_dtype dtype,
                      int64_t rows, int64_t n, double eps) {
    (void)y, (void)mean, (void)rstd, (void)x, (void)w, (void)b, (void)dtype, (void)rows, (void)n, (void)eps;
    return unavailable("layernorm");
}
int at_cuda_layernorm_backward(void *dx, void *dw, void *db, const void *g, const void *x, const void *mean,
                               const void *rstd, const void *w, at_dtype dtype, int64_t rows, int64_t n) {
    (void)dx, (void)dw, (void)db, (void)g, (void)x, (void)mean, (void)rstd, (void)w, (void)dtype, (void)rows, (void)n;
    return unavailable("layernorm backward");
}
int at_cuda_softmax(void *y, const void *x, at_dtype dtype, int64_t rows, int64_t n) {
    (void)y, (void)x, (void)dtype, (void)rows, (void)n;
    return unavailable("softmax");
}
int at_cuda_softmax_backward(void *dx, const void *g, const void *y, at_dtype dtype, int64_t rows, int64_t n) {
    (void)dx, (void)g, (void)y, (void)dtype, (void)rows, (void)n;
    return unavailable("softmax backward");
}
int at_cuda_attention(void *o, void *lse, const void *q, const void *k, const void *v, const at_cuda_mask *mask,
                      at_dtype dtype, int64_t heads, int64_t bh, int64_t lq, int64_t lk, int64_t d, int64_t dv,
                      double scale) {
    (void)o, (void)lse, (void)q, (void)k, (void)v, (void)mask, (void)dtype, (void)heads, (void)bh, (void)lq;
    (void)lk, (void)d, (void)dv, (void)scale;
    return unavailable("attention");
}
int at_cuda_attention_backward(void *dq, void *dk, void *dv, const void *g, const void *o, const void *lse,
                               const void *q, const void *k, const void *v, const at_cuda_mask *mask, at_dtype dtype,
                               int64_t heads, int64_t bh, int64_t lq, int64_t lk, int64_t d, int64_t dvn,
                               double scale) {
    (void)dq, (void)dk, (void)dv, (void)g, (void)o, (void)lse, (void)q, (void)k, (void)v, (void)mask, (void)dtype;
    (void)heads, (void)bh, (void)lq, (void)lk, (void)d, (void)dvn, (void)scale;
    return unavailable("attention backward");
}
int at_cuda_embedding(void *out, const void *weight, const void *ids, at_dtype dtype, at_dtype id_dtype, int64_t n,
                      int64_t dim) {
    (void)out, (void)weight, (void)ids, (void)dtype, (void)id_dtype, (void)n, (void)dim;
    return unavailable("embedding");
}
int at_cuda_embedding_backward(void *grad_weight, const void *g, const void *ids, at_dtype dtype, at_dtype id_dtype,
                               int64_t n, int64_t dim) {
    (void)grad_weight, (void)g, (void)ids, (void)dtype, (void)id_dtype, (void)n, (void)dim;
    return unavailable("embedding backward");
}
int at_cuda_adam(at_dtype dtype, void *p, const void *g, void *m, void *v, void *vmax, int64_t n,
                 const at_update_scalars *s, bool decoupled) {
    (void)dtype, (void)p, (void)g, (void)m, (void)v, (void)vmax, (void)n, (void)s, (void)decoupled;
    return unavailable("adam");
}
int at_cuda_sgd(at_dtype dtype, void *p, const void *g, void *buf, int64_t n, const at_update_scalars *s,
                bool nesterov) {
    (void)dtype, (void)p, (void)g, (void)buf, (void)n, (void)s, (void)nesterov;
    return unavailable("sgd");
}
