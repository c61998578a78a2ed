// Embedding lookups and their backward. The backward adds rows in the order
// of the ids, one thread per feature, so repeated ids sum deterministically.
#include "check.h"
#include "runtime.h"

extern "C" {
#include "kernels.h"
}

namespace {

template <typename I> __device__ int64_t id_at(const void *ids, int64_t i) { return (int64_t)((const I *)ids)[i]; }

template <typename T, typename I>
__global__ void gather_rows(T *out, const T *w, const void *ids, int64_t n, int64_t dim) {
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < n * dim; t += (int64_t)gridDim.x * blockDim.x)
        out[t] = w[id_at<I>(ids, t / dim) * dim + t % dim];
}

template <typename T, typename I>
__global__ void scatter_rows(T *gw, const T *g, const void *ids, int64_t n, int64_t dim) {
    for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < dim; c += (int64_t)gridDim.x * blockDim.x)
        for (int64_t i = 0; i < n; i++) gw[id_at<I>(ids, i) * dim + c] += g[i * dim + c];
}

template <typename T>
int launch(bool backward, void *out, const void *in, const void *ids, at_dtype id_dtype, int64_t n, int64_t dim) {
    cudaStream_t s = at_cuda_stream();
    if (backward && id_dtype == AT_I32)
        scatter_rows<T, int32_t><<<at_cuda_blocks(dim, 128), 128, 0, s>>>((T *)out, (const T *)in, ids, n, dim);
    else if (backward)
        scatter_rows<T, int64_t><<<at_cuda_blocks(dim, 128), 128, 0, s>>>((T *)out, (const T *)in, ids, n, dim);
    else if (id_dtype == AT_I32)
        gather_rows<T, int32_t><<<at_cuda_blocks(n * dim, 256), 256, 0, s>>>((T *)out, (const T *)in, ids, n, dim);
    else
        gather_rows<T, int64_t><<<at_cuda_blocks(n * dim, 256), 256, 0, s>>>((T *)out, (const T *)in, ids, n, dim);
    AT_CUDA_LAUNCHED(-1);
    return 0;
}

} // namespace

extern "C" int at_cuda_embedding(void *out, const void *weight, const void *ids, at_dtype dtype, at_dtype id_dtype,
                                 int64_t n, int64_t dim) {
    if (n * dim == 0) return 0;
    return dtype == AT_F32 ? launch<float>(false, out, weight, ids, id_dtype, n, dim)
                           : launch<double>(false, out, weight, ids, id_dtype, n, dim);
}

extern "C" int at_cuda_embedding_backward(void *grad_weight, const void *g, const void *ids, at_dtype dtype,
                                          at_dtype id_dtype, int64_t n, int64_t dim) {
    if (n * dim == 0) return 0;
    return dtype == AT_F32 ? launch<float>(true, grad_weight, g, ids, id_dtype, n, dim)
                           : launch<double>(true, grad_weight, g, ids, id_dtype, n, dim);
}
