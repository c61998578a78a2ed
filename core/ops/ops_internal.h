/* Shared checks and helpers for op implementations (not a public header). */
#ifndef AAPMT_OPS_INTERNAL_H
#define AAPMT_OPS_INTERNAL_H

#include "../autograd.h"
#include "../ops.h"
#include "../parallel.h"
#include "op_list.h"

#define AT_DECLARE_OP(name) extern const at_op_def at_op_##name;
AT_OP_LIST(AT_DECLARE_OP)
#undef AT_DECLARE_OP

/* Each returns 0, or -1 with an error naming op and the tensor's dtype/shape. */
int at_check_float(const char *op, const at_tensor *t);             /* f32/f64 on the CPU */
int at_check_same_dtype(const char *op, const at_tensor *a, const at_tensor *b);
/* Broadcast shape of a and b into out (ndim into *out_ndim); error names op. */
int at_broadcast_shape(const char *op, const at_tensor *a, const at_tensor *b,
                       int *out_ndim, int64_t *out_shape);
/* Row-major contiguous strides for a shape. */
void at_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride);

/* Hot loops compiled for AVX-512, AVX2 and baseline x86-64, picked at run
 * time: the default build targets SSE2, and wide registers with FMA make
 * elementwise kernels several times faster. gcc >= 12 on x86-64 Linux only. */
#if defined(__x86_64__) && defined(__gnu_linux__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#define SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SIMD_CLONES
#endif

/* Helpers for gradcheck cases: a new f64 leaf of random normal values. */
at_tensor *at_gc_randn(at_rng *rng, bool requires_grad, int ndim, const int64_t *shape);

#endif
