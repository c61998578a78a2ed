/* Shared checks and helpers for op implementations (not a public header). */
#ifndef AAPMT_OPS_INTERNAL_H
#define AAPMT_OPS_INTERNAL_H

#include "../autograd.h"
#include "../ops.h"
#include "../parallel.h"
#include "op_list.h"
#include "../device.h"
#include "kernels.h"

#define AT_DECLARE_OP(name) extern const at_op_def at_op_##name;
AT_OP_LIST(AT_DECLARE_OP)
#undef AT_DECLARE_OP

/* The kernels of op `name` on device (not the CPU); NULL with the error
 * "op name has no CUDA kernel in this build" when its slot is empty. */
#define AT_DEVICE_KERNELS(name, device) at_op_kernels(&at_op_##name, device)

/* Each returns 0, or -1 with an error naming op and the tensor's dtype/shape. */
int at_check_float(const char *op, const at_tensor *t);             /* f32/f64, CPU or CUDA */
/* Same dtype and same device (every op's inputs share one device). */
int at_check_same_dtype(const char *op, const at_tensor *a, const at_tensor *b);
/* Broadcast shape of a and b into out (ndim into *out_ndim); error names op. */
int at_broadcast_shape(const char *op, const at_tensor *a, const at_tensor *b,
                       int *out_ndim, int64_t *out_shape);
/* Row-major contiguous strides for a shape. */
void at_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride);

/* GEMM on strided matrices (matmul.c): whether a matrix can be read in place
 * by BLAS, and C = alpha·A·B + beta·C with A, B given by row/column strides. */
bool at_blas_readable(int64_t rows, int64_t cols, int64_t srow, int64_t scol);
void at_gemm_strided(at_dtype dt, int64_t m, int64_t n, int64_t k, double alpha, const void *a,
                     int64_t a_srow, int64_t a_scol, const void *b, int64_t b_srow, int64_t b_scol,
                     double beta, void *c, int64_t ldc);
/* Sums contiguous x over dims [d0, d1) into a new tensor where those dims
 * have size 1, by the sum op's kernel (reduce.c). */
at_tensor *at_sum_dims(const at_tensor *x, int d0, int d1);
/* Softmax of one contiguous row in place (norm.c); an all -inf row gives zeros. */
void at_softmax_row_f32(float *y, int64_t n);
void at_softmax_row_f64(double *y, int64_t n);

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
