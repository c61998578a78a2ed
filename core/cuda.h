/* The CUDA backend's runtime: devices, device memory, copies, settings.
 *
 * Built when nvcc was found (the AAPMT_HAVE_CUDA define); without it every
 * function here reports that CUDA is not built. Tensors reach the GPU with
 * at_to_device (tensor.h); ops on CUDA tensors run there (the kernels in core/cuda/).
 *
 * All work goes to one stream per process, so ops run in the order they are
 * called and memory freed by the host can be reused at once. Errors from CUDA
 * and cuBLAS name the call, the source file and line. */
#ifndef AAPMT_CUDA_H
#define AAPMT_CUDA_H

#include <stdbool.h>
#include <stddef.h>
#include "cache_alloc.h"
#include "tensor.h"

/* Number of usable GPUs; 0 when none (or when CUDA is not built). */
int at_cuda_device_count(void);
/* One line: the runtime version and devices, or why none can be used. */
const char *at_cuda_describe(void);
/* Storage of nbytes on the GPU from the caching allocator, uninitialised;
 * NULL with an error when no GPU can be used or memory is exhausted. */
at_storage *at_cuda_storage_new(size_t nbytes);
/* Copies nbytes between any two of host and device memory. Host memory goes
 * through pinned staging buffers, so copies run at full bus speed. */
int at_cuda_memcpy(void *dst, at_device dst_device, const void *src, at_device src_device, size_t nbytes);
/* Waits for every queued op; reports an error raised by any of them. */
int at_cuda_synchronize(void);
/* What the caching allocator holds; at_cuda_empty_cache gives cached blocks
 * back to the driver and returns the bytes freed. */
at_cache_stats at_cuda_memory_stats(void);
size_t at_cuda_empty_cache(void);
/* How f32 matmuls (linear, matmul and their backward) use the tensor cores:
 * F32 (the default: exact to the CPU within rounding), TF32, or BF16, where
 * both operands are rounded to bf16 and products accumulate in f32 into an
 * f32 result, as under torch.autocast: weights, activations and optimizer
 * state stay f32. */
typedef enum { AT_MATMUL_F32, AT_MATMUL_TF32, AT_MATMUL_BF16 } at_matmul_precision;
void at_cuda_set_matmul_precision(at_matmul_precision p);
at_matmul_precision at_cuda_matmul_precision(void);
/* "f32", "tf32", "bf16"; -1 for anything else. */
int at_matmul_precision_from_name(const char *name);

#endif
