// Elementwise kernels with broadcasting over any strides, and dropout. The
// math matches core/ops/pointwise.c; f32 uses CUDA's erff/expf, which agree
// with the CPU's vectorised versions to a few ulp.
#include "check.h"
#include "layout.h"
#include "runtime.h"

extern "C" {
#include "kernels.h"
#include "../philox.h"
}

namespace {

const double INV_SQRT2 = 0.70710678118654752440, INV_SQRT2PI = 0.39894228040143267794;

template <typename T> __device__ T phi(T x) { return (T)0.5 * ((T)1 + erf(x * (T)INV_SQRT2)); }

template <typename T> __device__ T apply(at_pointwise_op op, T x, T y, T s) {
    switch (op) {
    case AT_PW_ADD: return x + y;
    case AT_PW_SUB: return x - y;
    case AT_PW_MUL: return x * y;
    case AT_PW_DIV: return x / y;
    case AT_PW_SCALE: return x * s;
    case AT_PW_ADD_SCALAR: return x + s;
    case AT_PW_NEG: return -x;
    case AT_PW_EXP: return exp(x);
    case AT_PW_LOG: return log(x);
    case AT_PW_SQRT: return sqrt(x);
    case AT_PW_RELU: return x < 0 ? (T)0 : x; // NaN passes through, as on the CPU
    case AT_PW_GELU: return x * phi(x);
    case AT_PW_RELU_GRAD: return y > 0 ? x : (T)0;
    case AT_PW_SQRT_GRAD: return x * (T)0.5 / y;
    case AT_PW_GELU_GRAD: return x * (phi(y) + y * (T)INV_SQRT2PI * exp((T)-0.5 * y * y));
    case AT_PW_ABS: return x < 0 ? -x : x;
    case AT_PW_POW: return pow(x, s);
    case AT_PW_SIGMOID: return (T)1 / ((T)1 + exp(-x));
    case AT_PW_TANH: return tanh(x);
    case AT_PW_CLAMP_MIN: return x < s ? s : x; // NaN passes through, as on the CPU
    case AT_PW_CLAMP_MAX: return x > s ? s : x;
    case AT_PW_ABS_GRAD: return y > 0 ? x : y < 0 ? -x : (T)0;
    case AT_PW_SIGMOID_GRAD: return x * y * ((T)1 - y);
    case AT_PW_TANH_GRAD: return x * ((T)1 - y * y);
    case AT_PW_CLAMP_MIN_GRAD: return y >= s ? x : (T)0;
    case AT_PW_CLAMP_MAX_GRAD: return y <= s ? x : (T)0;
    }
    return x;
}

// The op is a kernel argument rather than a template parameter: one switch
// per element costs nothing next to the memory traffic.
template <typename T>
__global__ void pointwise_kernel(at_pointwise_op op, T *out, const T *a, const T *b, T s, at_cuda_layout L,
                                 int64_t n, bool flat) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        if (flat) {
            out[i] = apply(op, a[i], b ? b[i] : (T)0, s);
        } else {
            int64_t off[2];
            at_layout_offsets(L, i, 2, off);
            out[i] = apply(op, a[off[0]], b ? b[off[1]] : (T)0, s);
        }
    }
}

template <typename T>
__global__ void dropout_kernel(T *out, const T *a, at_cuda_layout L, int64_t n, double p, T keep, uint64_t seed,
                               uint64_t counter) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t off[1];
        at_layout_offsets(L, i, 1, off);
        out[i] = at_philox_uniform(seed, counter + (uint64_t)i) < p ? (T)0 : a[off[0]] * keep;
    }
}

bool dense_like(const at_tensor *t, const at_tensor *out) { return at_is_contiguous(t) && at_same_shape(t, out); }

template <typename T> int launch_pointwise(at_pointwise_op op, at_tensor *out, const at_tensor *a, const at_tensor *b, double s) {
    int64_t n = at_numel(out);
    at_cuda_layout L = at_layout_of(out);
    at_layout_set(&L, 0, a);
    if (b) at_layout_set(&L, 1, b);
    bool flat = dense_like(a, out) && (!b || dense_like(b, out));
    pointwise_kernel<T><<<at_cuda_blocks(n, 256), 256, 0, at_cuda_stream()>>>(
        op, (T *)at_data(out), (const T *)at_data(a), b ? (const T *)at_data(b) : NULL, (T)s, L, n, flat);
    AT_CUDA_LAUNCHED(-1);
    return 0;
}

} // namespace

extern "C" int at_cuda_pointwise(at_pointwise_op op, at_tensor *out, const at_tensor *a, const at_tensor *b, double s) {
    if (at_numel(out) == 0) return 0;
    return out->dtype == AT_F32 ? launch_pointwise<float>(op, out, a, b, s) : launch_pointwise<double>(op, out, a, b, s);
}

extern "C" int at_cuda_dropout(at_tensor *out, const at_tensor *a, double p, uint64_t seed, uint64_t counter) {
    int64_t n = at_numel(out);
    if (n == 0) return 0;
    at_cuda_layout L = at_layout_of(out);
    at_layout_set(&L, 0, a);
    unsigned blocks = at_cuda_blocks(n, 256);
    double keep = 1.0 / (1.0 - p);
    if (out->dtype == AT_F32)
        dropout_kernel<float><<<blocks, 256, 0, at_cuda_stream()>>>((float *)at_data(out), (const float *)at_data(a),
                                                                     L, n, p, (float)keep, seed, counter);
    else
        dropout_kernel<double><<<blocks, 256, 0, at_cuda_stream()>>>((double *)at_data(out), (const double *)at_data(a),
                                                                      L, n, p, keep, seed, counter);
    AT_CUDA_LAUNCHED(-1);
    return 0;
}
