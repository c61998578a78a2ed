// Strided copies with dtype conversion, and fills: what contiguous(),
// copy_(), to_dtype and the views' backward need on the GPU.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "check.h"
#include "layout.h"
#include "runtime.h"

extern "C" {
#include "kernels.h"
}

namespace {

// Every dtype goes through double, exact for all but i64 beyond 2^53, which
// the CPU's at_copy_ also rounds that way.
__device__ double load(const void *p, at_dtype d, int64_t i) {
    switch (d) {
    case AT_F32: return ((const float *)p)[i];
    case AT_F64: return ((const double *)p)[i];
    case AT_F16: return __half2float(((const __half *)p)[i]);
    case AT_BF16: return __bfloat162float(((const __nv_bfloat16 *)p)[i]);
    case AT_I32: return ((const int32_t *)p)[i];
    case AT_I64: return (double)((const int64_t *)p)[i];
    case AT_U8: return ((const uint8_t *)p)[i];
    default: return 0;
    }
}

// Saturating float-to-integer conversion, as core/tensor.c's: NaN gives 0,
// values truncate toward zero and stop at the limits (C leaves the rest
// undefined). 2^63 is the first double past INT64_MAX.
__device__ int64_t saturate(double v, double lo, double hi) {
    if (v != v) return 0;
    if (v <= lo) return (int64_t)lo;
    if (v >= hi) return v >= 9223372036854775808.0 ? INT64_MAX : (int64_t)hi;
    return (int64_t)v;
}

__device__ void store(void *p, at_dtype d, int64_t i, double v) {
    switch (d) {
    case AT_F32: ((float *)p)[i] = (float)v; break;
    case AT_F64: ((double *)p)[i] = v; break;
    case AT_F16: ((__half *)p)[i] = __float2half_rn((float)v); break;
    case AT_BF16: ((__nv_bfloat16 *)p)[i] = __float2bfloat16_rn((float)v); break;
    case AT_I32: ((int32_t *)p)[i] = (int32_t)saturate(v, INT32_MIN, INT32_MAX); break;
    case AT_I64: ((int64_t *)p)[i] = saturate(v, -9223372036854775808.0, 9223372036854775808.0); break;
    case AT_U8: ((uint8_t *)p)[i] = (uint8_t)saturate(v, 0, 255); break;
    default: break;
    }
}

// Same dtype: move the bytes by element size, no conversion.
template <typename W>
__global__ void move_kernel(W *dst, const W *src, at_cuda_layout L, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t off[2];
        at_layout_offsets(L, i, 2, off);
        dst[off[0]] = src[off[1]];
    }
}

__global__ void convert_kernel(void *dst, at_dtype dd, const void *src, at_dtype sd, at_cuda_layout L, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t off[2];
        at_layout_offsets(L, i, 2, off);
        store(dst, dd, off[0], load(src, sd, off[1]));
    }
}

__global__ void fill_kernel(void *dst, at_dtype d, at_cuda_layout L, int64_t n, double v) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t off[1];
        at_layout_offsets(L, i, 1, off);
        store(dst, d, off[0], v);
    }
}

} // namespace

extern "C" int at_cuda_copy(at_tensor *dst, const at_tensor *src) {
    int64_t n = at_numel(dst);
    if (n == 0) return 0;
    cudaStream_t s = at_cuda_stream();
    size_t es = at_dtype_size(src->dtype);
    if (dst->dtype == src->dtype && at_is_contiguous(dst) && at_is_contiguous(src)) {
        AT_CUDA_TRY(cudaMemcpyAsync(at_data(dst), at_data(src), (size_t)n * es, cudaMemcpyDeviceToDevice, s), -1);
        return 0;
    }
    at_cuda_layout L = at_layout_of(dst);
    at_layout_set(&L, 0, dst);
    at_layout_set(&L, 1, src);
    unsigned blocks = at_cuda_blocks(n, 256);
    if (dst->dtype != src->dtype)
        convert_kernel<<<blocks, 256, 0, s>>>(at_data(dst), dst->dtype, at_data(src), src->dtype, L, n);
    else if (es == 1)
        move_kernel<uint8_t><<<blocks, 256, 0, s>>>((uint8_t *)at_data(dst), (const uint8_t *)at_data(src), L, n);
    else if (es == 2)
        move_kernel<uint16_t><<<blocks, 256, 0, s>>>((uint16_t *)at_data(dst), (const uint16_t *)at_data(src), L, n);
    else if (es == 4)
        move_kernel<uint32_t><<<blocks, 256, 0, s>>>((uint32_t *)at_data(dst), (const uint32_t *)at_data(src), L, n);
    else
        move_kernel<uint64_t><<<blocks, 256, 0, s>>>((uint64_t *)at_data(dst), (const uint64_t *)at_data(src), L, n);
    AT_CUDA_LAUNCHED(-1);
    return 0;
}

extern "C" int at_cuda_fill(at_tensor *t, double value) {
    int64_t n = at_numel(t);
    if (n == 0) return 0;
    if (value == 0 && at_is_contiguous(t)) {
        AT_CUDA_TRY(cudaMemsetAsync(at_data(t), 0, (size_t)n * at_dtype_size(t->dtype), at_cuda_stream()), -1);
        return 0;
    }
    at_cuda_layout L = at_layout_of(t);
    at_layout_set(&L, 0, t);
    fill_kernel<<<at_cuda_blocks(n, 256), 256, 0, at_cuda_stream()>>>(at_data(t), t->dtype, L, n, value);
    AT_CUDA_LAUNCHED(-1);
    return 0;
}
