// The optimizer step on the GPU: one thread per value, each running the
// element update the CPU runs (core/optim_math.h), so a GPU step gives
// the CPU's bits wherever the device's f32/f64 arithmetic is IEEE (nvcc's
// defaults: correctly rounded division and square root).
#include "check.h"
#include "runtime.h"

extern "C" {
#include "kernels.h"
}

namespace {

template <typename T> __device__ void adam_element(T *p, const T *g, T *m, T *v, T *vmax, int64_t i, const at_update_scalars *s, bool d);
template <> __device__ void adam_element<float>(float *p, const float *g, float *m, float *v, float *vmax, int64_t i,
                                                const at_update_scalars *s, bool d) {
    at_adam_element_float(p, g, m, v, vmax, i, s, d);
}
template <> __device__ void adam_element<double>(double *p, const double *g, double *m, double *v, double *vmax,
                                                 int64_t i, const at_update_scalars *s, bool d) {
    at_adam_element_double(p, g, m, v, vmax, i, s, d);
}

template <typename T> __device__ void sgd_element(T *p, const T *g, T *buf, int64_t i, const at_update_scalars *s, bool nesterov);
template <> __device__ void sgd_element<float>(float *p, const float *g, float *buf, int64_t i, const at_update_scalars *s,
                                               bool nesterov) {
    at_sgd_element_float(p, g, buf, i, s, nesterov);
}
template <> __device__ void sgd_element<double>(double *p, const double *g, double *buf, int64_t i,
                                                const at_update_scalars *s, bool nesterov) {
    at_sgd_element_double(p, g, buf, i, s, nesterov);
}

template <typename T>
__global__ void adam_kernel(T *p, const T *g, T *m, T *v, T *vmax, int64_t n, at_update_scalars s, bool decoupled) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        adam_element<T>(p, g, m, v, vmax, i, &s, decoupled);
}

template <typename T>
__global__ void sgd_kernel(T *p, const T *g, T *buf, int64_t n, at_update_scalars s, bool nesterov) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        sgd_element<T>(p, g, buf, i, &s, nesterov);
}

} // namespace

extern "C" int at_cuda_adam(at_dtype dtype, void *p, const void *g, void *m, void *v, void *vmax, int64_t n,
                            const at_update_scalars *s, bool decoupled) {
    if (n == 0) return 0;
    unsigned blocks = at_cuda_blocks(n, 256);
    if (dtype == AT_F32)
        adam_kernel<float><<<blocks, 256, 0, at_cuda_stream()>>>((float *)p, (const float *)g, (float *)m, (float *)v,
                                                                  (float *)vmax, n, *s, decoupled);
    else
        adam_kernel<double><<<blocks, 256, 0, at_cuda_stream()>>>((double *)p, (const double *)g, (double *)m,
                                                                   (double *)v, (double *)vmax, n, *s, decoupled);
    AT_CUDA_LAUNCHED(-1);
    return 0;
}

extern "C" int at_cuda_sgd(at_dtype dtype, void *p, const void *g, void *buf, int64_t n, const at_update_scalars *s,
                           bool nesterov) {
    if (n == 0) return 0;
    unsigned blocks = at_cuda_blocks(n, 256);
    if (dtype == AT_F32)
        sgd_kernel<float><<<blocks, 256, 0, at_cuda_stream()>>>((float *)p, (const float *)g, (float *)buf, n, *s,
                                                                 nesterov);
    else
        sgd_kernel<double><<<blocks, 256, 0, at_cuda_stream()>>>((double *)p, (const double *)g, (double *)buf, n, *s,
                                                                  nesterov);
    AT_CUDA_LAUNCHED(-1);
    return 0;
}
