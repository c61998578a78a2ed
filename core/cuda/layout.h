// Index arithmetic shared by the elementwise kernels: a logical shape and,
// for up to three tensors, their element strides (0 where broadcast).
#ifndef AAPMT_CUDA_LAYOUT_H
#define AAPMT_CUDA_LAYOUT_H

#include <stdint.h>

extern "C" {
#include "../tensor.h"
}

struct at_cuda_layout {
    int nd;
    int64_t shape[AT_MAX_DIMS];
    int64_t stride[3][AT_MAX_DIMS];
    int64_t offset[3];
};

// Strides of t read as shape (nd, shape), aligned right, 0 where broadcast.
static inline void at_layout_set(at_cuda_layout *L, int which, const at_tensor *t) {
    for (int d = 0; d < L->nd; d++) {
        int i = d - (L->nd - t->ndim);
        L->stride[which][d] = i < 0 || t->shape[i] == 1 ? 0 : t->stride[i];
    }
    L->offset[which] = 0; // the kernels get at_data(t), which includes the offset
}

static inline at_cuda_layout at_layout_of(const at_tensor *out) {
    at_cuda_layout L;
    L.nd = out->ndim;
    for (int d = 0; d < out->ndim; d++) L.shape[d] = out->shape[d];
    for (int w = 0; w < 3; w++) {
        L.offset[w] = 0;
        for (int d = 0; d < AT_MAX_DIMS; d++) L.stride[w][d] = 0;
    }
    return L;
}

// Element offsets of the logical element i in each of the first `count` tensors.
__device__ static inline void at_layout_offsets(const at_cuda_layout &L, int64_t i, int count, int64_t *off) {
    for (int w = 0; w < count; w++) off[w] = 0;
    for (int d = L.nd - 1; d >= 0; d--) {
        int64_t idx = i % L.shape[d];
        i /= L.shape[d];
        for (int w = 0; w < count; w++) off[w] += idx * L.stride[w][d];
    }
}

#endif
