/* Registers the CUDA backend: its services into core/device.h's registry and
 * its kernels into the slot of every op that has one (core/ops/op_list.h).
 * Compiled in every build; without nvcc (no AAPMT_HAVE_CUDA) it registers
 * nothing, so every move to the GPU says the backend is not built. */
#include "../device.h"
#include "../ops/kernels.h"

#ifdef AAPMT_HAVE_CUDA
#include <stdio.h>
#include <stdlib.h>
#include "kernels.h"

static const at_backend cuda_backend = {
    .device_count = at_cuda_device_count,
    .describe = at_cuda_describe,
    .storage_new = at_cuda_storage_new,
    .memcpy = at_cuda_memcpy,
    .copy = at_cuda_copy,
    .fill = at_cuda_fill,
    .synchronize = at_cuda_synchronize,
    .memory_stats = at_cuda_memory_stats,
    .empty_cache = at_cuda_empty_cache,
    .sum_squares = at_cuda_sum_squares,
    .adam = at_cuda_adam,
    .sgd = at_cuda_sgd,
};

static const at_kernels cuda_kernels = {
    .pointwise = at_cuda_pointwise,
    .dropout = at_cuda_dropout,
    .sum_middle = at_cuda_sum_middle,
    .gemm = at_cuda_gemm,
    .gemm_batched = at_cuda_gemm_batched,
    .layernorm = at_cuda_layernorm,
    .layernorm_backward = at_cuda_layernorm_backward,
    .softmax = at_cuda_softmax,
    .softmax_backward = at_cuda_softmax_backward,
    .attention = at_cuda_attention,
    .attention_backward = at_cuda_attention_backward,
    .embedding = at_cuda_embedding,
    .embedding_backward = at_cuda_embedding_backward,
};

/* The ops with CUDA kernels: every op outside AT_OP_GENERIC_LIST. */
static const char *const cuda_ops[] = {
    "add", "sub", "mul", "div", "scale", "add_scalar", "neg", "exp", "log", "sqrt", "relu", "gelu", "dropout",
    "abs", "pow", "sigmoid", "tanh", "clamp",
    "sum", "sum_all", "matmul", "linear", "layernorm", "softmax", "attention", "embedding",
};

void at_backends_init(void) {
    at_backend_register(AT_CUDA, &cuda_backend);
    for (size_t i = 0; i < sizeof cuda_ops / sizeof cuda_ops[0]; i++)
        if (at_op_set_kernels(cuda_ops[i], AT_CUDA, &cuda_kernels)) { /* a name out of step with op_list.h */
            fprintf(stderr, "aapmt: internal error: %s\n", at_last_error());
            abort();
        }
}
#else
void at_backends_init(void) {}
#endif
