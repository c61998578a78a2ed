// Sums over the middle dim of (outer, r, inner), in double, in a fixed order:
// a tree inside one block for whole rows, a loop per thread for columns. No
// atomics, so repeated runs give the same bits.
#include "block.h"
#include "check.h"
#include "runtime.h"

extern "C" {
#include "kernels.h"
}

namespace {

const int THREADS = AT_BLOCK;

template <typename T> __global__ void row_sums(T *out, const T *x, int64_t outer, int64_t r) {
    for (int64_t o = blockIdx.x; o < outer; o += gridDim.x) {
        double acc = 0;
        for (int64_t j = threadIdx.x; j < r; j += THREADS) acc += x[o * r + j];
        acc = at_block_sum(acc);
        if (threadIdx.x == 0) out[o] = (T)acc;
    }
}

template <typename T> __global__ void column_sums(T *out, const T *x, int64_t outer, int64_t r, int64_t inner) {
    int64_t n = outer * inner;
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < n; t += (int64_t)gridDim.x * blockDim.x) {
        int64_t o = t / inner, i = t % inner;
        const T *p = x + o * r * inner + i;
        double acc = 0;
        for (int64_t j = 0; j < r; j++) acc += p[j * inner];
        out[t] = (T)acc;
    }
}

template <typename T> int sum_middle(T *out, const T *x, int64_t outer, int64_t r, int64_t inner) {
    cudaStream_t s = at_cuda_stream();
    if (inner == 1)
        row_sums<T><<<at_cuda_blocks(outer, 1), THREADS, 0, s>>>(out, x, outer, r);
    else
        column_sums<T><<<at_cuda_blocks(outer * inner, THREADS), THREADS, 0, s>>>(out, x, outer, r, inner);
    AT_CUDA_LAUNCHED(-1);
    return 0;
}

// Sum of squares: each block sums a fixed, strided share of the values, then
// one block sums the blocks' partials in order.
const int64_t SQUARE_PARTS = 256;

template <typename T> __global__ void square_partials(double *part, const T *x, int64_t n) {
    double acc = 0;
    for (int64_t i = blockIdx.x * (int64_t)THREADS + threadIdx.x; i < n; i += (int64_t)gridDim.x * THREADS) {
        double v = x[i];
        acc += v * v;
    }
    acc = at_block_sum(acc);
    if (threadIdx.x == 0) part[blockIdx.x] = acc;
}

__global__ void sum_partials(double *out, const double *part, int64_t parts) {
    double acc = 0;
    for (int64_t j = threadIdx.x; j < parts; j += THREADS) acc += part[j];
    acc = at_block_sum(acc);
    if (threadIdx.x == 0) *out = acc;
}

} // namespace

extern "C" int at_cuda_sum_squares(double *out, const void *x, at_dtype dtype, int64_t n) {
    cudaStream_t s = at_cuda_stream();
    if (n == 0) {
        AT_CUDA_TRY(cudaMemsetAsync(out, 0, sizeof(double), s), -1);
        return 0;
    }
    int64_t parts = (n + THREADS - 1) / THREADS;
    if (parts > SQUARE_PARTS) parts = SQUARE_PARTS;
    at_storage *scratch = at_cuda_storage_new((size_t)parts * sizeof(double)); // reused in stream order
    if (!scratch) return -1;
    double *part = (double *)scratch->data;
    if (dtype == AT_F32) square_partials<float><<<parts, THREADS, 0, s>>>(part, (const float *)x, n);
    else square_partials<double><<<parts, THREADS, 0, s>>>(part, (const double *)x, n);
    sum_partials<<<1, THREADS, 0, s>>>(out, part, parts);
    at_storage_release(scratch);
    AT_CUDA_LAUNCHED(-1);
    return 0;
}

extern "C" int at_cuda_sum_middle(void *out, const void *x, at_dtype dtype, int64_t outer, int64_t r, int64_t inner) {
    if (outer * inner == 0) return 0;
    if (r == 0) {
        AT_CUDA_TRY(cudaMemsetAsync(out, 0, (size_t)(outer * inner) * at_dtype_size(dtype), at_cuda_stream()), -1);
        return 0;
    }
    return dtype == AT_F32 ? sum_middle((float *)out, (const float *)x, outer, r, inner)
                           : sum_middle((double *)out, (const double *)x, outer, r, inner);
}
