// What the kernels need from the runtime (runtime.cu); not a public header.
#ifndef AAPMT_CUDA_RUNTIME_H
#define AAPMT_CUDA_RUNTIME_H

#include <cublas_v2.h>
#include <cuda_runtime.h>

// 0 once a GPU, the stream and the cuBLAS handle are set up; -1 with an error.
int at_cuda_ready(void);
cudaStream_t at_cuda_stream(void);
cublasHandle_t at_cuda_blas(void);

// Threads per block and blocks for n elements, one element per thread.
static inline unsigned at_cuda_blocks(long long n, unsigned threads) {
    long long b = (n + threads - 1) / threads;
    return (unsigned)(b < 1 ? 1 : b > 2147483647LL ? 2147483647LL : b);
}

#endif
