// GEMM through cuBLAS. cuBLAS is column-major: a row-major C = A·B is the
// column-major Cᵀ = Bᵀ·Aᵀ, so the operands swap and keep their layouts.
// f32 follows the matmul precision (core/device.h): full f32, TF32, or bf16
// operands with f32 accumulation and an f32 result.
#include <climits>
#include <cuda_bf16.h>

#include "check.h"
#include "runtime.h"

extern "C" {
#include "kernels.h"
}

namespace {

__global__ void to_bf16(__nv_bfloat16 *dst, const float *src, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        dst[i] = __float2bfloat16_rn(src[i]);
}

// Elements a row-major (rows x cols) matrix with row stride ld spans.
int64_t span(int64_t rows, int64_t cols, int64_t ld) { return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols; }

// A bf16 copy of n f32 values, from the caching allocator so that scratch
// and tensors share one pool (the caller releases it once the GEMM is
// queued: with one stream, a later user of the block runs after the GEMM).
int bf16_copy(const void *src, int64_t n, at_storage **out) {
    *out = at_cuda_storage_new((size_t)(n > 0 ? n : 1) * 2);
    if (!*out) return -1;
    if (n > 0)
        to_bf16<<<at_cuda_blocks(n, 256), 256, 0, at_cuda_stream()>>>((__nv_bfloat16 *)(*out)->data,
                                                                      (const float *)src, n);
    AT_CUDA_LAUNCHED(-1);
    return 0;
}

// One cuBLAS call for count products (count 1 is a plain GEMM).
int gemm_ex(cublasOperation_t ob, cublasOperation_t oa, int64_t m, int64_t n, int64_t k, float alpha, const void *b,
            cudaDataType_t tb, int lb, int64_t sb, const void *a, cudaDataType_t ta, int la, int64_t sa, float beta,
            void *c, cudaDataType_t tc, int64_t ldc, int64_t sc, int64_t count, cublasComputeType_t compute) {
    if (count == 1)
        AT_CUBLAS_TRY(cublasGemmEx(at_cuda_blas(), ob, oa, (int)n, (int)m, (int)k, &alpha, b, tb, lb, a, ta, la, &beta,
                                   c, tc, (int)ldc, compute, CUBLAS_GEMM_DEFAULT),
                      -1);
    else
        AT_CUBLAS_TRY(cublasGemmStridedBatchedEx(at_cuda_blas(), ob, oa, (int)n, (int)m, (int)k, &alpha, b, tb, lb, sb,
                                                 a, ta, la, sa, &beta, c, tc, (int)ldc, sc, (int)count, compute,
                                                 CUBLAS_GEMM_DEFAULT),
                      -1);
    return 0;
}

} // namespace

extern "C" int at_cuda_gemm(at_dtype dtype, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                            double alpha, const void *a, int64_t lda, const void *b, int64_t ldb, double beta,
                            void *c, int64_t ldc) {
    return at_cuda_gemm_batched(dtype, trans_a, trans_b, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1);
}

extern "C" int at_cuda_gemm_batched(at_dtype dtype, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                                    double alpha, const void *a, int64_t lda, int64_t stride_a, const void *b,
                                    int64_t ldb, int64_t stride_b, double beta, void *c, int64_t ldc, int64_t stride_c,
                                    int64_t count) {
    if (m == 0 || n == 0 || count == 0) return 0;
    if (at_cuda_ready()) return -1;
    if (count > INT_MAX) {
        at_set_error("at_cuda_gemm_batched: %lld products in one call, more than cuBLAS takes", (long long)count);
        return -1;
    }
    size_t es = at_dtype_size(dtype);
    if (k == 0) { // C = beta·C, written here: cuBLAS does not promise to touch C then
        if (beta == 1) return 0;
        if (beta != 0) return at_set_error("at_cuda_gemm: k = 0 with beta %g", beta), -1;
        for (int64_t i = 0; i < count; i++)
            AT_CUDA_TRY(cudaMemset2DAsync((char *)c + (size_t)(i * stride_c) * es, (size_t)ldc * es, 0, (size_t)n * es,
                                          (size_t)m, at_cuda_stream()),
                        -1);
        return 0;
    }
    cublasOperation_t ob = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, oa = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    int lb = (int)(ldb > 0 ? ldb : 1), la = (int)(lda > 0 ? lda : 1); // cuBLAS wants at least 1
    if (dtype == AT_F64) {
        if (count == 1)
            AT_CUBLAS_TRY(cublasDgemm(at_cuda_blas(), ob, oa, (int)n, (int)m, (int)k, &alpha, (const double *)b, lb,
                                      (const double *)a, la, &beta, (double *)c, (int)ldc),
                          -1);
        else
            AT_CUBLAS_TRY(cublasDgemmStridedBatched(at_cuda_blas(), ob, oa, (int)n, (int)m, (int)k, &alpha,
                                                    (const double *)b, lb, stride_b, (const double *)a, la, stride_a,
                                                    &beta, (double *)c, (int)ldc, stride_c, (int)count),
                          -1);
        return 0;
    }
    at_matmul_precision p = at_get_matmul_precision();
    if (dtype != AT_F32 || p != AT_MATMUL_BF16) {
        cudaDataType_t t = dtype == AT_BF16 ? CUDA_R_16BF : dtype == AT_F16 ? CUDA_R_16F : CUDA_R_32F;
        cublasComputeType_t compute = dtype == AT_F32 && p == AT_MATMUL_TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32
                                                                              : CUBLAS_COMPUTE_32F;
        return gemm_ex(ob, oa, m, n, k, (float)alpha, b, t, lb, stride_b, a, t, la, stride_a, (float)beta, c, t, ldc,
                       stride_c, count, compute);
    }
    // bf16 copies of the operands over everything the products read (gaps
    // between rows included, so the strides carry over), f32 result.
    at_storage *a16 = NULL, *b16 = NULL;
    int64_t a_span = trans_a ? span(k, m, la) : span(m, k, la), b_span = trans_b ? span(n, k, lb) : span(k, n, lb);
    int rc = bf16_copy(a, (count - 1) * stride_a + a_span, &a16);
    if (rc == 0) rc = bf16_copy(b, (count - 1) * stride_b + b_span, &b16);
    if (rc == 0)
        rc = gemm_ex(ob, oa, m, n, k, (float)alpha, b16->data, CUDA_R_16BF, lb, stride_b, a16->data, CUDA_R_16BF, la,
                     stride_a, (float)beta, c, CUDA_R_32F, ldc, stride_c, count, CUBLAS_COMPUTE_32F);
    at_storage_release(a16);
    at_storage_release(b16);
    return rc;
}
