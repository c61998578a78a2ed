/* Tensors: typed, strided views over refcounted storage.
 *
 * A tensor never owns its bytes: it points into an at_storage, which may be
 * heap memory or a borrowed region such as an mmap'd checkpoint. Views
 * (narrow, transpose, expand, ...) share storage and only change shape,
 * stride and offset. Strides and offsets are counted in elements.
 *
 * Errors: functions that can fail return NULL (or -1) and leave a message,
 * naming the operation and the shapes or dtypes involved, in at_last_error().
 */
#ifndef AAPMT_TENSOR_H
#define AAPMT_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "error.h"

#define AT_MAX_DIMS 8

typedef enum { AT_F32, AT_F64, AT_F16, AT_BF16, AT_I32, AT_I64, AT_U8, AT_NDTYPES } at_dtype;
typedef enum { AT_CPU, AT_CUDA } at_device;

typedef struct at_storage at_storage;
struct at_storage {
    int refcount;
    at_device device;
    void *data;
    size_t nbytes;
    /* Called when the last reference goes; NULL means free(data). Borrowed
     * regions (mmap) put their own release here and keep context in owner. */
    void (*release)(at_storage *s);
    void *owner;
    /* The stamp of the last write into this storage after it was made (0:
     * none), from one process-wide clock, so a later write always carries a
     * larger stamp than any earlier one anywhere: see at_storage_touch. */
    uint64_t version;
};

typedef struct at_node at_node;

typedef struct at_tensor {
    int refcount;
    at_dtype dtype;
    int ndim;
    int64_t shape[AT_MAX_DIMS];
    int64_t stride[AT_MAX_DIMS];
    int64_t offset;
    at_storage *storage;
    bool requires_grad;
    struct at_tensor *grad; /* accumulated gradient of a leaf; NULL until backward */
    at_node *grad_fn;       /* the op that made this tensor; NULL for leaves */
} at_tensor;

/* Formats a shape as "[2, 3, 4]" into buf (at least 128 bytes); returns buf. */
char *at_shape_str(const at_tensor *t, char *buf, size_t size);

/* ---- dtypes ---- */
size_t at_dtype_size(at_dtype d);
const char *at_dtype_name(at_dtype d);        /* "f32", "f64", ... */
int at_dtype_from_name(const char *name);     /* -1 if unknown */
bool at_dtype_is_float(at_dtype d);           /* f32, f64, f16, bf16 */
uint16_t at_f32_to_f16(float f);
float at_f16_to_f32(uint16_t h);
uint16_t at_f32_to_bf16(float f);             /* round to nearest even */
float at_bf16_to_f32(uint16_t h);

/* ---- storage ---- */
at_storage *at_storage_new(size_t nbytes);    /* zero-filled, 64-byte aligned */
at_storage *at_storage_new_uninit(size_t nbytes);
at_storage *at_storage_borrow(void *data, size_t nbytes, void (*release)(at_storage *), void *owner);
void at_storage_retain(at_storage *s);
void at_storage_release(at_storage *s);
/* A process policy for programs built on the engine (the aapmt program and
 * the benchmarks call it first thing): a training step frees and allocates
 * the same activations every step, and glibc would return blocks over its
 * mmap threshold to the kernel and fault them in again next time. This
 * keeps blocks up to 32 MiB (the largest threshold glibc takes) in the heap,
 * and up to 1 GiB of free heap rather than trimming it, so their pages are
 * reused (a small-config training step a third faster, on top of the huge
 * pages; a GELU over 197×4096 floats 1.7x as fast). The cost is memory the
 * process keeps for reuse. Not glibc: nothing. */
void at_keep_freed_memory(void);
/* Bytes of storage currently allocated by at_storage_new (not borrowed). */
size_t at_storage_live_bytes(void);
/* Marks s written: gives it a new stamp from the clock and returns it. The
 * engine's writes into existing storage call it (at_copy_, at_fill_, at_set,
 * the optimizers' steps); so must any other code that writes through
 * at_data into a tensor it did not just create. Writes into a fresh op
 * output need not: nothing can have seen it yet. What it is for: a model's
 * weight version (ir_model_weight_version), which caches of its outputs
 * are keyed by. */
uint64_t at_storage_touch(at_storage *s);
uint64_t at_storage_version(const at_storage *s);

/* ---- lifetime ---- */
void at_retain(at_tensor *t);
void at_release(at_tensor *t);                /* NULL is fine */

/* ---- construction ---- */
at_tensor *at_empty(at_dtype dtype, int ndim, const int64_t *shape);   /* zero-filled */
at_tensor *at_zeros(at_dtype dtype, int ndim, const int64_t *shape);
/* Uninitialised contents: for op outputs that write every element. */
at_tensor *at_empty_uninit(at_dtype dtype, int ndim, const int64_t *shape);
at_tensor *at_full(at_dtype dtype, int ndim, const int64_t *shape, double value);
at_tensor *at_from_data(at_dtype dtype, int ndim, const int64_t *shape, const void *data);
at_tensor *at_scalar(at_dtype dtype, double value);                      /* 0-dim */
/* A view of existing storage (retained); checks that every element is inside it. */
at_tensor *at_from_storage(at_storage *s, at_dtype dtype, int ndim, const int64_t *shape,
                           const int64_t *stride, int64_t offset);
/* A new header on the same storage, without autograd history. */
at_tensor *at_detach(const at_tensor *t);
/* A contiguous copy with no history on t's device (always copies). */
at_tensor *at_clone_data(const at_tensor *t);

/* ---- devices ---- */
const char *at_device_name(at_device d);      /* "cpu", "cuda" */
int at_device_from_name(const char *name);    /* -1 if unknown */
static inline bool at_on_cuda(const at_tensor *t) { return t->storage && t->storage->device == AT_CUDA; }
static inline at_device at_device_of(const at_tensor *t) { return t->storage ? t->storage->device : AT_CPU; }
/* New tensors on a device: zero-filled, or uninitialised for op outputs. */
at_tensor *at_empty_on(at_device device, at_dtype dtype, int ndim, const int64_t *shape);
at_tensor *at_empty_uninit_on(at_device device, at_dtype dtype, int ndim, const int64_t *shape);
at_tensor *at_full_on(at_device device, at_dtype dtype, int ndim, const int64_t *shape, double value);
/* A contiguous copy on device, without history (gradients do not flow
 * through it: move parameters and inputs before building a graph). */
at_tensor *at_to_device(const at_tensor *t, at_device device);

/* ---- inspection ---- */
int64_t at_numel(const at_tensor *t);
bool at_is_contiguous(const at_tensor *t);
bool at_same_shape(const at_tensor *a, const at_tensor *b);
/* Address of the first element (storage data + offset). */
static inline void *at_data(const at_tensor *t) {
    return (char *)t->storage->data + (size_t)t->offset * at_dtype_size(t->dtype);
}
/* Element access by multi-index (no bounds check beyond an assert-like error).
 * On a GPU tensor each access is a copy through the host: fine for a loss
 * value, far too slow for loops. */
double at_get(const at_tensor *t, const int64_t *index);
void at_set(at_tensor *t, const int64_t *index, double value);
/* Value of a one-element tensor; sets an error and returns NaN otherwise. */
double at_item(const at_tensor *t);
/* Element i in row-major logical order, and its storage index. */
int64_t at_storage_index(const at_tensor *t, int64_t linear);
double at_get_linear(const at_tensor *t, int64_t linear);

/* ---- copies and conversions (no autograd) ---- */
int at_copy_(at_tensor *dst, const at_tensor *src);   /* same shape, any dtypes and devices */
int at_fill_(at_tensor *t, double value);
/* Contiguous f64 copy, for gradient checks and printing. */
double *at_to_f64_array(const at_tensor *t);

#endif
