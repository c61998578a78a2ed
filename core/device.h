/* Devices other than the CPU, behind one interface.
 *
 * The library never calls a backend directly: a backend (today only CUDA, in
 * core/cuda/) fills an at_backend with its services and registers it, and
 * each op's kernels into the op's slot (core/ops/kernels.h), when the program
 * or the Lua module calls at_backends_init. Without a registered backend no
 * tensor can reach that device: at_to_device and the allocators fail first,
 * with an error saying why. */
#ifndef AAPMT_DEVICE_H
#define AAPMT_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cache_alloc.h"
#include "optim_math.h"
#include "tensor.h"

/* How f32 matmuls (linear, matmul and their backward) use a GPU's tensor
 * cores: F32 (the default: exact to the CPU within rounding), TF32, or BF16,
 * where both operands are rounded to bf16 and products accumulate in f32 into
 * an f32 result, as under torch.autocast: weights, activations and optimizer
 * state stay f32. The CPU always computes in f32. */
typedef enum { AT_MATMUL_F32, AT_MATMUL_TF32, AT_MATMUL_BF16 } at_matmul_precision;

/* A backend's services. Each int function returns 0, or -1 with
 * at_last_error() set. Tensors given are on the backend's device. */
typedef struct at_backend {
    int (*device_count)(void);             /* usable devices; 0 when none */
    const char *(*describe)(void);         /* one line: runtime, devices, or why none */
    at_storage *(*storage_new)(size_t nbytes); /* uninitialised; NULL with an error */
    /* nbytes between host and device memory, either way or device to device. */
    int (*memcpy)(void *dst, at_device dst_device, const void *src, at_device src_device, size_t nbytes);
    int (*copy)(at_tensor *dst, const at_tensor *src); /* any strides, converting dtypes */
    int (*fill)(at_tensor *t, double value);
    int (*synchronize)(void);              /* waits for queued work, reports its errors */
    at_cache_stats (*memory_stats)(void);
    size_t (*empty_cache)(void);           /* bytes given back to the driver */
    /* *out (one double in device memory) = the sum of squares of n values,
     * in double, in a fixed order (clip_grad_norm). */
    int (*sum_squares)(double *out, const void *x, at_dtype dtype, int64_t n);
    /* One optimizer step over n contiguous values, element by element as the
     * CPU does it (optim_math.h); vmax and buf may be NULL. */
    int (*adam)(at_dtype dtype, void *p, const void *g, void *m, void *v, void *vmax, int64_t n,
                const at_update_scalars *s, bool decoupled);
    int (*sgd)(at_dtype dtype, void *p, const void *g, void *buf, int64_t n, const at_update_scalars *s,
               bool nesterov);
} at_backend;

/* Registers every backend this build has (core/cuda/register.c); idempotent.
 * The program, the Lua module and tests call it once at start-up: aapmt_core
 * is a static library, so self-registering objects would be dropped. */
void at_backends_init(void);
void at_backend_register(at_device device, const at_backend *backend);
/* The backend of a non-CPU device, or NULL with an error "WHAT: ..." saying
 * that the backend is not built or not initialised. */
const at_backend *at_backend_of(at_device device, const char *what);

/* Device information and settings; for AT_CPU: 1 device, nothing cached. */
int at_device_count(at_device device);
const char *at_device_describe(at_device device);
int at_device_synchronize(at_device device);
at_cache_stats at_device_memory_stats(at_device device);
size_t at_device_empty_cache(at_device device);
/* Copies nbytes between any two of host and device memory. */
int at_device_memcpy(void *dst, at_device dst_device, const void *src, at_device src_device, size_t nbytes);

void at_set_matmul_precision(at_matmul_precision p);
at_matmul_precision at_get_matmul_precision(void);
/* "f32", "tf32", "bf16"; -1 for anything else. */
int at_matmul_precision_from_name(const char *name);

#endif
