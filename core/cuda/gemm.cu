// GEMM through cuBLAS. cuBLAS is column-major: a row-major C = A·B is the
// column-major Cᵀ = Bᵀ·Aᵀ, so the operands swap and keep their layouts.
// f32 runs in full f32 unless TF32 is switched on; bf16 accumulates in f32.
#include "check.h"
#include "runtime.h"

extern "C" {
#include "kernels.h"
}

extern "C" int at_cuda_gemm(at_dtype dtype, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                            double alpha, const void *a, int64_t lda, const void *b, int64_t ldb, double beta,
                            void *c, int64_t ldc) {
    if (m == 0 || n == 0) return 0;
    if (at_cuda_ready()) return -1;
    cublasHandle_t h = at_cuda_blas();
    cublasOperation_t ob = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, oa = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    // cuBLAS wants leading dims of at least the stored rows even for k == 0.
    int lb = (int)(ldb > 0 ? ldb : 1), la = (int)(lda > 0 ? lda : 1);
    if (dtype == AT_F64) {
        AT_CUBLAS_TRY(cublasDgemm(h, ob, oa, (int)n, (int)m, (int)k, &alpha, (const double *)b, lb, (const double *)a,
                                  la, &beta, (double *)c, (int)ldc),
                      -1);
        return 0;
    }
    float fa = (float)alpha, fb = (float)beta;
    cudaDataType_t t = dtype == AT_BF16 ? CUDA_R_16BF : dtype == AT_F16 ? CUDA_R_16F : CUDA_R_32F;
    cublasComputeType_t compute =
        dtype == AT_F32 && at_cuda_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    AT_CUBLAS_TRY(cublasGemmEx(h, ob, oa, (int)n, (int)m, (int)k, &fa, b, t, lb, a, t, la, &fb, c, t, (int)ldc,
                               compute, CUBLAS_GEMM_DEFAULT),
                  -1);
    return 0;
}
